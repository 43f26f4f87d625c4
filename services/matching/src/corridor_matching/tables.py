"""The matching service's own tables: its read models and the home side of placements."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Integer, MetaData, Numeric, String, Table, text

from corridor_runtime.database import UtcDateTime

metadata = MetaData()

# This node's volunteers as matching needs them (from local events). `contact` is kept only for the
# disclosure she consents to, and is cleared when she is erased.
volunteers = Table(
    "matching_volunteers",
    metadata,
    Column("volunteer_id", String(36), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("profile", JSON, nullable=True),
    Column("contact", JSON, nullable=True),
    Column("shares_profile", Boolean, nullable=False),
    Column("discloses_contact_since", UtcDateTime, nullable=True),
    Column("waiting_since", UtcDateTime, nullable=True),
)

# Every open opportunity of the corridor (broadcast events), with its free slots.
opportunities = Table(
    "matching_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("host_node", String(16), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("slots_free", Integer, nullable=False),
    Column("details", JSON, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The home side of each placement, from proposal to outcome.
placements = Table(
    "matching_placements",
    metadata,
    Column("placement_id", String(36), primary_key=True),
    Column("volunteer_id", String(36), nullable=False, index=True),
    Column("opportunity_id", String(36), nullable=False, index=True),
    Column("host_node", String(16), nullable=False),
    Column("status", String(24), nullable=False, index=True),
    Column("score", Numeric(8, 6), nullable=False),
    Column("match", JSON, nullable=False),
    Column("correlation_id", String(36), nullable=False),
    Column("proposal_expires_at", UtcDateTime, nullable=False),
    Column("reminded_at", UtcDateTime, nullable=True),
    Column("request_expires_at", UtcDateTime, nullable=True),
    Column("decline_reason", String(16), nullable=True),
    Column("started_on", Date, nullable=True),
    Column("completed_on", Date, nullable=True),
    Column("hours", Numeric(8, 2), nullable=False, default=0),
    Column("skills_practised", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Pairs never to propose again: she declined, the host declined, or the proposal expired.
exclusions = Table(
    "matching_exclusions",
    metadata,
    Column("volunteer_id", String(36), primary_key=True),
    Column("opportunity_id", String(36), primary_key=True),
    Column("reason", String(24), nullable=False),
)

# Erasure across nodes (home side): one request per host node that holds data about her, and its
# receipt. Keeps her random id (not personal once she is erased) so an operator can see what is missing.
erasures = Table(
    "matching_erasures",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("volunteer_id", String(36), nullable=False, index=True),
    Column("host_node", String(16), nullable=False),
    Column("placement_ids", JSON, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("receipt_at", UtcDateTime, nullable=True),  # when the host says it erased
    Column("records_erased", Integer, nullable=True),
    # Asked again while no receipt comes (a host on an older release, a lost message): when last, how often.
    Column("last_asked_at", UtcDateTime, nullable=True),
    Column("times_asked", Integer, nullable=False, server_default=text("1")),
)

# Each service of the host that erased something sends its own receipt: what it erased, and when.
erasure_receipts = Table(
    "matching_erasure_receipts",
    metadata,
    Column("erasure_id", String(36), primary_key=True),
    Column("service", String(32), primary_key=True),  # "" for an older node's single unnamed receipt
    Column("erased_at", UtcDateTime, nullable=False),
    Column("erased", JSON, nullable=False),
)
