"""Release 0.2.0: the authority ledger, erasures across nodes (asked again until their receipt comes) and their
receipts, and hours logged per placement.

Adds only what is missing, so that a database written before schemas were versioned (by any commit
after release 0.1.0) is brought up to this release too.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from corridor_runtime.migration.ops import (
    add_column_if_missing,
    create_index_if_missing,
    create_table_if_missing,
    downgrade_delivery_tables_0_2_0,
    upgrade_delivery_tables_0_2_0,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERVICE = "matching"


def upgrade() -> None:
    upgrade_delivery_tables_0_2_0(SERVICE)
    create_table_if_missing(
        "matching_erasure_receipts",
        sa.Column("erasure_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id", "service"),
    )
    create_table_if_missing(
        "matching_erasures",
        sa.Column("erasure_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("host_node", sa.String(length=16), nullable=False),
        sa.Column("placement_ids", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records_erased", sa.Integer(), nullable=True),
        sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("times_asked", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id"),
    )
    add_column_if_missing("matching_erasures", sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True))
    add_column_if_missing(
        "matching_erasures", sa.Column("times_asked", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    create_index_if_missing("ix_matching_erasures_volunteer_id", "matching_erasures", ["volunteer_id"], unique=False)
    create_table_if_missing(
        "matching_placement_hours",
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("logged", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("reported", sa.Numeric(precision=8, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("placement_id"),
    )


def downgrade() -> None:
    op.drop_table("matching_placement_hours")
    op.drop_table("matching_erasures")
    op.drop_table("matching_erasure_receipts")
    downgrade_delivery_tables_0_2_0(SERVICE)
