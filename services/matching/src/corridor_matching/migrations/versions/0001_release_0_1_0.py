"""Release 0.1.0: the matching service's tables as that release created them.

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

SERVICE = "matching"


def upgrade() -> None:
    create_delivery_tables_0_1_0(SERVICE)
    op.create_table(
        "matching_exclusions",
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("volunteer_id", "opportunity_id"),
    )
    op.create_table(
        "matching_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("host_node", sa.String(length=16), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("slots_free", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    op.create_table(
        "matching_placements",
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("host_node", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("score", sa.Numeric(precision=8, scale=6), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("proposal_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.String(length=16), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("skills_practised", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("placement_id"),
    )
    op.create_index("ix_matching_placements_opportunity_id", "matching_placements", ["opportunity_id"], unique=False)
    op.create_index("ix_matching_placements_status", "matching_placements", ["status"], unique=False)
    op.create_index("ix_matching_placements_volunteer_id", "matching_placements", ["volunteer_id"], unique=False)
    op.create_table(
        "matching_volunteers",
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=True),
        sa.Column("shares_profile", sa.Boolean(), nullable=False),
        sa.Column("discloses_contact_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("volunteer_id"),
    )


def downgrade() -> None:
    op.drop_table("matching_volunteers")
    op.drop_table("matching_placements")
    op.drop_table("matching_opportunities")
    op.drop_table("matching_exclusions")
    drop_delivery_tables(SERVICE)
