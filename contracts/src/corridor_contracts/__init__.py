"""The SMART volunteering corridor's message contracts.

Depends only on pydantic, nkeys (ed25519 signatures) and pycountry (ISO codes), so a partner can
build a node on this package alone.
"""

from . import events, subjects
from .catalogue import CATALOGUE, Event, Scope, UnknownEvent
from .envelope import Envelope, canonical_bytes
from .pseudonyms import pseudonym
from .registry import PartnerNode, Registry
from .signing import SignatureError, Signer, Verifier, new_node_seed, public_key_of

__all__ = [
    "CATALOGUE",
    "Envelope",
    "Event",
    "PartnerNode",
    "Registry",
    "Scope",
    "SignatureError",
    "Signer",
    "UnknownEvent",
    "Verifier",
    "canonical_bytes",
    "events",
    "new_node_seed",
    "pseudonym",
    "public_key_of",
    "subjects",
]
