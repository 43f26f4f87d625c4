"""Release 0.1.0: the profiles service's tables as that release created them.

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

SERVICE = "profiles"


def upgrade() -> None:
    create_delivery_tables_0_1_0(SERVICE)
    op.create_table(
        "profiles_corridor_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("host_country", sa.String(length=2), nullable=False),
        sa.Column("host_kind", sa.String(length=16), nullable=False),
        sa.Column("host_sector", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    op.create_table(
        "profiles_host_placements",
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("home_node", sa.String(length=16), nullable=False),
        sa.Column("correlation_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer", sa.String(length=43), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decline_reason", sa.String(length=16), nullable=True),
        sa.Column("holds_slot", sa.Boolean(), nullable=False),
        sa.Column("contact", sa.JSON(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("skills_practised", sa.JSON(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("placement_id"),
    )
    op.create_index(
        "ix_profiles_host_placements_opportunity_id", "profiles_host_placements", ["opportunity_id"], unique=False
    )
    op.create_table(
        "profiles_organisations",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "profiles_outcomes",
        sa.Column("outcome_id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("outcome_id"),
        sa.UniqueConstraint("volunteer_id", "recorded_on", "outcome", name="uq_profiles_outcome_once"),
    )
    op.create_index("ix_profiles_outcomes_volunteer_id", "profiles_outcomes", ["volunteer_id"], unique=False)
    op.create_table(
        "profiles_volunteers",
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("volunteer_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_table(
        "profiles_hours_entries",
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("placement_id", sa.String(length=36), nullable=False),
        sa.Column("worked_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["placement_id"],
            ["profiles_host_placements.placement_id"],
        ),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    op.create_index("ix_profiles_hours_entries_placement_id", "profiles_hours_entries", ["placement_id"], unique=False)
    op.create_table(
        "profiles_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closing_reason", sa.String(length=16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("slots_total", sa.Integer(), nullable=False),
        sa.Column("slots_taken", sa.Integer(), nullable=False),
        sa.Column("application_deadline", sa.Date(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["profiles_organisations.organisation_id"],
        ),
        sa.PrimaryKeyConstraint("opportunity_id"),
        sa.UniqueConstraint("reference"),
    )


def downgrade() -> None:
    op.drop_table("profiles_opportunities")
    op.drop_table("profiles_hours_entries")
    op.drop_table("profiles_volunteers")
    op.drop_table("profiles_outcomes")
    op.drop_table("profiles_organisations")
    op.drop_table("profiles_host_placements")
    op.drop_table("profiles_corridor_opportunities")
    drop_delivery_tables(SERVICE)
