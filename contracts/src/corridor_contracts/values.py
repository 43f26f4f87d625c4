"""Value objects that events are made of."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from typing import Annotated

from .types import (
    CEFRLevel,
    CountryCode,
    LanguageCode,
    OrganisationKind,
    Sector,
    ShortText,
    SkillCode,
    SkillLevel,
    UtcDatetime,
)

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{6,20}$")]


class Value(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LanguageSkill(Value):
    language: LanguageCode
    level: CEFRLevel


class SkillRequirement(Value):
    code: SkillCode
    level: SkillLevel = SkillLevel.BASIC
    essential: bool = True


class Availability(Value):
    hours_per_week: int = Field(ge=1, le=60)
    available_from: date
    available_until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Availability:
        if self.available_until is not None and self.available_until < self.available_from:
            raise ValueError("available_until is before available_from")
        return self


class VolunteerPlace(Value):
    """Where she lives and how far she can go. Local events only: a city is a quasi-identifier."""

    country: CountryCode
    region: ShortText | None = None
    city: ShortText | None = None
    willing_to_move: bool = False
    remote_only: bool = False


class OpportunityPlace(Value):
    country: CountryCode
    region: ShortText | None = None
    city: ShortText | None = None
    remote: bool = False


class Consents(Value):
    """When each consent was given; None means not given (or withdrawn)."""

    processing: UtcDatetime | None = None
    share_match_profile: UtcDatetime | None = None
    disclose_contact: UtcDatetime | None = None


class ConsentKind(StrEnum):
    PROCESSING = "processing"
    SHARE_MATCH_PROFILE = "share_match_profile"
    DISCLOSE_CONTACT = "disclose_contact"


class HostSummary(Value):
    """The host organisation as the corridor sees it (an organisation, not a person)."""

    organisation_id: UUID
    organisation_name: ShortText
    kind: OrganisationKind
    sector: Sector
    country: CountryCode


class MatchReason(Value):
    """One reason for a match, as a code and figures, so each node renders it in its own language."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
    weight: float = Field(ge=0, le=1)
    skill: SkillCode | None = None
    language: LanguageCode | None = None


class MatchSummary(Value):
    score: float = Field(ge=0, le=1)
    reasons: list[MatchReason] = Field(default_factory=list, max_length=20)
    languages: list[LanguageSkill] = Field(default_factory=list, max_length=20)
    skills: list[SkillCode] = Field(default_factory=list, max_length=50)


Hours = Annotated[Decimal, Field(gt=0, le=24, max_digits=4, decimal_places=2)]
TotalHours = Annotated[Decimal, Field(ge=0, le=10000, max_digits=7, decimal_places=2)]
