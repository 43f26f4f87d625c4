"""A minimal partner node, written from the protocol documents alone (docs/protocol/wire-format.md,
docs/protocol.md): nats-py and PyNaCl, no code of the corridor project.

It plays a host node on its own nats-server (a leaf of the corridor's hub, in the JetStream domain
named after the node): it creates its OUT and IN streams, publishes one opportunity, confirms the
first placement a home node requests for it, and prints the contact the home node then discloses.

    python examples/minimal_partner.py keys --seed-file be.seed
        prints the node's registry entry (public_key, sealing_key), making the seed if needed
    python examples/minimal_partner.py run --nats-url nats://127.0.0.1:4222 --node be --country BE \\
        --seed-file be.seed --peer fr:N...:X... [--timeout 180]
        exits 0 once a placement was confirmed and its contact received, 1 on timeout
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nacl.public
import nacl.signing
import nats
from nats.js.api import ExternalStream, StreamConfig, StreamSource

# --- text encodings (wire format §1) -----------------------------------------------------------


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def nkey(letter: str, key: bytes) -> str:
    body = bytes([(ord(letter) - ord("A")) << 3]) + key
    return b32(body + crc16(body).to_bytes(2, "little"))


def nkey_key(text: str, letter: str) -> bytes:
    raw = unb32(text)
    if len(raw) != 35 or raw[0] != (ord(letter) - ord("A")) << 3 or crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        raise ValueError(f"{text[:8]}… is not a valid '{letter}' key")
    return raw[1:33]


def seed_text(raw: bytes) -> str:
    seed, server = (ord("S") - ord("A")) << 3, (ord("N") - ord("A")) << 3
    body = bytes([seed | server >> 5, (server & 31) << 3]) + raw
    return b32(body + crc16(body).to_bytes(2, "little"))


def seed_raw(text: str) -> bytes:
    raw = unb32(text)
    if len(raw) != 36 or crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
        raise ValueError("not a node seed")
    return raw[2:34]


# --- keys (§2), canonical bytes (§4), signing (§5), sealing (§6) ------------------------------


class Keys:
    def __init__(self, raw: bytes) -> None:
        self.signing = nacl.signing.SigningKey(raw)
        self.sealing = nacl.public.PrivateKey(hashlib.blake2b(raw, digest_size=32, person=b"corridor-seal").digest())

    def entry(self) -> dict[str, str]:
        return {"public_key": nkey("N", bytes(self.signing.verify_key)),
                "sealing_key": nkey("X", bytes(self.sealing.public_key))}


def canonical(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(keys: Keys, envelope: dict) -> dict:
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    return {**unsigned, "signature": b64(keys.signing.sign(canonical(unsigned)).signature)}


def verify(public_key: str, envelope: dict) -> None:
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    nacl.signing.VerifyKey(nkey_key(public_key, "N")).verify(canonical(unsigned), unb64(envelope["signature"]))


def seal(keys: Keys, target_sealing_key: str, payload: dict) -> str:
    box = nacl.public.Box(keys.sealing, nacl.public.PublicKey(nkey_key(target_sealing_key, "X")))
    return b64(bytes(box.encrypt(canonical(payload), os.urandom(24))))


def open_sealed(keys: Keys, origin_sealing_key: str, sealed: str) -> dict:
    box = nacl.public.Box(keys.sealing, nacl.public.PublicKey(nkey_key(origin_sealing_key, "X")))
    return json.loads(box.decrypt(unb64(sealed)))


# --- ids and envelopes (§3; opportunity ids: docs/protocol.md) ---------------------------------


def opportunity_id(node: str) -> str:
    head = bytearray(secrets.token_bytes(8))
    head[6] = (head[6] & 0x0F) | 0x80  # UUID version 8
    tag = bytearray(hashlib.sha256(b"corridor-opportunity-id\0" + node.encode() + b"\0" + bytes(head)).digest()[:8])
    tag[0] = (tag[0] & 0x3F) | 0x80  # RFC 9562 variant
    return str(uuid.UUID(bytes=bytes(head) + bytes(tag)))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope(event_type: str, origin: str, payload: dict, *, target: str | None = None,
             answers: dict | None = None) -> dict:
    event_id = str(uuid.uuid4())
    made = {"event_id": event_id, "type": event_type, "version": 1, "origin": origin, "occurred_at": now(),
            "correlation_id": answers["correlation_id"] if answers else event_id, "payload": payload}
    if answers:
        made["causation_id"] = answers["event_id"]
    if target:
        made["target"] = target
    return made


# --- the node ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    me, keys = args.node, Keys(seed_raw(args.seed_file.read_text().strip()))
    peers = {p.split(":")[0]: {"public_key": p.split(":")[1], "sealing_key": p.split(":")[2]} for p in args.peer}
    nc = await nats.connect(args.nats_url)
    js = nc.jetstream()
    try:
        # Streams (§7): OUT holds what this node shares; IN is sourced from its own OUT and every peer's.
        common = {"max_age": 90 * 86400.0, "duplicate_window": 120.0}
        await js.add_stream(StreamConfig(name="OUT", subjects=[f"corridor.bcast.{me}.>", f"corridor.direct.*.{me}.>"],
                                         **common))
        sources = [StreamSource(name="OUT", filter_subject=f"corridor.bcast.{me}.>"),
                   StreamSource(name="OUT", filter_subject=f"corridor.direct.{me}.{me}.>")]
        for peer in peers:
            external = ExternalStream(api=f"$JS.{peer}.API", deliver=f"deliver.{me}")
            sources += [StreamSource(name="OUT", filter_subject=f"corridor.bcast.{peer}.>", external=external),
                        StreamSource(name="OUT", filter_subject=f"corridor.direct.{me}.{peer}.>", external=external)]
        await js.add_stream(StreamConfig(name="IN", sources=sources, **common))

        async def send(subject: str, made: dict) -> None:
            signed = sign(keys, made)
            await js.publish(subject, json.dumps(signed, ensure_ascii=False).encode(),
                             headers={"Nats-Msg-Id": signed["event_id"]})

        offer = opportunity_id(me)
        await send(f"corridor.bcast.{me}.OpportunityPublished", envelope("OpportunityPublished", me, {
            "opportunity_id": offer, "revision": 1, "title": "Assistant comptable",
            "description": "Bookkeeping with a neighbourhood association in Brussels (only NGOs and public bodies may host volunteers in Belgium).",
            "host": {"organisation_id": str(uuid.uuid4()), "organisation_name": "Maison de l'Entraide",
                     "kind": "ngo", "sector": "accounting", "country": args.country},
            "place": {"country": args.country, "region": "Bruxelles", "city": "Bruxelles", "remote": False},
            "required_skills": [{"code": "accounting.bookkeeping", "level": "basic", "essential": True}],
            "languages": [{"language": "fr", "level": "B1"}], "hours_per_week": 10,
            "starts_on": "2027-02-01", "slots_total": 1, "slots_free": 1, "trains_newcomers": False}))
        print(f"published opportunity {offer}", flush=True)

        inbox = await js.pull_subscribe(f"corridor.direct.{me}.*.*", durable=f"{me}-host", stream="IN")
        deadline = asyncio.get_running_loop().time() + args.timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                msgs = await inbox.fetch(10, timeout=2)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in msgs:
                received = json.loads(msg.data)
                origin = received.get("origin")
                if origin not in peers:
                    await msg.ack()
                    continue
                verify(peers[origin]["public_key"], received)  # §5: before anything else is trusted
                payload = open_sealed(keys, peers[origin]["sealing_key"], received["sealed"])  # §6
                await msg.ack()
                if received["type"] == "PlacementRequested" and payload["opportunity_id"] == offer:
                    answer = {"placement_id": payload["placement_id"], "opportunity_id": offer, "slots_free": 0}
                    made = envelope("PlacementConfirmed", me, {}, target=origin, answers=received)
                    made["sealed"] = seal(keys, peers[origin]["sealing_key"], answer)
                    await send(f"corridor.direct.{origin}.{me}.PlacementConfirmed", made)
                    print(f"confirmed placement {payload['placement_id']} for {payload['volunteer']}", flush=True)
                elif received["type"] == "ContactDisclosed":
                    contact = payload["contact"]
                    print(f"contact for placement {payload['placement_id']}: {contact.get('email')}", flush=True)
                    return 0
        print("timed out", file=sys.stderr)
        return 1
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys")
    keys.add_argument("--seed-file", type=Path, required=True)
    node = commands.add_parser("run")
    node.add_argument("--nats-url", required=True)
    node.add_argument("--node", required=True)
    node.add_argument("--country", required=True)
    node.add_argument("--seed-file", type=Path, required=True)
    node.add_argument("--peer", action="append", default=[], help="id:public_key:sealing_key (repeat)")
    node.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    if args.command == "keys":
        if not args.seed_file.exists():
            args.seed_file.write_text(seed_text(os.urandom(32)) + "\n")
            args.seed_file.chmod(0o600)
        print(json.dumps(Keys(seed_raw(args.seed_file.read_text().strip())).entry()))
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
