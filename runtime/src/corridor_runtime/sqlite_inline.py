"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs every call on a thread of its own and hands the result back through the event
loop: measured here, 341 µs a statement through SQLAlchemy against 1.5 µs for the same statement
on sqlite3 directly (benchmarks/README.md). A consumer's batch, a projection's replay and a placement request
are chains of small statements, so that hop was most of their time. This connection keeps
aiosqlite's API (SQLAlchemy's aiosqlite dialect drives it unchanged) but runs each call on the
event loop's own thread: a SQLite statement on a local file takes microseconds.

The one call that could block the loop for long is waiting for another connection's write lock.
So the busy handler waits only briefly (`BUSY_WAIT_MS`) and `Database` retries `BEGIN IMMEDIATE`
with an asynchronous sleep instead (see `database._sqlite_begin_immediate`). In WAL mode that is
the only place a writer waits; readers never wait for the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite

BUSY_WAIT_MS = 5


class _RunAtOnce:
    """Stands in for aiosqlite's queue to its thread: SQLAlchemy's dialect puts some calls there
    directly (setting `isolation_level`); they run when put."""

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # noqa: BLE001 - handed to the waiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(error)
        else:
            if future is not None and not future.done():
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, with every call made on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunAtOnce()

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):
        return self._connect().__await__()  # no thread to start

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def connect(database: str) -> InlineConnection:
    # check_same_thread=False: the pool may close a connection from the garbage collector's thread.
    return InlineConnection(lambda: sqlite3.connect(database, isolation_level=None, check_same_thread=False,
                                                    timeout=BUSY_WAIT_MS / 1000))
