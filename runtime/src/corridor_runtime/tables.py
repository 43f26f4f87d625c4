"""The delivery tables a service keeps beside its own: its outbox, its inbox and its authority ledger.

Each service owns its tables, so their names carry the service's name (one PostgreSQL database
can hold a whole node; on SQLite each service has its own file anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, text

from .authority import define_table as define_authority_table
from .database import UtcDateTime


@dataclass(frozen=True)
class DeliveryTables:
    outbox: Table
    inbox: Table
    authority: Table  # who owns each shared datum this service has heard of (authority.py)

    @classmethod
    def define(cls, metadata: MetaData, service: str) -> DeliveryTables:
        outbox = Table(
            f"{service}_outbox",
            metadata,
            Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
            Column("event_id", String(36), nullable=False, unique=True),
            Column("subject", String(255), nullable=False),
            Column("data", LargeBinary, nullable=False),
            Column("correlation_id", String(36), nullable=False),
            Column("created_at", UtcDateTime, nullable=False),
            Column("published_at", UtcDateTime, nullable=True),
            Column("attempts", Integer, nullable=False, server_default=text("0")),
            Column("next_attempt_at", UtcDateTime, nullable=False),
            Column("last_error", Text, nullable=True),
            # W3C traceparent of the span that emitted the event, sent as a message header (telemetry.py)
            Column("traceparent", String(55), nullable=True),
        )
        # The relay reads pending rows in seq order, a batch at a time: an index on seq alone lets
        # PostgreSQL read the first rows of the batch and stop. On (next_attempt_at, seq) it sorted
        # every due row for each batch (20-110 ms a batch behind a 200,000-row backlog, benchmarks/README.md).
        # Rows waiting for a retry are few; they are filtered out as the index is read.
        Index(
            f"ix_{service}_outbox_unpublished",
            outbox.c.seq,
            sqlite_where=outbox.c.published_at.is_(None),
            postgresql_where=outbox.c.published_at.is_(None),
        )
        inbox = Table(
            f"{service}_inbox",
            metadata,
            Column("consumer", String(64), primary_key=True),
            Column("event_id", String(36), primary_key=True),
            Column("processed_at", UtcDateTime, nullable=False, index=True),
        )
        return cls(outbox=outbox, inbox=inbox, authority=define_authority_table(metadata, service))
