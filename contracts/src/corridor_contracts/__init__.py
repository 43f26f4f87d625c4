"""The SMART volunteering corridor's message contracts.

Depends only on pydantic, nkeys and PyNaCl (ed25519 signatures, sealed boxes) and pycountry (ISO codes), so a partner can
build a node on this package alone.
"""

from . import events, subjects
from .catalogue import CATALOGUE, Event, Scope, UnknownEvent
from .envelope import Envelope, canonical_bytes
from .pseudonyms import pseudonym
from .registry import PartnerNode, Registry
from .sealing import Sealer, SealingError, sealing_key_of
from .signing import SignatureError, Signer, Verifier, new_node_seed, public_key_of

__all__ = [
    "CATALOGUE",
    "Envelope",
    "Event",
    "PartnerNode",
    "Registry",
    "Scope",
    "Sealer",
    "SealingError",
    "SignatureError",
    "Signer",
    "UnknownEvent",
    "Verifier",
    "canonical_bytes",
    "events",
    "new_node_seed",
    "pseudonym",
    "sealing_key_of",
    "public_key_of",
    "subjects",
]
