"""The profiles service's own tables (no other service reads them).

Personal data lives only in `profiles_volunteers` (and, on a host node, the consented contacts in
`profiles_host_placements`); erasure clears it there and keeps the row's pseudonymous remainder.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    text,
)

from corridor_runtime.database import UtcDateTime

metadata = MetaData()

volunteers = Table(
    "profiles_volunteers",
    metadata,
    Column("volunteer_id", String(36), primary_key=True),
    Column("reference", String(100), nullable=True, unique=True),  # the partner's own id (CSV re-imports)
    Column("status", String(16), nullable=False),  # active | erased
    Column("given_name", String(200), nullable=True),
    Column("family_name", String(200), nullable=True),
    Column("email", String(254), nullable=True),
    Column("phone", String(40), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("profile", JSON, nullable=True),  # the rest of the profile (languages, skills, place, ...)
    Column("registered_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("erased_at", UtcDateTime, nullable=True),
)

organisations = Table(
    "profiles_organisations",
    metadata,
    Column("organisation_id", String(36), primary_key=True),
    Column("reference", String(100), nullable=True, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("sector", String(32), nullable=False),
    Column("country", String(2), nullable=False),
    Column("city", String(200), nullable=True),
    Column("contact", JSON, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
)

opportunities = Table(
    "profiles_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("reference", String(100), nullable=True, unique=True),
    Column("organisation_id", String(36), ForeignKey("profiles_organisations.organisation_id"), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("closing_reason", String(16), nullable=True),
    Column("details", JSON, nullable=False),  # title, description, skills, languages, place, hours, dates
    Column("slots_total", Integer, nullable=False),
    Column("slots_taken", Integer, nullable=False),
    Column("application_deadline", Date, nullable=True),
    Column("published_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Raised with every version broadcast: receivers apply a version only if it is newer.
    Column("revision", Integer, nullable=False, server_default=text("0")),
)

# The host side of placements: requests for this node's slots, and their life afterwards.
host_placements = Table(
    "profiles_host_placements",
    metadata,
    Column("placement_id", String(36), primary_key=True),
    Column("opportunity_id", String(36), nullable=False, index=True),
    Column("home_node", String(16), nullable=False),
    Column("correlation_id", String(36), nullable=False),  # the placement journey, for every later event
    Column("volunteer", String(43), nullable=False),  # her pseudonym toward this node
    Column("status", String(16), nullable=False),  # declined | confirmed | started | completed | withdrawn
    Column("decline_reason", String(16), nullable=True),
    Column("holds_slot", Boolean, nullable=False),
    Column("contact", JSON, nullable=True),  # the consented disclosure (ContactDisclosed)
    Column("started_on", Date, nullable=True),
    Column("completed_on", Date, nullable=True),
    Column("skills_practised", JSON, nullable=True),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The erasure that emptied it: her home node may ask again (it had no receipt), and is answered again.
    Column("erasure_id", String(36), nullable=True),
)

hours_entries = Table(
    "profiles_hours_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("placement_id", String(36), ForeignKey("profiles_host_placements.placement_id"), nullable=False, index=True),
    Column("worked_on", Date, nullable=False),
    Column("hours", Numeric(4, 2), nullable=False),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("approved_by", String(200), nullable=True),
)

outcomes = Table(
    "profiles_outcomes",
    metadata,
    Column("outcome_id", String(36), primary_key=True),
    Column("volunteer_id", String(36), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("recorded_on", Date, nullable=False),
    Column("dimensions", JSON, nullable=False),  # the coarse dimensions of the outcome (OutcomeRecorded, kept on this node)
    UniqueConstraint("volunteer_id", "recorded_on", "outcome", name="uq_profiles_outcome_once"),
)

# What this node knows of the corridor's opportunities (its own and its peers'), to describe the
# host of a placement in an anonymised outcome.
corridor_opportunities = Table(
    "profiles_corridor_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("host_country", String(2), nullable=False),
    Column("host_kind", String(16), nullable=False),
    Column("host_sector", String(32), nullable=False),
)
