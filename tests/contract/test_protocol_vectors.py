"""The protocol's test vectors (docs/protocol/vectors/) are what the code makes, and they can be
checked from the protocol document alone: this test re-derives keys, canonical bytes, signatures
and sealed payloads with the standard library and PyNaCl only, as a partner writing its own node in
another language would (docs/protocol/wire-format.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import nacl.exceptions
import nacl.public
import nacl.signing
import pytest

from harness import vectors

VECTORS = sorted(p for p in vectors.VECTOR_DIR.glob("*.json") if p.name != "keys.json")
KEYS = json.loads((vectors.VECTOR_DIR / "keys.json").read_text())


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, initial value 0), as nkeys use it."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def base32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def nkey_public(key: str, letter: str) -> bytes:
    raw = base32(key)
    assert len(raw) == 35 and raw[0] == (ord(letter) - ord("A")) << 3, key
    assert int.from_bytes(raw[-2:], "little") == crc16(raw[:-2]), "bad checksum"
    return raw[1:33]


def nkey_seed(seed: str) -> bytes:
    raw = base32(seed)
    assert len(raw) == 36 and int.from_bytes(raw[-2:], "little") == crc16(raw[:-2])
    assert raw[0] >> 3 == ord("S") - ord("A") and ((raw[0] & 7) << 5 | raw[1] >> 3) == (ord("N") - ord("A")) << 3
    return raw[2:34]


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(wire: dict) -> bytes:
    unsigned = {k: v for k, v in wire.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sealing_private(seed: str) -> nacl.public.PrivateKey:
    return nacl.public.PrivateKey(hashlib.blake2b(nkey_seed(seed), digest_size=32, person=b"corridor-seal").digest())


def test_the_committed_vectors_are_what_the_code_makes():
    assert vectors.main(["--check"]) == 0, "run `cd tests && ../.venv/bin/python -m harness.vectors`"
    assert len(VECTORS) == 15  # every event type that leaves its node


@pytest.mark.parametrize("node", sorted(KEYS))
def test_keys_derive_from_the_seed(node):
    keys = KEYS[node]
    raw = nkey_seed(keys["seed"])
    assert bytes(nacl.signing.SigningKey(raw).verify_key) == nkey_public(keys["public_key"], "N")
    assert bytes(sealing_private(keys["seed"]).public_key) == nkey_public(keys["sealing_key"], "X")
    assert bytes(sealing_private(keys["seed"])).hex() == keys["sealing_private_key_hex"]


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_a_vector_checks_out_from_the_document_alone(path: Path):
    v = json.loads(path.read_text())
    wire = v["wire"]
    assert canonical(wire).decode() == v["canonical_bytes"]
    verify = nacl.signing.VerifyKey(nkey_public(KEYS[v["origin"]]["public_key"], "N"))
    verify.verify(canonical(wire), unb64(wire["signature"]))  # raises if it does not match
    assert len(unb64(wire["signature"])) == 64 and "=" not in wire["signature"]
    assert v["subject"].split(".")[-1] == wire["type"]
    if v["scope"] == "direct":
        assert wire["payload"] == {} and wire["target"] == v["target"]
        box = nacl.public.Box(sealing_private(KEYS[v["target"]]["seed"]),
                              nacl.public.PublicKey(nkey_public(KEYS[v["origin"]]["sealing_key"], "X")))
        sealed = unb64(wire["sealed"])
        assert sealed[:24].hex() == v["nonce_hex"]  # the nonce comes first
        plain = box.decrypt(sealed)
        assert plain.decode() == v["payload_plaintext"]
        assert json.loads(plain) == v["opened"]["payload"]
        assert plain == json.dumps(v["opened"]["payload"], sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode()
        sender = nacl.public.Box(sealing_private(KEYS[v["origin"]]["seed"]),
                                 nacl.public.PublicKey(nkey_public(KEYS[v["target"]]["sealing_key"], "X")))
        assert bytes(sender.encrypt(plain, bytes.fromhex(v["nonce_hex"]))) == sealed
    else:
        assert "target" not in wire and "sealed" not in wire


def test_a_changed_byte_breaks_the_signature():
    v = json.loads(VECTORS[0].read_text())
    verify = nacl.signing.VerifyKey(nkey_public(KEYS["fr"]["public_key"], "N"))
    altered = {**v["wire"], "origin": "es"}
    with pytest.raises(nacl.exceptions.BadSignatureError):
        verify.verify(canonical(altered), unb64(v["wire"]["signature"]))
