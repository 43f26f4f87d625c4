"""The reporting service's projections: pseudonymous facts, never a name or a contact."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Integer, MetaData, Numeric, String, Table

from corridor_runtime.database import UtcDateTime

metadata = MetaData()

volunteers = Table(
    "reporting_volunteers",
    metadata,
    Column("volunteer_id", String(36), primary_key=True),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("country", String(2), nullable=False),
    Column("origin", String(2), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("skills", JSON, nullable=False),
)

placements = Table(
    "reporting_placements",
    metadata,
    Column("placement_id", String(36), primary_key=True),
    Column("volunteer_id", String(36), nullable=True),
    Column("opportunity_id", String(36), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_rank", Integer, nullable=False),
    Column("proposed_at", UtcDateTime, nullable=True),
    Column("confirmed_at", UtcDateTime, nullable=True),
    Column("hours", Numeric(8, 2), nullable=False, default=0),
)

opportunities = Table(
    "reporting_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("host_country", String(2), nullable=False),
    Column("host_kind", String(16), nullable=False),
    Column("host_sector", String(32), nullable=False),
    Column("skills", JSON, nullable=False),
)

outcomes = Table(
    "reporting_outcomes",
    metadata,
    Column("outcome_id", String(36), primary_key=True),
    Column("home_country", String(2), nullable=False),
    Column("host_country", String(2), nullable=False),
    Column("host_sector", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("recorded_month", String(7), nullable=False),
)

notification_failures = Table(
    "reporting_notification_failures",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
)

PROJECTIONS = (volunteers, placements, opportunities, outcomes, notification_failures)
