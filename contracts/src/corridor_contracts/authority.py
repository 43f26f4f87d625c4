"""One authority per datum: which node may state what about which shared datum.

A signature proves which node sent an event, not that this node may speak about what the event
names. These rules say who may, so that every receiver can refuse the rest the same way:

- An **opportunity** belongs to the node that first stated it (its host). Only that node may
  publish, update or close it. Its versions are ordered by `revision`, a number the host raises
  with every version; a version that is not newer than the one applied changes nothing. (A host
  on older code sends no revision: its versions count as revision 0 and are ordered by their
  time, which only the host itself can choose.)
- An **outcome** belongs to the node that first stated it (the volunteer's home node).
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .events.placements import Side


def opportunity(opportunity_id: Any) -> str:
    return f"opportunity/{opportunity_id}"


def placement(placement_id: Any) -> str:
    return f"placement/{placement_id}"


def outcome(outcome_id: Any) -> str:
    return f"outcome/{outcome_id}"


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


Statement = Owns | Hosts | Opens | Speaks


def _opportunity(event, origin, target, me):
    return [Owns(opportunity(event.opportunity_id), getattr(event, "revision", None))]


def _proposed(event, origin, target, me):
    return [Opens(placement(event.proposal_id), home=me, host=event.host_node)]


def _requested(event, origin, target, me):
    return [Hosts(opportunity(event.opportunity_id), node=target),
            Opens(placement(event.placement_id), home=origin, host=target)]


def _answer(event, origin, target, me):
    return [Hosts(opportunity(event.opportunity_id), node=origin), Speaks(placement(event.placement_id), Side.HOST)]


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
