"""The async database of one service: SQLite (WAL) by default, PostgreSQL from a URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from datetime import datetime, timezone

import structlog
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.types import TypeDecorator
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from . import sqlite_inline

log = structlog.get_logger("corridor.database")

WRITE_LOCK_PATIENCE = 10.0  # seconds a SQLite writer waits for another process's write lock


class UtcDateTime(TypeDecorator):
    """A point in time, stored in UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the corridor stores aware UTC times only")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options: dict = {"echo": echo}
        if self.is_sqlite:
            # Statements run on the event loop's thread, not aiosqlite's (sqlite_inline.py).
            path = parsed.database or ":memory:"
            options["async_creator"] = lambda: sqlite_inline.connect(path)
        else:
            options.update(pool_size=5, max_overflow=5, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin_immediate)
        # SQLite has one writer at a time. Writers of this process queue here, in order, rather than
        # in SQLite's busy handler, which sleeps in steps of up to 100 ms and so wakes long after the
        # lock is free (benchmarks/README.md: two consumers of one service spent most of a replay asleep there).
        self._writer = asyncio.Lock() if self.is_sqlite else None
        self._scrubbing: set[asyncio.Task] = set()

    async def create_tables(self, metadata: MetaData) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold around a write transaction: on SQLite, this process's writers take turns here."""
        if self._writer is None:
            yield
            return
        async with self._writer:
            yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        async with self.writing(), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction: on SQLite it does not take the write lock (WAL readers run
        beside the writer), so a reader never waits in SQLite's busy handler behind a writer."""
        async with self.engine.connect() as connection:
            await connection.execution_options(corridor_read_only=True)
            async with connection.begin():
                yield connection

    async def scrub(self) -> None:
        """After personal data was erased: on SQLite, the write-ahead log holds the pages as they
        were until a checkpoint copies them back (its file keeps them until truncated); with
        secure_delete on (every connection), the database file keeps no deleted content. Checkpoint
        now and truncate the log. Readers in the middle of a transaction can hold a checkpoint back:
        try again a few times. (On PostgreSQL, VACUUM and the server's WAL recycling do this.)"""
        if not self.is_sqlite:
            return
        for attempt in range(20):
            async with self.writing(), self.engine.connect() as connection:
                busy = await connection.run_sync(_checkpoint)
            if not busy:
                return
            await asyncio.sleep(0.05 * (attempt + 1))
        log.warning("could not checkpoint the write-ahead log after an erasure: readers held it", database=self.url)

    def scrub_soon(self) -> None:
        """Scrub after this commit, in the background (an after-commit callback)."""
        task = asyncio.get_running_loop().create_task(self.scrub())
        self._scrubbing.add(task)
        task.add_done_callback(self._scrubbing.discard)

    async def dispose(self) -> None:
        for task in list(self._scrubbing):
            await asyncio.gather(task, return_exceptions=True)
        await self.engine.dispose()


def _checkpoint(connection) -> bool:
    """PRAGMA wal_checkpoint(TRUNCATE) outside any transaction (the driver connection is in
    autocommit mode; SQLAlchemy's own execute would begin one first). True if readers held it back."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _, _ = cursor.fetchone()
    finally:
        cursor.close()
    return bool(busy)


def _while_locked(statement) -> None:
    """Run a statement, waiting (asynchronously, as _sqlite_begin_immediate does) while another
    connection holds the lock it needs: a file shared by several processes (the node's access store)
    is switched to WAL by the first of them to open it, while the others wait."""
    deadline, pause = time.monotonic() + WRITE_LOCK_PATIENCE, 0.001
    while True:
        try:
            statement()
            return
        except Exception as error:  # the driver's OperationalError, before SQLAlchemy wraps it
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        await_(asyncio.sleep(pause))
        pause = min(pause * 2, 0.05)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin_immediate): the connection is opened in
    # autocommit mode (sqlite_inline.connect), without pysqlite's lazy BEGIN.
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; NORMAL sync is durable across process crashes
    # (an OS crash may lose the last transactions). The busy handler waits only briefly: it would
    # block the event loop; a writer waits for another's lock in _sqlite_begin_immediate instead.
    _while_locked(lambda: cursor.execute("PRAGMA journal_mode=WAL"))
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_WAIT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted and overwritten content is zeroed, not left in free space: erasure must reach the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # Take the write lock at BEGIN: a deferred transaction that reads and then writes fails with
    # SQLITE_BUSY (without waiting) when another connection wrote in between. A read-only one
    # (Database.reading) never writes, so it begins deferred and takes no lock.
    #
    # Another process (or another engine of this one) may hold the write lock: wait for it with an
    # asynchronous sleep, so the event loop goes on serving meanwhile (the statements run on its
    # thread). This runs inside SQLAlchemy's greenlet, where await_ hands the sleep to the loop.
    if connection.get_execution_options().get("corridor_read_only", False):
        connection.exec_driver_sql("BEGIN")
        return
    deadline, pause = time.monotonic() + WRITE_LOCK_PATIENCE, 0.001
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except sa_exc.OperationalError as error:
            if "locked" not in str(error.orig) or time.monotonic() > deadline:
                raise
        await_(asyncio.sleep(pause))
        pause = min(pause * 2, 0.05)


async def upsert(session, table, key: str, key_value, values: dict) -> None:
    """Insert or update one row of a read model by its key (portable across SQLite and PostgreSQL;
    the consumer's transaction and inbox make it safe under redelivery)."""
    done = await session.execute(table.update().where(table.c[key] == key_value).values(**values))
    if done.rowcount == 0:
        await session.execute(table.insert().values(**{key: key_value}, **values))
