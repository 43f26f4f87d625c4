"""Reading what a stream holds, for operators' commands and erasure (never for delivery: that is
the consumer's)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy


async def read(js: JetStreamContext, stream: str, *, subjects: list[str] | None = None, limit: int | None = None,
               batch: int = 256) -> AsyncIterator[Msg]:
    """The messages a stream holds now (only those on `subjects` if given), oldest first, through an
    ephemeral consumer of its own: reading takes nothing away from the services' consumers."""
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0, mem_storage=True,
                            filter_subjects=subjects or None)
    sub = await js.pull_subscribe("", stream=stream, config=config)
    try:
        remaining = (await sub.consumer_info()).num_pending
        if limit is not None:
            remaining = min(remaining, limit)
        while remaining > 0:
            try:
                msgs = await sub.fetch(min(batch, remaining), timeout=2.0)
            except TimeoutError:
                break
            remaining -= len(msgs)
            for msg in msgs:
                await msg.ack()
                yield msg
    finally:
        await sub.unsubscribe()
