"""Events of a type this release does not know, from a partner that runs a newer release.

A service's consumer reads only the subjects of the event types it handles, so an event of a type
that came after this release would wait in IN, unseen, until the stream's age limit. One watcher per
node (the reporting service runs it) reads every subject of IN: each event of a type this release's
catalogue lacks is dead-lettered with the reason, where `corridor dead-letters list` and the
dead-letter alert show it; every other event is acknowledged at once (the services' own consumers
read those). An unknown *version* of a known type is the handling consumer's to dead-letter.
"""

from __future__ import annotations

import structlog
from corridor_contracts import CATALOGUE, UnknownEvent, subjects
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from .dead_letters import DeadLetters

log = structlog.get_logger("corridor.unknown_events")

CONSUMER = "unknown-events"
STREAM = "IN"


def reason_for(subject: str) -> str | None:
    """Why an event on `subject` cannot be read by any service of this node, or None if one may."""
    try:
        event_type = subjects.parse(subject).event_type
    except ValueError as error:
        return str(error)
    try:
        CATALOGUE.latest(event_type)
    except UnknownEvent:
        return (f"unknown event type {event_type}: no service of this node reads it (its sender runs a newer "
                "release of the corridor); upgrade this node, then discard this letter")
    return None


async def watch(js: JetStreamContext, dead_letters: DeadLetters, node_id: str, *, batch: int = 256) -> None:
    """Run until cancelled (ServiceHost restarts it after an error)."""
    config = ConsumerConfig(
        name=CONSUMER,
        durable_name=CONSUMER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=60,
        max_deliver=-1,
        filter_subjects=[subjects.broadcast(), subjects.direct(node_id)],
    )
    await js.add_consumer(STREAM, config=config)
    sub = await js.pull_subscribe_bind(durable=CONSUMER, stream=STREAM)
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=5.0)
            except (TimeoutError, NatsTimeout):
                continue
            for msg in msgs:
                why = reason_for(msg.subject)
                if why is not None:
                    await dead_letters.put(msg, why, consumer=CONSUMER)
                await msg.ack()
    finally:
        await sub.unsubscribe()
