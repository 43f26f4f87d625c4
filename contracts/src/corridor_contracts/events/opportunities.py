"""Opportunities, broadcast by their host node to the whole corridor with their free slots."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field, model_validator

from ..catalogue import Event, Scope
from ..types import LongText, ShortText
from ..values import HostSummary, LanguageSkill, OpportunityPlace, SkillRequirement


REVISION = ("Raised by the host with every version of the opportunity: receivers apply a version only if its "
            "revision is higher than the one they applied (absent from hosts on older code)")


class OpportunityPublished(Event):
    TYPE = "OpportunityPublished"
    SCOPE = Scope.BROADCAST

    opportunity_id: UUID
    host: HostSummary
    title: ShortText
    description: LongText = ""
    required_skills: list[SkillRequirement] = Field(default_factory=list, max_length=50)
    languages: list[LanguageSkill] = Field(default_factory=list, max_length=10)
    place: OpportunityPlace
    hours_per_week: int = Field(ge=1, le=60)
    starts_on: date
    ends_on: date | None = None
    application_deadline: date | None = None
    slots_total: int = Field(ge=1, le=1000)
    slots_free: int = Field(ge=0, le=1000)
    revision: int | None = Field(default=None, ge=1, le=2**53, description=REVISION)
    trains_newcomers: bool = Field(default=False, description=(
        "the host teaches the skills it asks for: an essential skill she lacks does not rule her out"))

    @model_validator(mode="after")
    def _consistent(self):
        if self.slots_free > self.slots_total:
            raise ValueError("slots_free exceeds slots_total")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class OpportunityUpdated(OpportunityPublished):
    """The whole opportunity after the change, with its current free slots."""

    TYPE = "OpportunityUpdated"


class ClosingReason(StrEnum):
    FILLED = "filled"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class OpportunityClosed(Event):
    TYPE = "OpportunityClosed"
    SCOPE = Scope.BROADCAST

    opportunity_id: UUID
    reason: ClosingReason
    slots_free: int = Field(ge=0, le=1000)
    revision: int | None = Field(default=None, ge=1, le=2**53, description=REVISION)
