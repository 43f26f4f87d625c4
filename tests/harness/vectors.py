"""The protocol's test vectors (docs/protocol/vectors/): for every event that leaves its node, an
envelope as the corridor's code makes it from fixed keys, ids, times and nonce, with its canonical
bytes, its signature and, for an addressed event, its sealed form.

    .venv/bin/python -m harness.vectors          # from tests/: write the vectors
    .venv/bin/python -m harness.vectors --check  # exit 1 if the committed ones differ

Everything is deterministic (ed25519 signatures are; the sealing nonce is fixed here, where a node
draws a random one), so the committed files change only when the protocol or a sample does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nacl.public
import nkeys

from corridor_contracts import CATALOGUE, Envelope, Scope, Signer, canonical_bytes, public_key_of
from corridor_contracts.encoding import b64
from corridor_contracts.sealing import sealing_key_of, sealing_private_key
from harness.samples import SAMPLES

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "protocol" / "vectors"
OCCURRED_AT = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)


def seed_of(node: str) -> bytes:
    """A published test seed: never a real node's (it is in this file for anyone to read)."""
    return nkeys.encode_seed(hashlib.sha256(f"corridor test vector node {node}".encode()).digest(),
                             nkeys.PREFIX_BYTE_SERVER)


def nonce_of(event_type: str) -> bytes:
    return hashlib.sha256(f"corridor test vector nonce {event_type}".encode()).digest()[:24]


def keys() -> dict[str, dict[str, str]]:
    return {node: {"seed": seed_of(node).decode(), "public_key": public_key_of(seed_of(node)),
                   "sealing_key": sealing_key_of(seed_of(node)),
                   "sealing_private_key_hex": bytes(sealing_private_key(seed_of(node))).hex()}
            for node in ("fr", "es")}


def vector(cls) -> dict[str, Any]:
    event = SAMPLES[cls.TYPE]
    direct = cls.SCOPE is Scope.DIRECT
    event_id = uuid.UUID(bytes=hashlib.sha256(f"corridor test vector event {cls.TYPE}".encode()).digest()[:16], version=4)
    envelope = Envelope.wrap(event, origin="fr", target="es" if direct else None, occurred_at=OCCURRED_AT)
    envelope = envelope.model_copy(update={"event_id": event_id, "correlation_id": event_id})
    found: dict[str, Any] = {"type": cls.TYPE, "version": cls.VERSION, "scope": cls.SCOPE.value,
                             "origin": "fr", "target": "es" if direct else None}
    if direct:
        plain = json.dumps(envelope.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        box = nacl.public.Box(sealing_private_key(seed_of("fr")), nacl.public.PublicKey(
            bytes(sealing_private_key(seed_of("es")).public_key)))
        nonce = nonce_of(cls.TYPE)
        found["opened"] = envelope.to_wire()
        found["payload_plaintext"] = plain.decode()
        found["nonce_hex"] = nonce.hex()
        envelope = envelope.model_copy(update={"payload": {}, "sealed": b64(bytes(box.encrypt(plain, nonce)))})
    signed = Signer(seed_of("fr")).sign(envelope)
    found["canonical_bytes"] = canonical_bytes(signed.to_wire()).decode()
    found["signature"] = signed.signature
    found["wire"] = signed.to_wire()
    found["subject"] = (f"corridor.direct.es.fr.{cls.TYPE}" if direct else f"corridor.bcast.fr.{cls.TYPE}")
    return found


def generated() -> dict[str, str]:
    files = {"keys.json": keys()}
    for cls in CATALOGUE:
        if cls.SCOPE is not Scope.LOCAL:
            files[f"{cls.TYPE}.v{cls.VERSION}.json"] = vector(cls)
    return {name: json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            for name, content in files.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--dir", type=Path, default=VECTOR_DIR)
    args = parser.parse_args(argv)
    new = generated()
    old = {p.name: p.read_text() for p in args.dir.glob("*.json")} if args.dir.is_dir() else {}
    if args.check:
        differ = sorted(n for n in set(new) | set(old) if new.get(n) != old.get(n))
        if differ:
            print("vectors differ from the code: " + ", ".join(differ), file=sys.stderr)
            return 1
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for name in set(old) - set(new):
        (args.dir / name).unlink()
    for name, text in new.items():
        (args.dir / name).write_text(text)
    print(f"wrote {len(new)} files to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
