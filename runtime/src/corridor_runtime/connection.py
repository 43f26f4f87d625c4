"""Connecting to the node's nats-server: reconnect forever (nats-py gives up after ~2 minutes), or,
for a one-off command started beside its server (`corridor streams provision` in a compose file),
wait a bounded time for the server to come up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from nats.aio.client import Client
from nats.errors import Error as NatsError

log = structlog.get_logger("corridor.nats")


class ServerNotReady(RuntimeError):
    """No nats-server with JetStream answered at the URL before the deadline."""


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


async def connect_when_ready(url: str, *, name: str, wait: float, jetstream: bool = True,
                             waiting: Callable[[str], None] | None = None) -> Client:
    """A connection to the nats-server at `url` once it accepts clients (and its JetStream answers,
    which comes a moment later on a fresh server), trying again with growing pauses (0.25 s up to
    2 s) for at most `wait` seconds (0: one try). `waiting` is told once, in one line, when the
    first try fails. Raises ServerNotReady after the deadline.

    The connection does not reconnect: it is for a command that does one thing and ends."""
    deadline = time.monotonic() + max(0.0, wait)
    pause = 0.25
    told = False
    while True:
        nc = Client()
        seen: list[Exception] = []

        async def quiet(error: Exception, seen: list[Exception] = seen) -> None:  # the default logs a traceback
            seen.append(error)

        try:
            # Two quick tries per round (nats-py's fewest), then our own growing pause.
            await nc.connect(url, name=name, allow_reconnect=False, connect_timeout=2, max_reconnect_attempts=1,
                             reconnect_time_wait=0, error_cb=quiet)
            if jetstream:
                await nc.jetstream(timeout=2).account_info()
            return nc
        except (TimeoutError, OSError, NatsError) as error:
            reason = _reason(seen[-1] if seen else error)
            if nc.is_connected:
                await nc.close()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            within = f" within {wait:g} s" if wait > 0 else ""
            raise ServerNotReady(f"no nats-server{' with JetStream' if jetstream else ''} answered at {url}{within} "
                                 f"({reason})")
        if not told and waiting is not None:
            waiting(f"waiting up to {wait:g} s for the nats-server at {url} ({reason})")
            told = True
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, 2.0)


def _reason(error: Exception) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__
