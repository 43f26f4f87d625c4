"""Connecting to the node's nats-server: reconnect forever (nats-py gives up after ~2 minutes)."""

from __future__ import annotations

import structlog
from nats.aio.client import Client

log = structlog.get_logger("corridor.nats")


async def connect(url: str, *, name: str) -> Client:
    nc = Client()

    async def disconnected() -> None:
        if not (nc.is_closed or nc.is_draining):
            log.warning("nats disconnected", url=url)

    async def reconnected() -> None:
        log.info("nats reconnected", url=url)

    async def error(e: Exception) -> None:
        log.warning("nats error", error=repr(e))

    await nc.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        drain_timeout=5,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )
    return nc
