"""End-to-end sealing of addressed events: only their two nodes can read the payload.

An addressed event (`corridor.direct.<target>.<origin>.<type>`) crosses the hub and sits in the
origin's OUT stream, which the JetStream API of the origin's domain can serve to anyone the hub
lets ask. So its payload travels encrypted with libsodium's `crypto_box` (X25519 +
XSalsa20-Poly1305, PyNaCl) between the origin's and the target's sealing keys, which the registry
lists next to their signing keys. Both ends derive the same shared key, so the target opens what it
receives and the origin can still read what it sent (its own services follow its OUT); the hub, a
third node or anyone reading the origin's stream sees metadata and ciphertext only. The origin
signs the sealed envelope, so a receiver checks who sent it before opening it.

A node has one secret, its nkey seed. Its sealing key pair is derived from it (BLAKE2b with a
personalisation of its own), so signing and sealing use distinct keys while the node keeps a
single secret file. The public sealing key is written like an nkey curve key: 'X...'.
"""

from __future__ import annotations

import binascii
import hashlib
import json

import nacl.exceptions
import nacl.public
import nkeys

from .encoding import b64, nkey_decode, nkey_encode, unb64
from .envelope import Envelope

PREFIX_BYTE_CURVE = 23 << 3  # 'X', as nkeys curve (xkey) public keys


class SealingError(ValueError):
    """An addressed event cannot be sealed or opened: wrong key, tampered or not sealed."""


def _decode_public(key: str) -> nacl.public.PublicKey:
    try:
        return nacl.public.PublicKey(nkey_decode(key, PREFIX_BYTE_CURVE, "a curve key ('X...')"))
    except ValueError as error:
        raise SealingError(f"sealing key {key[:8]}… {error}") from None


def sealing_private_key(seed: bytes) -> nacl.public.PrivateKey:
    """The node's X25519 key, derived from its nkey seed (never used to sign)."""
    _, raw = nkeys.decode_seed(seed)
    return nacl.public.PrivateKey(hashlib.blake2b(bytes(raw), digest_size=32, person=b"corridor-seal").digest())


def sealing_key_of(seed: bytes) -> str:
    """The public sealing key ('X...') the registry lists for the node with this seed."""
    return nkey_encode(PREFIX_BYTE_CURVE, bytes(sealing_private_key(seed).public_key))


class Sealer:
    """Seals what this node addresses to a peer, and opens what a peer addressed to it (or what it
    addressed to a peer). `sealing_keys` (node id → 'X...') is read at each call, so a registry
    reload reaches it by updating the mapping in place."""

    def __init__(self, node_id: str, seed: bytes, sealing_keys: dict[str, str]) -> None:
        self.node_id = node_id
        self.sealing_keys = sealing_keys
        self._private = sealing_private_key(seed)
        self._boxes: dict[str, nacl.public.Box] = {}  # by the peer's key: a registry change brings a new one

    def _box(self, peer: str) -> nacl.public.Box:
        key = self.sealing_keys.get(peer)
        if key is None:
            raise SealingError(f"node {peer!r} has no sealing key in the registry")
        box = self._boxes.get(key)
        if box is None:  # a Box computes the X25519 shared key once (a fifth of opening an event)
            box = self._boxes[key] = nacl.public.Box(self._private, _decode_public(key))
        return box

    def seal(self, envelope: Envelope) -> Envelope:
        """The envelope with its payload replaced by a box between this node and its target."""
        if envelope.target is None:
            raise SealingError(f"{envelope.type} is not addressed: only addressed events are sealed")
        if envelope.origin != self.node_id:
            raise SealingError(f"{envelope.type} is from {envelope.origin!r}: this node seals only what it sends")
        if envelope.sealed is not None:
            raise SealingError(f"{envelope.type} {envelope.event_id} is sealed already")
        plain = json.dumps(envelope.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return envelope.model_copy(update={"payload": {}, "sealed": b64(bytes(self._box(envelope.target).encrypt(plain)))})

    def open(self, envelope: Envelope) -> Envelope:
        if envelope.sealed is None:
            raise SealingError(f"{envelope.type} is addressed but its payload is not sealed")
        if self.node_id == envelope.target:
            peer = envelope.origin
        elif self.node_id == envelope.origin:
            peer = envelope.target
        else:
            raise SealingError(f"{envelope.type} is between {envelope.origin!r} and {envelope.target!r}, not this node")
        try:
            payload = json.loads(self._box(peer).decrypt(unb64(envelope.sealed)))
        except (nacl.exceptions.CryptoError, binascii.Error, ValueError):
            raise SealingError(f"{envelope.type} is sealed for other keys, or was altered") from None
        if not isinstance(payload, dict):
            raise SealingError(f"{envelope.type}'s sealed payload is not a JSON object")
        return envelope.model_copy(update={"payload": payload, "sealed": None})
