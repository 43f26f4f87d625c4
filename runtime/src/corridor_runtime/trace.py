"""A placement's journey across services and nodes: every event of one correlation id, from the
streams of the nodes the operator can reach and from the services' JSON logs.

Each node's streams hold its side of the journey: LOCAL what its services told each other, OUT what
it sent, IN what it received, DEADLETTER what it could not take. Asked of several nodes (one NATS
URL each), the steps interleave by the time they occurred. Addressed payloads stay sealed: the
trace shows the envelope (type, origin, target, time, cause), which is what following a journey
needs, and nothing personal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from . import dead_letters
from .reading import read

STREAMS = ("LOCAL", "OUT", "IN", dead_letters.STREAM)


@dataclass(frozen=True)
class Step:
    occurred_at: str
    node: str  # the node whose stream or log shows it
    where: str  # stream name, or "log:<service>"
    what: str  # event type, or the log line's event
    origin: str = ""
    target: str = ""
    event_id: str = ""
    detail: str = ""


async def from_streams(js: JetStreamContext, node: str, correlation_id: str) -> list[Step]:
    """Every message of the node's streams that belongs to the journey."""
    steps: list[Step] = []
    for stream in STREAMS:
        try:
            async for msg in read(js, stream):
                step = _step(node, stream, msg.subject, msg.data, msg.headers or {}, correlation_id)
                if step is not None:
                    steps.append(step)
        except NotFoundError:
            continue
    return steps


def _step(node: str, stream: str, subject: str, data: bytes, headers: dict, correlation_id: str) -> Step | None:
    detail = ""
    if stream == dead_letters.STREAM:
        detail = f"dead letter: {headers.get(dead_letters.REASON, '')}"
    if correlation_id.encode() not in data:
        return None
    try:
        wire = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(wire, dict) or wire.get("correlation_id") != correlation_id:
        return None
    if wire.get("sealed"):
        detail = detail or "payload sealed between origin and target"
    return Step(occurred_at=str(wire.get("occurred_at", "")), node=node, where=stream, what=str(wire.get("type", "?")),
                origin=str(wire.get("origin", "")), target=str(wire.get("target") or ""), event_id=str(wire.get("event_id", "")),
                detail=detail or subject)


def from_logs(paths: Iterable[Path], correlation_id: str) -> list[Step]:
    """The services' JSON log lines that name the journey, by its correlation id or its placement's
    id (files or folders of *.log); a saga step's line says which step."""
    steps = []
    for path in paths:
        files = sorted(path.glob("*.log")) if path.is_dir() else [path]
        for file in files:
            with file.open(errors="replace") as lines:
                for line in lines:
                    if correlation_id not in line:
                        continue
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if correlation_id not in (entry.get("correlation_id"), entry.get("placement_id")):
                        continue
                    step = entry.get("status") or entry.get("step")
                    what = str(entry.get("event", "")) + (f": {step}" if step else "")
                    steps.append(Step(occurred_at=str(entry.get("timestamp", "")), node=str(entry.get("node", "")),
                                      where=f"log:{entry.get('service', file.stem)}", what=what,
                                      event_id=str(entry.get("event_id") or ""), detail=str(entry.get("level", ""))))
    return steps


LATEST = datetime.fromisoformat("9999-12-31T00:00:00+00:00")


def in_order(steps: Iterable[Step]) -> list[Step]:
    """By the time each step occurred (steps without a readable time last), then node and place."""
    def when(step: Step) -> datetime:
        try:
            return datetime.fromisoformat(step.occurred_at.replace("Z", "+00:00"))
        except ValueError:
            return LATEST
    return sorted(steps, key=lambda s: (when(s), s.node, s.where))
