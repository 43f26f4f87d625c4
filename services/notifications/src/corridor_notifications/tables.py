"""The notifications service's own tables: its contact directory, what it knows of placements, and
the delivery log that makes each (event, recipient, channel) message go out exactly once."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, Text, UniqueConstraint

from corridor_runtime.database import UtcDateTime

metadata = MetaData()

# Volunteers of this node and contact persons of its host organisations (from local events).
recipients = Table(
    "notifications_recipients",
    metadata,
    Column("recipient_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # volunteer | organisation
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=True),
    Column("language", String(2), nullable=False),
)

opportunities = Table(
    "notifications_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("summary", JSON, nullable=False),  # title, organisation, place, dates (from broadcasts)
)

# Home side: whose placement it is. Host side: which opportunity a request was for.
placements = Table(
    "notifications_placements",
    metadata,
    Column("placement_id", String(36), primary_key=True),
    Column("volunteer_id", String(36), nullable=True, index=True),
    Column("opportunity_id", String(36), nullable=False),
    Column("proposal_expires_at", UtcDateTime, nullable=True),
    Column("reminded", Boolean, nullable=False, default=False),
    # Host side: confirmed and not yet started is what a host organisation has to act on (digest).
    Column("host_status", String(16), nullable=True),
    Column("host_status_since", UtcDateTime, nullable=True),
)

deliveries = Table(
    "notifications_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("cause_event_id", String(36), nullable=False),
    Column("placement_id", String(36), nullable=True, index=True),  # the placement it is about, if one
    Column("recipient_id", String(36), nullable=False, index=True),
    Column("recipient_kind", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("language", String(2), nullable=False),
    Column("address", String(254), nullable=True),
    Column("subject", String(300), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    UniqueConstraint("cause_event_id", "recipient_id", "channel", "kind", name="uq_notifications_once"),
)
