"""Volunteer events: local only. They carry her personal data and never leave her home node."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from ..catalogue import Event, Scope
from ..types import CountryCode, LanguageCode, Sector, ShortText, SkillCode, UtcDatetime
from datetime import date

from ..values import (
    Availability,
    ConsentKind,
    Consents,
    Email,
    LanguageSkill,
    Phone,
    Value,
    VolunteerPlace,
)


class VolunteerDetails(Value):
    """Who she is and what she offers, as her operator records it."""

    given_name: ShortText
    family_name: ShortText
    email: Email | None = None
    phone: Phone | None = None
    birth_date: date | None = None
    country_of_origin: CountryCode
    preferred_language: LanguageCode
    place: VolunteerPlace
    languages: list[LanguageSkill] = Field(min_length=1, max_length=20)
    skills: list[SkillCode] = Field(default_factory=list, max_length=100)
    free_text_skills: list[ShortText] = Field(default_factory=list, max_length=50)
    availability: Availability
    sector_preferences: list[Sector] = Field(default_factory=list, max_length=12)


class VolunteerProfile(VolunteerDetails):
    """Her details and the consents she gave, with their times."""

    consents: Consents


class VolunteerRegistered(Event):
    TYPE = "VolunteerRegistered"
    SCOPE = Scope.LOCAL

    volunteer_id: UUID
    registered_at: UtcDatetime
    profile: VolunteerProfile


class VolunteerUpdated(Event):
    """The whole profile after the change: consumers replace, they do not patch."""

    TYPE = "VolunteerUpdated"
    SCOPE = Scope.LOCAL

    volunteer_id: UUID
    profile: VolunteerProfile


class VolunteerConsentChanged(Event):
    TYPE = "VolunteerConsentChanged"
    SCOPE = Scope.LOCAL

    volunteer_id: UUID
    consent: ConsentKind
    granted: bool
    changed_at: UtcDatetime


class VolunteerErased(Event):
    """Her personal data is gone from profiles; every service removes what it holds about her."""

    TYPE = "VolunteerErased"
    SCOPE = Scope.LOCAL

    volunteer_id: UUID
    erased_at: UtcDatetime
