"""One authority per datum: which node may state what about which shared datum.

A signature proves which node sent an event, not that this node may speak about what the event
names. These rules say who may, so that every receiver can refuse the rest the same way:

- An **opportunity** belongs to its host: the node its id names (`new_opportunity_id`), or, for
  an id from a node on older code, the node that first stated it. Only that node may publish,
  update or close it. Its versions are ordered by `revision`, a number the host raises
  with every version; a version that is not newer than the one applied changes nothing. (A host
  on older code sends no revision: its versions count as revision 0 and are ordered by their
  time, which only the host itself can choose.)
- An **outcome** belongs to the node that first stated it (the volunteer's home node). Outcomes
  are no longer broadcast one by one (`PlacementOutcome` comes only from partners on older code):
  a node broadcasts its **outcome figures**, a datum named after the node itself
  (`outcome-figures/<node>`), so no other node can ever state them. Their versions are ordered by
  `revision`, as an opportunity's are.
- A **placement** is opened between a home node (hers) and a host node (the opportunity's): by
  the home's `PlacementProposed` (on the home node) and by `PlacementRequested` (on the host node,
  which must be the opportunity's owner). From then on, what the host states (confirmed,
  declined, started, hours, completed, withdrawn by the host) counts only from the host, and what
  the home states (contact disclosed, withdrawn by her side, erasure requested) only from the home.

A receiver keeps what it has learnt (who owns each datum, the last revision applied) and refuses
an event that breaks a rule: it is dead-lettered with the reason and changes nothing. What a
receiver has not learnt yet (a placement it has never heard of) is left to the handler.

Times chosen by senders (`occurred_at`) never decide between two nodes; receivers also refuse an
event dated further in the future than a small clock skew.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events.placements import Side


def new_opportunity_id(node: str) -> uuid.UUID:
    """A new opportunity's id, bound to the node that makes it: a UUID of version 8 whose second
    half is a digest of the node's id and the first half. Any receiver can tell which node made it
    (`made_by`), so no other node can state it, whichever event reaches a receiver first."""
    head = bytearray(secrets.token_bytes(8))
    head[6] = (head[6] & 0x0F) | 0x80  # version 8
    return uuid.UUID(bytes=bytes(head) + _tag(node, bytes(head)))


def made_by(datum_id: uuid.UUID, node: str) -> bool | None:
    """Whether a bound id (`new_opportunity_id`) was made by `node`; None for an id that names no
    node (a random UUID from a node on older code)."""
    if datum_id.version != 8:
        return None
    raw = datum_id.bytes
    return secrets.compare_digest(raw[8:], _tag(node, raw[:8]))


def _tag(node: str, head: bytes) -> bytes:
    tag = bytearray(hashlib.sha256(b"corridor-opportunity-id\0" + node.encode() + b"\0" + head).digest()[:8])
    tag[0] = (tag[0] & 0x3F) | 0x80  # the RFC 9562 variant
    return bytes(tag)


def opportunity(opportunity_id: Any) -> str:
    return f"opportunity/{opportunity_id}"


def placement(placement_id: Any) -> str:
    return f"placement/{placement_id}"


def outcome(outcome_id: Any) -> str:
    return f"outcome/{outcome_id}"


def outcome_figures(node: str) -> str:
    return f"outcome-figures/{node}"


@dataclass(frozen=True)
class Owns:
    """The sender states this datum; the first node heard stating it is its only author."""

    datum: str
    revision: int | None = None  # orders the owner's versions (None: a sender on older code)


@dataclass(frozen=True)
class Hosts:
    """The datum (an opportunity) must be owned by `node`, if the receiver knows its owner."""

    datum: str
    node: str


@dataclass(frozen=True)
class Opens:
    """Opens a placement between a home node and a host node (the same pair if it is open already)."""

    datum: str
    home: str
    host: str


@dataclass(frozen=True)
class Speaks:
    """The sender speaks for one side of a placement (None: either side): it must be that side's node."""

    datum: str
    side: Side | None


@dataclass(frozen=True)
class Made:
    """The datum's id names the node that made it (`new_opportunity_id`): it must be `node`."""

    datum: str
    node: str


Statement = Owns | Hosts | Opens | Speaks | Made


def _made(opportunity_id: uuid.UUID, node: str) -> list[Statement]:
    return [Made(opportunity(opportunity_id), node)] if made_by(opportunity_id, node) is False else []


def _opportunity(event, origin, target, me):
    return [*_made(event.opportunity_id, origin), Owns(opportunity(event.opportunity_id), getattr(event, "revision", None))]


def _proposed(event, origin, target, me):
    return [Opens(placement(event.proposal_id), home=me, host=event.host_node)]


def _requested(event, origin, target, me):
    return [*_made(event.opportunity_id, target), Hosts(opportunity(event.opportunity_id), node=target),
            Opens(placement(event.placement_id), home=origin, host=target)]


def _answer(event, origin, target, me):
    return [*_made(event.opportunity_id, origin), Hosts(opportunity(event.opportunity_id), node=origin),
            Speaks(placement(event.placement_id), Side.HOST)]


def _from(side: Side | None):
    def statements(event, origin, target, me):
        return [Speaks(placement(event.placement_id), side)]
    return statements


def _withdrawn(event, origin, target, me):
    return [Speaks(placement(event.placement_id), event.by)]


def _erasure_requested(event, origin, target, me):
    return [Speaks(placement(p), Side.HOME) for p in event.placement_ids]


def _outcome(event, origin, target, me):
    return [Owns(outcome(event.outcome_id))]


def _outcome_figures(event, origin, target, me):
    # Named after the sender: whoever states figures states its own, and the first node heard
    # stating them is always that node. A version not newer than the one applied is superseded.
    return [Owns(outcome_figures(origin), event.revision)]


RULES: dict[str, Callable[..., list[Statement]]] = {
    "OpportunityPublished": _opportunity,
    "OpportunityUpdated": _opportunity,
    "OpportunityClosed": _opportunity,
    "PlacementProposed": _proposed,
    "PlacementRequested": _requested,
    "PlacementConfirmed": _answer,
    "PlacementDeclined": _answer,
    "PlacementStarted": _from(Side.HOST),
    "HoursLogged": _from(Side.HOST),
    "PlacementCompleted": _from(Side.HOST),
    "PlacementWithdrawn": _withdrawn,
    "ContactDisclosed": _from(Side.HOME),
    "ErasureRequested": _erasure_requested,
    "PlacementOutcome": _outcome,
    "OutcomeFigures": _outcome_figures,
}


# The events that open a placement, and those that speak about an open one: a receiver that reads
# the latter must also read the former (on LOCAL and on IN), or it cannot tell who may speak.
OPENING = {"LOCAL": "PlacementProposed", "IN": "PlacementRequested"}
SPEAKING = frozenset({"PlacementConfirmed", "PlacementDeclined", "PlacementStarted", "HoursLogged",
                      "PlacementCompleted", "PlacementWithdrawn", "ContactDisclosed", "ErasureRequested"})


def statements(event: Any, *, origin: str, target: str | None, me: str) -> list[Statement]:
    """What an event states about which datum, for the receiver `me` to check against what it knows."""
    rule = RULES.get(event.TYPE)
    return rule(event, origin, target, me) if rule is not None else []
