"""The dead-letter stream: poison messages and events that failed too often, with their reason.

Each dead letter keeps the original bytes and headers telling where it came from, so an operator
can list it, read why, and, after a fix, have the service that dead-lettered it apply it again (or
discard it). Replay goes through the service (`replay.<node>.<service>`), not the original subject:
an event that came from a peer through IN has no local stream that would take its subject again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import nats
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .reading import read

STREAM = "DEADLETTER"
REASON = "Corridor-Dead-Reason"
ORIGINAL_SUBJECT = "Corridor-Original-Subject"
ORIGINAL_STREAM = "Corridor-Original-Stream"
ORIGINAL_SEQUENCE = "Corridor-Original-Sequence"
CONSUMER = "Corridor-Consumer"
DELIVERIES = "Corridor-Deliveries"
TRUNCATED = "Corridor-Truncated"  # original size in bytes, when the letter keeps only the start of it
ROOM = 8192  # bytes kept free under the server's max payload for the letter's headers

log = structlog.get_logger("corridor.dead_letters")


def subject(node: str, service: str, consumer: str) -> str:
    return f"deadletter.{node}.{service}.{consumer}"


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    subject: str
    reason: str
    original_subject: str
    original_stream: str
    original_sequence: int
    consumer: str
    deliveries: int
    time: datetime | None
    data: bytes


class DeadLetters:
    def __init__(self, js: JetStreamContext, *, node: str, service: str) -> None:
        self._js = js
        self._node = node
        self._service = service
        self.count = 0

    async def put(self, msg: Msg, reason: str, *, consumer: str) -> None:
        """Keep the message in the dead-letter stream (acked by the stream) before it is acked."""
        meta = msg.metadata
        headers = {
            REASON: reason[:4000],
            ORIGINAL_SUBJECT: msg.subject,
            ORIGINAL_STREAM: meta.stream,
            ORIGINAL_SEQUENCE: str(meta.sequence.stream),
            CONSUMER: consumer,
            DELIVERIES: str(meta.num_delivered),
            # A crash between this publish and the ack of the original dead-letters it again: dedup.
            "Nats-Msg-Id": f"dead:{meta.stream}:{meta.sequence.stream}:{consumer}",
        }
        data = msg.data
        limit = getattr(self._js, "_nc", None) and self._js._nc.max_payload
        if limit and len(data) > limit - ROOM:
            # No room for the headers: keep the start; the whole message stays in its own stream
            # (original stream and sequence above), where `fetch` finds it for a replay.
            headers[TRUNCATED] = str(len(data))
            data = data[: limit - ROOM]
        await self._js.publish(subject(self._node, self._service, consumer), data, headers=headers)
        self.count += 1
        log.warning("dead-lettered", reason=reason, subject=msg.subject, stream=meta.stream,
                    stream_sequence=meta.sequence.stream, consumer=consumer, deliveries=meta.num_delivered)


async def read_all(js: JetStreamContext, *, subject_filter: str = "deadletter.>", limit: int = 1000) -> list[DeadLetter]:
    """The dead letters currently kept, oldest first (nothing is acked away)."""
    return [_dead_letter(msg) async for msg in read(js, STREAM, subjects=[subject_filter], limit=limit)]


def replay_subject(node: str, service: str) -> str:
    """Where a service takes requests to apply one of its dead letters again (node-internal)."""
    return f"replay.{node}.{service}"


def service_of(letter: DeadLetter) -> str:
    return letter.subject.split(".")[2]


async def fetch(js: JetStreamContext, sequence: int) -> DeadLetter:
    stored = await js.get_msg(STREAM, sequence)
    h = stored.headers or {}
    data = stored.data or b""
    if h.get(TRUNCATED):  # the whole message is in its original stream (until that stream's max age)
        data = (await js.get_msg(h[ORIGINAL_STREAM], int(h[ORIGINAL_SEQUENCE]))).data or b""
    return DeadLetter(sequence=sequence, subject=stored.subject, reason=h.get(REASON, ""),
                      original_subject=h.get(ORIGINAL_SUBJECT, ""), original_stream=h.get(ORIGINAL_STREAM, ""),
                      original_sequence=int(h.get(ORIGINAL_SEQUENCE, "0")), consumer=h.get(CONSUMER, ""),
                      deliveries=int(h.get(DELIVERIES, "0")), time=None, data=data)


def _dead_letter(msg: Msg) -> DeadLetter:
    h = msg.headers or {}
    return DeadLetter(
        sequence=msg.metadata.sequence.stream,
        subject=msg.subject,
        reason=h.get(REASON, ""),
        original_subject=h.get(ORIGINAL_SUBJECT, ""),
        original_stream=h.get(ORIGINAL_STREAM, ""),
        original_sequence=int(h.get(ORIGINAL_SEQUENCE, "0")),
        consumer=h.get(CONSUMER, ""),
        deliveries=int(h.get(DELIVERIES, "0")),
        time=msg.metadata.timestamp,
        data=msg.data,
    )


class ReplayError(RuntimeError):
    """The dead letter could not be applied again; it stays in the stream."""


async def replay(nc, js: JetStreamContext, sequence: int, timeout: float = 30.0) -> dict:
    """Ask the service that dead-lettered letter `sequence` to apply it again (it removes the letter
    when it succeeds); its answer says whether the event was applied now or had been already."""
    letter = await fetch(js, sequence)
    node, service = letter.subject.split(".")[1], service_of(letter)
    try:
        reply = await nc.request(replay_subject(node, service), json.dumps({"sequence": sequence}).encode(), timeout=timeout)
    except nats.errors.NoRespondersError:
        raise ReplayError(f"the {service} service of node {node} is not running: start it and replay again") from None
    answer = json.loads(reply.data)
    if "error" in answer:
        raise ReplayError(f"{service} could not apply dead letter {sequence}: {answer['error']}")
    return {"service": service, **answer}


async def discard(js: JetStreamContext, sequence: int, *, why: str) -> None:
    await js.delete_msg(STREAM, sequence)
    log.warning("dead letter discarded", sequence=sequence, why=why)
