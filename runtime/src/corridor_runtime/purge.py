"""Erasing a person's events from a node's streams, not only from its databases.

A stream keeps what it holds until its max age (90 days); LOCAL events carry personal data in
clear, and the addressed contact disclosure sits sealed in the home's OUT and the host's IN. On
erasure the services that hold her data purge those messages: `STREAM.MSG.DELETE` without
`no_erase` overwrites the message on disk before removing it.
"""

from __future__ import annotations

import json

import structlog
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

log = structlog.get_logger("corridor.purge")


async def purge(js: JetStreamContext, stream: str, *, subjects: list[str], correlation_ids: set[str],
                batch: int = 256) -> int:
    """Erase from `stream` every message on `subjects` whose envelope belongs to one of
    `correlation_ids`; returns how many. Idempotent: a message erased already is simply not found."""
    if not correlation_ids:
        return 0
    sub = await js.pull_subscribe("", stream=stream, config=ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL, filter_subjects=subjects, inactive_threshold=30.0, mem_storage=True))
    erased = 0
    try:
        info = await sub.consumer_info()
        remaining = info.num_pending
        while remaining > 0:
            try:
                msgs = await sub.fetch(min(batch, remaining), timeout=2.0)
            except TimeoutError:
                break
            remaining -= len(msgs)
            for msg in msgs:
                await msg.ack()
                if not any(c.encode() in msg.data for c in correlation_ids):
                    continue
                try:
                    correlation = json.loads(msg.data).get("correlation_id")
                except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                    continue
                if correlation in correlation_ids:
                    try:
                        await js.delete_msg(stream, msg.metadata.sequence.stream)
                        erased += 1
                    except NotFoundError:
                        pass
    finally:
        await sub.unsubscribe()
    log.info("purged from the stream", stream=stream, erased=erased)
    return erased
