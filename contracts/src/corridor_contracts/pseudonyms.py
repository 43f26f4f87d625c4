"""A volunteer's pseudonym toward one peer node.

HMAC-SHA256 of her id and the peer node id under her home node's secret: stable for one peer,
different for every peer (two hosts cannot link her), and not reversible without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID


def pseudonym(secret: bytes, volunteer_id: UUID, peer_node: str) -> str:
    if len(secret) < 32:
        raise ValueError("the pseudonym secret must have at least 32 bytes")
    digest = hmac.new(secret, f"{volunteer_id}:{peer_node}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
