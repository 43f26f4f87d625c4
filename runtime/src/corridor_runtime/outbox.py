"""The outbox relay: publishes committed outbox rows to JetStream and marks them sent after the ack.

Woken at commit (and by a slow poll, for rows left by a crashed process). Rows go out in batches
of asynchronous publishes with `Nats-Msg-Id = event_id`, so a row published twice (a crash
between the ack and the mark) is dropped by the stream's duplicate window and then by the
consumers' inboxes. A row whose publish fails stays pending and is retried with backoff.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import structlog
from nats.js import JetStreamContext
from sqlalchemy import delete, func, select, update

from .database import Database
from .tables import DeliveryTables

log = structlog.get_logger("corridor.outbox")


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        tables: DeliveryTables,
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        poll_interval: float = 2.0,
        ack_timeout: float = 10.0,
        max_backoff: float = 60.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self._db = db
        self._outbox = tables.outbox
        self._js = js
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._ack_timeout = ack_timeout
        self._max_backoff = max_backoff
        self._retention = retention
        self._wakeup = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        last_prune = datetime.now(timezone.utc)
        while True:
            try:
                while await self.publish_pending() == self._batch_size:
                    pass
                if datetime.now(timezone.utc) - last_prune > timedelta(hours=1):
                    await self.prune()
                    last_prune = datetime.now(timezone.utc)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database or NATS is away: keep the rows, try again later
                log.exception("outbox relay pass failed")
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)
            except TimeoutError:
                pass
            self._wakeup.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of due rows; returns how many rows were taken."""
        now = datetime.now(timezone.utc)
        o = self._outbox
        async with self._db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(o.c.seq, o.c.event_id, o.c.subject, o.c.data, o.c.attempts)
                    .where(o.c.published_at.is_(None), o.c.next_attempt_at <= now)
                    .order_by(o.c.seq)
                    .limit(self._batch_size)
                )
            ).all()
        if not rows:
            return 0

        sent, failed = await self._publish(rows)
        await self._record(sent, failed)
        return len(rows)

    async def _publish(self, rows) -> tuple[list[int], list[tuple]]:
        futures = []
        for row in rows:
            try:
                futures.append(await self._js.publish_async(row.subject, row.data, headers={"Nats-Msg-Id": row.event_id}))
            except Exception as error:  # not even sent (connection down): retried with the others
                futures.append(_failed(error))
        done, pending = await asyncio.wait(futures, timeout=self._ack_timeout)
        for future in pending:
            future.cancel()
        sent, failed = [], []
        for row, future in zip(rows, futures):
            if future in done and not future.cancelled() and future.exception() is None:
                sent.append(row.seq)
            else:
                error = "no ack in time" if future in pending or future.cancelled() else repr(future.exception())
                failed.append((row, error))
        return sent, failed

    async def _record(self, sent: list[int], failed: list[tuple]) -> None:
        """Mark acked rows sent; push failed ones back with exponential backoff."""
        o = self._outbox
        finished = datetime.now(timezone.utc)
        async with self._db.transaction() as conn:
            if sent:
                await conn.execute(update(o).where(o.c.seq.in_(sent)).values(published_at=finished))
            for row, error in failed:
                delay = min(self._max_backoff, 0.5 * 2 ** row.attempts)
                await conn.execute(
                    update(o)
                    .where(o.c.seq == row.seq)
                    .values(attempts=o.c.attempts + 1, last_error=error[:2000], next_attempt_at=finished + timedelta(seconds=delay))
                )
        self.published += len(sent)
        if failed:
            log.warning("outbox publish failed", failed=len(failed), sent=len(sent), first_error=failed[0][1])

    async def backlog(self) -> int:
        async with self._db.transaction() as conn:
            return (await conn.execute(select(func.count()).select_from(self._outbox).where(self._outbox.c.published_at.is_(None)))).scalar_one()

    async def prune(self) -> int:
        """Forget rows published longer ago than the retention."""
        cutoff = datetime.now(timezone.utc) - self._retention
        async with self._db.transaction() as conn:
            result = await conn.execute(delete(self._outbox).where(self._outbox.c.published_at < cutoff))
        return result.rowcount or 0


def _failed(error: BaseException) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(error)
    return future
