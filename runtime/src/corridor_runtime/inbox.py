"""The idempotent inbox: which events a consumer has applied, written in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import DeliveryTables


class Inbox:
    def __init__(self, tables: DeliveryTables, consumer: str) -> None:
        self._table = tables.inbox
        self._consumer = consumer

    async def seen(self, session: AsyncSession, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        t = self._table
        rows = await session.execute(select(t.c.event_id).where(t.c.consumer == self._consumer, t.c.event_id.in_(ids)))
        return {r[0] for r in rows}

    async def record(self, session: AsyncSession, event_ids: Iterable[str]) -> None:
        now = datetime.now(timezone.utc)
        rows = [{"consumer": self._consumer, "event_id": i, "processed_at": now} for i in event_ids]
        if rows:
            await session.execute(insert(self._table), rows)

    async def prune(self, session: AsyncSession, older_than: timedelta) -> int:
        t = self._table
        cutoff = datetime.now(timezone.utc) - older_than
        result = await session.execute(delete(t).where(t.c.consumer == self._consumer, t.c.processed_at < cutoff))
        return result.rowcount or 0
