"""Text forms of keys and bytes shared by signing and sealing: base64url without padding, and the
nkey form of a 32-byte public key (base32 of a prefix byte, the key and a CRC16)."""

from __future__ import annotations

import base64
import binascii

import nkeys


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def nkey_encode(prefix: int, raw: bytes) -> str:
    body = bytes([prefix]) + raw
    return base64.b32encode(body + nkeys.crc16(bytearray(body)).to_bytes(2, "little")).decode().rstrip("=")


def nkey_decode(key: str, prefix: int, kind: str) -> bytes:
    """The 32 raw bytes of an nkey-form public key; ValueError says what is wrong with it
    ('is not base32', 'is not <kind>', 'has a bad checksum')."""
    try:
        raw = base64.b32decode(key + "=" * (-len(key) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("is not base32") from None
    if len(raw) != 35 or raw[0] != prefix:
        raise ValueError(f"is not {kind}")
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if nkeys.crc16(bytearray(body)) != crc:
        raise ValueError("has a bad checksum")
    return bytes(body[1:])
