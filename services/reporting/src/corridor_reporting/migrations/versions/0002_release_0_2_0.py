"""Release 0.2.0: the authority ledger, and outcomes kept one by one beside the figures each node publishes.

Adds only what is missing, so that a database written before schemas were versioned (by any commit
after release 0.1.0) is brought up to this release too.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from corridor_runtime.migration.ops import (
    create_index_if_missing,
    create_table_if_missing,
    downgrade_delivery_tables_0_2_0,
    upgrade_delivery_tables_0_2_0,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERVICE = "reporting"


def upgrade() -> None:
    upgrade_delivery_tables_0_2_0(SERVICE)
    create_table_if_missing(
        "reporting_outcome_figures",
        sa.Column("node", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )
    create_table_if_missing(
        "reporting_outcome_records",
        sa.Column("outcome_id", sa.String(length=36), nullable=False),
        sa.Column("home_node", sa.String(length=16), nullable=False),
        sa.Column("home_country", sa.String(length=2), nullable=False),
        sa.Column("host_country", sa.String(length=2), nullable=False),
        sa.Column("host_sector", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("recorded_month", sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint("outcome_id"),
    )
    create_index_if_missing(
        "ix_reporting_outcome_records_home_node", "reporting_outcome_records", ["home_node"], unique=False
    )
    create_table_if_missing(
        "reporting_outcome_release",
        sa.Column("node", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("published", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node"),
    )


def downgrade() -> None:
    op.drop_table("reporting_outcome_release")
    op.drop_table("reporting_outcome_records")
    op.drop_table("reporting_outcome_figures")
    downgrade_delivery_tables_0_2_0(SERVICE)
