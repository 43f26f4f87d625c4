"""The home node's record of its placements, for its own services (local: it never leaves the node)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from ..catalogue import Event, Scope
from ..types import UtcDatetime


class PlacementStatusChanged(Event):
    """Matching changed the status of one of this node's placements (the home side: proposed,
    requested, confirmed, started, completed, declined, declined_by_host, withdrawn, expired,
    compensated). Reporting takes its figures' statuses from it, so they never differ from matching's,
    whatever the host's events and in whatever order they came."""

    TYPE = "PlacementStatusChanged"
    SCOPE = Scope.LOCAL

    placement_id: UUID
    volunteer_id: UUID
    opportunity_id: UUID
    status: str = Field(pattern=r"^[a-z_]{2,32}$")
    changed_at: UtcDatetime
