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
from nats.js.errors import NotFoundError

from .reading import read

log = structlog.get_logger("corridor.purge")


async def purge(js: JetStreamContext, stream: str, *, subjects: list[str], correlation_ids: set[str]) -> int:
    """Erase from `stream` every message on `subjects` whose envelope belongs to one of
    `correlation_ids`; returns how many. Idempotent: a message erased already is simply not found."""
    if not correlation_ids:
        return 0
    erased = 0
    async for msg in read(js, stream, subjects=subjects):
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
    log.info("purged from the stream", stream=stream, erased=erased)
    return erased
