"""Subject naming.

- local:     node.<node>.<Type>
- broadcast: corridor.bcast.<origin>.<Type>
- direct:    corridor.direct.<target>.<origin>.<Type>
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import Scope
from .envelope import Envelope


def local(node: str, event_type: str = "*") -> str:
    return f"node.{node}.{event_type}"


def broadcast(origin: str = "*", event_type: str = "*") -> str:
    return f"corridor.bcast.{origin}.{event_type}"


def direct(target: str, origin: str = "*", event_type: str = "*") -> str:
    return f"corridor.direct.{target}.{origin}.{event_type}"


def for_envelope(envelope: Envelope, *, node: str) -> str:
    """Where an envelope is published: local events under this node, shared ones under the corridor."""
    scope = envelope.scope
    if scope is Scope.LOCAL:
        return local(node, envelope.type)
    if scope is Scope.BROADCAST:
        return broadcast(envelope.origin, envelope.type)
    assert envelope.target is not None
    return direct(envelope.target, envelope.origin, envelope.type)


@dataclass(frozen=True)
class SubjectParts:
    scope: Scope
    event_type: str
    origin: str | None  # None for local subjects: the node itself
    target: str | None = None


def parse(subject: str) -> SubjectParts:
    tokens = subject.split(".")
    match tokens:
        case ["node", _node, event_type]:
            return SubjectParts(Scope.LOCAL, event_type, None)
        case ["corridor", "bcast", origin, event_type]:
            return SubjectParts(Scope.BROADCAST, event_type, origin)
        case ["corridor", "direct", target, origin, event_type]:
            return SubjectParts(Scope.DIRECT, event_type, origin, target)
    raise ValueError(f"{subject!r} is not a corridor event subject")
