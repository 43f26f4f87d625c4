"""Ed25519 signatures of shared events with NATS nkeys.

A node signs with its seed (`SN...`); receivers verify with the public key that the registry
lists for the event's origin (`N...`). nkeys has no verify-from-public-key call, so the public
key is decoded here (base32, prefix byte, CRC16) and checked with PyNaCl, which nkeys is built on.
"""

from __future__ import annotations

import binascii
import os
from typing import Any

import nacl.exceptions
import nacl.signing
import nkeys

from .encoding import b64, nkey_decode, unb64
from .envelope import Envelope, canonical_bytes


class SignatureError(ValueError):
    """A signature is missing, malformed, from an unknown node, or does not match."""


def new_node_seed() -> bytes:
    """A fresh node signing seed (an nkey seed of the server kind, `SN...`)."""
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_SERVER)


def public_key_of(seed: bytes) -> str:
    return nkeys.from_seed(seed).public_key.decode()


def _verify_key(public_key: str) -> nacl.signing.VerifyKey:
    try:
        return nacl.signing.VerifyKey(nkey_decode(public_key, nkeys.PREFIX_BYTE_SERVER, "a node (server) nkey"))
    except ValueError as error:
        raise SignatureError(f"public key {public_key[:8]}… {error}") from None


class Signer:
    """Signs this node's outgoing shared events."""

    def __init__(self, seed: bytes) -> None:
        self._keys = nkeys.from_seed(seed)
        self.public_key = self._keys.public_key.decode()

    def sign(self, envelope: Envelope) -> Envelope:
        signature = self._keys.sign(canonical_bytes(envelope.to_wire()))
        return envelope.model_copy(update={"signature": b64(signature)})


class Verifier:
    """Checks an incoming wire object against the public keys of the corridor's nodes."""

    def __init__(self, public_keys: dict[str, str]) -> None:
        self._keys = {node: _verify_key(key) for node, key in public_keys.items()}

    def replace(self, public_keys: dict[str, str]) -> None:
        """Trust these keys from now on (a registry change: a partner added, removed or rotated)."""
        self._keys = {node: _verify_key(key) for node, key in public_keys.items()}

    def knows(self, node: str) -> bool:
        return node in self._keys

    def verify(self, wire: dict[str, Any]) -> None:
        origin = wire.get("origin")
        signature = wire.get("signature")
        if not isinstance(signature, str) or not signature:
            raise SignatureError("the event is not signed")
        key = self._keys.get(origin) if isinstance(origin, str) else None
        if key is None:
            raise SignatureError(f"origin {origin!r} is not a node of the registry")
        try:
            key.verify(canonical_bytes(wire), unb64(signature))
        except (nacl.exceptions.BadSignatureError, binascii.Error, ValueError):
            raise SignatureError(f"the signature does not match origin {origin!r}'s key") from None
