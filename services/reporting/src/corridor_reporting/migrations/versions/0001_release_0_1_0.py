"""Release 0.1.0: the reporting service's tables as that release created them.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from corridor_runtime.migration.ops import create_delivery_tables_0_1_0, drop_delivery_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SERVICE = "reporting"


def upgrade() -> None:
    create_delivery_tables_0_1_0(SERVICE)
    op.create_table(
        "reporting_notification_failures",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_table(
        "reporting_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("host_country", sa.String(length=2), nullable=False),
        sa.Column("host_kind", sa.String(length=16), nullable=False),
        sa.Column("host_sector", sa.String(length=32), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    op.create_table(
        "reporting_outcomes",
        sa.Column("outcome_id", sa.String(length=36), nullable=False),
        sa.Column("home_country", sa.String(length=2), nullable=False),
        sa.Column("host_country", sa.String(length=2), nullable=False),
        sa.Column("host_sector", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("recorded_month", sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint("outcome_id"),
    )
    op.create_table(
        "reporting_placements",
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=True),
        sa.Column("opportunity_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("placement_id"),
    )
    op.create_table(
        "reporting_volunteers",
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("age_band", sa.String(length=8), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("volunteer_id"),
    )


def downgrade() -> None:
    op.drop_table("reporting_volunteers")
    op.drop_table("reporting_placements")
    op.drop_table("reporting_outcomes")
    op.drop_table("reporting_opportunities")
    op.drop_table("reporting_notification_failures")
    drop_delivery_tables(SERVICE)
