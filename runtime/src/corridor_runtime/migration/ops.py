"""What the revisions of every service share: the delivery tables at each release, and operations
that do only what is missing.

A revision, once released, never changes; nor does a function here that a released revision calls
(a later release adds a new function instead). The tolerant operations exist for the first upgrade:
a database written before schemas were versioned may already hold some of what it adds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def has_table(name: str) -> bool:
    return _inspector().has_table(name)


def create_table_if_missing(name: str, *columns: Any, **kw: Any) -> bool:
    if has_table(name):
        return False
    op.create_table(name, *columns, **kw)
    return True


def add_column_if_missing(table: str, column: sa.Column) -> None:
    if column.name not in {c["name"] for c in _inspector().get_columns(table)}:
        op.add_column(table, column)


def create_index_if_missing(name: str, table: str, columns: list[str], **kw: Any) -> None:
    if name not in {i["name"] for i in _inspector().get_indexes(table)}:
        op.create_index(name, table, columns, **kw)


def drop_index_if_present(name: str, table: str) -> None:
    if name in {i["name"] for i in _inspector().get_indexes(table)}:
        op.drop_index(name, table_name=table)


def _unpublished() -> dict[str, Any]:
    return {"sqlite_where": sa.text("published_at IS NULL"), "postgresql_where": sa.text("published_at IS NULL")}


def create_delivery_tables_0_1_0(service: str) -> None:
    """A service's outbox and inbox as release 0.1.0 made them."""
    op.create_table(
        f"{service}_outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(f"ix_{service}_outbox_pending", f"{service}_outbox", ["next_attempt_at", "seq"], unique=False,
                    **_unpublished())
    op.create_table(
        f"{service}_inbox",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_index(f"ix_{service}_inbox_processed_at", f"{service}_inbox", ["processed_at"], unique=False)


def upgrade_delivery_tables_0_2_0(service: str) -> None:
    """Release 0.2.0: the authority ledger; the outbox's pending rows found by seq alone, and each
    row's trace context (W3C traceparent) to send with it."""
    create_table_if_missing(
        f"{service}_authority",
        sa.Column("datum", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=16), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("stated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("datum"),
    )
    drop_index_if_present(f"ix_{service}_outbox_pending", f"{service}_outbox")
    create_index_if_missing(f"ix_{service}_outbox_unpublished", f"{service}_outbox", ["seq"], unique=False,
                            **_unpublished())
    add_column_if_missing(f"{service}_outbox", sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade_delivery_tables_0_2_0(service: str) -> None:
    with op.batch_alter_table(f"{service}_outbox") as table:
        table.drop_column("traceparent")
    op.drop_index(f"ix_{service}_outbox_unpublished", table_name=f"{service}_outbox")
    op.create_index(f"ix_{service}_outbox_pending", f"{service}_outbox", ["next_attempt_at", "seq"], unique=False,
                    **_unpublished())
    op.drop_table(f"{service}_authority")


def drop_delivery_tables(service: str) -> None:
    op.drop_table(f"{service}_inbox")
    op.drop_table(f"{service}_outbox")
