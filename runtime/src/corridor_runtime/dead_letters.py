"""The dead-letter stream: poison messages and events that failed too often, with their reason.

Each dead letter keeps the original bytes and headers telling where it came from, so an operator
can list it, read why, and replay it to its original subject after a fix (or discard it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

STREAM = "DEADLETTER"
REASON = "Corridor-Dead-Reason"
ORIGINAL_SUBJECT = "Corridor-Original-Subject"
ORIGINAL_STREAM = "Corridor-Original-Stream"
ORIGINAL_SEQUENCE = "Corridor-Original-Sequence"
CONSUMER = "Corridor-Consumer"
DELIVERIES = "Corridor-Deliveries"

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
        await self._js.publish(subject(self._node, self._service, consumer), msg.data, headers=headers)
        self.count += 1
        log.warning("dead-lettered", reason=reason, subject=msg.subject, stream=meta.stream,
                    stream_sequence=meta.sequence.stream, consumer=consumer, deliveries=meta.num_delivered)


async def read_all(js: JetStreamContext, *, subject_filter: str = "deadletter.>", limit: int = 1000) -> list[DeadLetter]:
    """The dead letters currently kept, oldest first (an ephemeral consumer; nothing is acked away)."""
    sub = await js.pull_subscribe(
        subject_filter, stream=STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0, mem_storage=True),
    )
    found: list[DeadLetter] = []
    try:
        info = await js.stream_info(STREAM)
        while len(found) < min(limit, info.state.messages):
            try:
                batch = await sub.fetch(min(256, limit - len(found)), timeout=1.0)
            except TimeoutError:
                break
            for msg in batch:
                found.append(_dead_letter(msg))
                await msg.ack()
    finally:
        await sub.unsubscribe()
    return found


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


async def replay(js: JetStreamContext, sequence: int) -> str:
    """Publish a dead letter's bytes to its original subject again and remove it from the stream."""
    stored = await js.get_msg(STREAM, sequence)
    headers = stored.headers or {}
    original = headers.get(ORIGINAL_SUBJECT)
    if not original:
        raise ValueError(f"dead letter {sequence} has no original subject")
    await js.publish(original, stored.data or b"", headers={"Nats-Msg-Id": f"replay:{STREAM}:{sequence}"})
    await js.delete_msg(STREAM, sequence)
    log.info("dead letter replayed", sequence=sequence, subject=original)
    return original


async def discard(js: JetStreamContext, sequence: int, *, why: str) -> None:
    await js.delete_msg(STREAM, sequence)
    log.warning("dead letter discarded", sequence=sequence, why=why)
