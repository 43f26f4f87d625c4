"""Erasure across nodes: the home node asks every node that holds data about her to erase it."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from ..catalogue import Event, Scope
from ..types import Pseudonym, UtcDatetime


class ErasureRequested(Event):
    TYPE = "ErasureRequested"
    SCOPE = Scope.DIRECT

    erasure_id: UUID
    volunteer: Pseudonym
    placement_ids: list[UUID] = Field(default_factory=list, max_length=1000)


class ErasureCompleted(Event):
    """The receipt: what the target node erased, and when."""

    TYPE = "ErasureCompleted"
    SCOPE = Scope.DIRECT

    erasure_id: UUID
    volunteer: Pseudonym
    erased_at: UtcDatetime
    records_erased: int = Field(ge=0)
