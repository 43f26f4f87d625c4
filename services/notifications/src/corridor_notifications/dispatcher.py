"""Sends pending deliveries: retries transient failures with backoff, gives up on permanent ones.

A message given up is kept (status failed, with its reason), logged, and announced with a local
NotificationFailed event that reporting counts; an operator can retry it from the API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import select, update

from corridor_contracts import events
from corridor_runtime.service import ServiceHost
from corridor_runtime.tasks import stop_if_cancelled

from .channels import Outgoing, PermanentFailure, TransientFailure
from .tables import deliveries

log = structlog.get_logger("corridor.notifications")


class Dispatcher:
    def __init__(self, host: ServiceHost, channels: list, *, max_attempts: int = 8, poll: float = 1.0,
                 batch: int = 50, max_backoff: float = 300.0) -> None:
        self._host = host
        self._channels = {c.name: c for c in channels}
        self._max_attempts = max_attempts
        self._poll = poll
        self._batch = batch
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            while await self.send_due() == self._batch:
                pass
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            stop_if_cancelled()  # a cancellation wait_for swallowed as something woke the dispatcher
            self._wake.clear()

    async def send_due(self) -> int:
        now = datetime.now(timezone.utc)
        async with self._host.sessions() as session:
            rows = (await session.execute(select(deliveries).where(
                deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.created_at).limit(self._batch))).all()
        await asyncio.gather(*(self._send_one(row) for row in rows))
        return len(rows)

    async def _send_one(self, row) -> None:
        about = {"placement_id": row.placement_id} if row.placement_id else {}
        with structlog.contextvars.bound_contextvars(delivery_id=row.delivery_id, **about):
            await self._send(row)

    async def _send(self, row) -> None:
        channel = self._channels.get(row.channel)
        outgoing = Outgoing(delivery_id=row.delivery_id, kind=row.kind, language=row.language, address=row.address,
                            recipient_id=row.recipient_id, recipient_kind=row.recipient_kind, subject=row.subject,
                            text=row.text, html=row.html)
        attempts = row.attempts + 1
        try:
            if channel is None:
                raise PermanentFailure(f"channel {row.channel} is not configured on this node")
            await channel.send(outgoing)
        except PermanentFailure as error:
            await self._give_up(row, attempts, str(error))
        except TransientFailure as error:
            if attempts >= self._max_attempts:
                await self._give_up(row, attempts, f"gave up after {attempts} attempts: {error}")
            else:
                delay = min(self._max_backoff, 2.0 * 2 ** (attempts - 1))
                log.warning("notification deferred", delivery_id=row.delivery_id, channel=row.channel,
                            attempts=attempts, retry_in=delay, error=str(error))
                await self._update(row, attempts=attempts, last_error=str(error)[:2000],
                                   next_attempt_at=datetime.now(timezone.utc) + timedelta(seconds=delay))
        else:
            await self._update(row, status="sent", attempts=attempts, sent_at=datetime.now(timezone.utc), last_error=None)
            log.info("notification sent", delivery_id=row.delivery_id, channel=row.channel, kind=row.kind,
                     event_id=row.cause_event_id)

    async def _update(self, row, **values) -> None:
        async with self._host.unit_of_work() as uow:
            # Only a pending row: one erased while it was being sent stays erased (and its file goes).
            done = await uow.session.execute(update(deliveries).where(
                deliveries.c.delivery_id == row.delivery_id, deliveries.c.status == "pending").values(**values))
        if done.rowcount == 0 and values.get("status") == "sent":
            channel = self._channels.get(row.channel)
            if channel is not None:
                channel.erase(row.delivery_id)

    async def _give_up(self, row, attempts: int, reason: str) -> None:
        now = datetime.now(timezone.utc)
        async with self._host.unit_of_work() as uow:
            await uow.session.execute(update(deliveries).where(
                deliveries.c.delivery_id == row.delivery_id, deliveries.c.status == "pending").values(
                status="failed", attempts=attempts, last_error=reason[:2000]))
            uow.emit(events.NotificationFailed(
                delivery_id=uuid.UUID(row.delivery_id), cause_event_id=uuid.UUID(row.cause_event_id), kind=row.kind,
                recipient_kind=row.recipient_kind, channel=row.channel, reason=reason[:4000], failed_at=now))
        log.warning("notification failed for good", delivery_id=row.delivery_id, channel=row.channel, kind=row.kind,
                    event_id=row.cause_event_id, reason=reason)
