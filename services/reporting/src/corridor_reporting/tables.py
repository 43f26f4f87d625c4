"""The reporting service's projections: pseudonymous facts, never a name or a contact."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, MetaData, Numeric, String, Table

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

# Outcomes as nodes on older code broadcast them one by one (PlacementOutcome v1), as projected
# before outcomes had their home node: written no more, read once into outcome_records
# (outcome_figures.adopt_older_outcomes), emptied by a rebuild.
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

# Every follow-up outcome this node knows one by one, with her home node: its own (OutcomeRecorded,
# from LOCAL) and those of partners on older code (PlacementOutcome v1, from IN). Kept across a
# rebuild, which only adds to it again: a replay reads at most the streams' 90 days, and this
# node's published figures count its outcomes of all time.
outcome_records = Table(
    "reporting_outcome_records",
    metadata,
    Column("outcome_id", String(36), primary_key=True),
    Column("home_node", String(16), nullable=False, index=True),
    Column("home_country", String(2), nullable=False),
    Column("host_country", String(2), nullable=False),
    Column("host_sector", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("recorded_month", String(7), nullable=False),
)

# The latest OutcomeFigures of each node (this one's too, as it comes back through IN), as published.
received_figures = Table(
    "reporting_outcome_figures",
    metadata,
    Column("node", String(16), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("figures", JSON, nullable=False),  # the table as published: rows, columns, cells, totals (null: hidden)
)

# What this node last published of its own outcomes: the revision, and the counts it was computed
# from (never published), so that each host country's column changes only by `threshold` outcomes
# or more (outcome_figures.py). Kept across a rebuild.
outcome_release = Table(
    "reporting_outcome_release",
    metadata,
    Column("node", String(16), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("counts", JSON, nullable=False),  # [[outcome, host country, count], ...]
    Column("published", JSON, nullable=False),  # the suppressed table as broadcast
    Column("published_at", UtcDateTime, nullable=False),
)

notification_failures = Table(
    "reporting_notification_failures",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
)

# Emptied by a rebuild, and filled again from the streams.
PROJECTIONS = (volunteers, placements, opportunities, outcomes, notification_failures, received_figures)
