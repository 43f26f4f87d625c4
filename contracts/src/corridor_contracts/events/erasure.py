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
    """A receipt: what the target node erased, and when. Each service of the node that held data
    about her sends its own, naming itself and what it erased (an older node sends one, unnamed)."""

    TYPE = "ErasureCompleted"
    SCOPE = Scope.DIRECT

    erasure_id: UUID
    volunteer: Pseudonym
    erased_at: UtcDatetime
    records_erased: int = Field(ge=0)
    service: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,31}$",
                                description="the service of the node this receipt is from")
    erased: dict[str, int] = Field(default_factory=dict, max_length=20,
                                   description="what the service erased, by kind (e.g. placements, contacts, mail files): how many")
