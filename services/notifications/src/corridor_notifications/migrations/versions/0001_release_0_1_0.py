"""Release 0.1.0: the notifications service's tables as that release created them.

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

SERVICE = "notifications"


def upgrade() -> None:
    create_delivery_tables_0_1_0(SERVICE)
    op.create_table(
        "notifications_deliveries",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("cause_event_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id"),
        sa.UniqueConstraint("cause_event_id", "recipient_id", "channel", "kind", name="uq_notifications_once"),
    )
    op.create_index(
        "ix_notifications_deliveries_recipient_id", "notifications_deliveries", ["recipient_id"], unique=False
    )
    op.create_index("ix_notifications_deliveries_status", "notifications_deliveries", ["status"], unique=False)
    op.create_table(
        "notifications_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    op.create_table(
        "notifications_placements",
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=True),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("proposal_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("host_status", sa.String(length=16), nullable=True),
        sa.Column("host_status_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("placement_id"),
    )
    op.create_index(
        "ix_notifications_placements_volunteer_id", "notifications_placements", ["volunteer_id"], unique=False
    )
    op.create_table(
        "notifications_recipients",
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("recipient_id"),
    )


def downgrade() -> None:
    op.drop_table("notifications_recipients")
    op.drop_table("notifications_placements")
    op.drop_table("notifications_opportunities")
    op.drop_table("notifications_deliveries")
    drop_delivery_tables(SERVICE)
