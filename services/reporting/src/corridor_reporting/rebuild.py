"""Rebuild the projections by replaying the node's streams from the start.

The projections, the reporting consumers' inbox and the service's authority ledger are emptied and the durable consumers removed;
the service then consumes LOCAL and IN again from their first event, through the same handlers, and
the rebuild ends when both consumers have caught up. Run it with the reporting service stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import nats
from nats.js.errors import NotFoundError
from sqlalchemy import delete

from corridor_runtime.service import ServiceHost

from .tables import PROJECTIONS


async def rebuild(host: ServiceHost, *, on_progress: Callable[[int, int], None] = lambda done, total: None,
                  timeout: float = 3600.0) -> None:
    await host.upgrade_schema()
    names = [s.name for s in host.subscriptions]
    async with host.sessions() as session, session.begin():
        for table in PROJECTIONS:
            await session.execute(delete(table))
        await session.execute(delete(host.tables.inbox).where(host.tables.inbox.c.consumer.in_(names)))
        await session.execute(delete(host.tables.authority))  # learnt from the same streams, again
    nc = await nats.connect(host.settings.nats_url)
    try:
        for subscription in host.subscriptions:
            try:
                await nc.jetstream().delete_consumer(subscription.stream, subscription.name)
            except NotFoundError:
                pass
    finally:
        await nc.close()
    await host.start()  # its consumers are created again, from the first event of each stream
    try:
        total = sum([(await host.js.stream_info(s.stream)).state.messages for s in host.subscriptions])
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await asyncio.sleep(0.2)
            pending = 0
            for subscription in host.subscriptions:
                try:
                    info = await host.js.consumer_info(subscription.stream, subscription.name)
                    pending += info.num_pending + info.num_ack_pending
                except NotFoundError:
                    pending += (await host.js.stream_info(subscription.stream)).state.messages
            on_progress(max(0, total - pending), total)
            if pending == 0 and all(c._sub is not None for c in host.consumers):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the rebuild had {pending} events left after {timeout:.0f}s")
    finally:
        await host.stop()
