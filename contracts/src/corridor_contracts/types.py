"""Value types shared by every contract: codes, levels, identifiers.

Codes are validated against their standard (ISO 3166-1 alpha-2 countries and ISO 639-1 languages
through pycountry); the JSON Schema keeps the stable shape (a pattern) so that a pycountry release
does not change a published schema.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from enum import StrEnum
from typing import Annotated

import pycountry
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
_LANGUAGES = frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


def _country(code: str) -> str:
    if code not in _COUNTRIES:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _language(code: str) -> str:
    if code not in _LANGUAGES:
        raise ValueError(f"{code!r} is not an ISO 639-1 language code")
    return code


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


NodeId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9]{1,15}$"),
    Field(description="A partner node's id; also its JetStream domain and a subject token."),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_country),
    Field(description="ISO 3166-1 alpha-2 country code."),
]
LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2}$"),
    AfterValidator(_language),
    Field(description="ISO 639-1 language code."),
]
SkillCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*){0,4}$", max_length=64),
    Field(description="A code of the corridor's skills taxonomy, e.g. 'care.elderly-care'."),
]
Pseudonym = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$"),
    Field(description="A volunteer's pseudonym toward one peer node (HMAC-SHA256, base64url)."),
]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


class CEFRLevel(StrEnum):
    """Common European Framework of Reference level; levels compare in their natural order."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"

    @property
    def rank(self) -> int:
        return list(CEFRLevel).index(self)

    def meets(self, required: CEFRLevel) -> bool:
        return self.rank >= required.rank


class SkillLevel(StrEnum):
    BASIC = "basic"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Sector(StrEnum):
    CARE = "care"
    HOSPITALITY = "hospitality"
    RETAIL = "retail"
    ADMINISTRATION = "administration"
    ACCOUNTING = "accounting"
    IT_DIGITAL = "it_digital"
    TEACHING_LANGUAGES = "teaching_languages"
    TRANSLATION_MEDIATION = "translation_mediation"
    COMMUNITY_WORK = "community_work"
    CRAFTS = "crafts"
    AGRICULTURE = "agriculture"
    OTHER = "other"


class OrganisationKind(StrEnum):
    NGO = "ngo"
    BUSINESS = "business"
    PUBLIC_BODY = "public_body"


class AgeBand(StrEnum):
    UNDER_25 = "18-24"
    FROM_25 = "25-34"
    FROM_35 = "35-44"
    FROM_45 = "45-54"
    FROM_55 = "55+"
    UNKNOWN = "unknown"

    @classmethod
    def on(cls, birth_date: date | None, day: date) -> AgeBand:
        """Her age band on a given day (the band, never the age, is what leaves a service)."""
        if birth_date is None:
            return cls.UNKNOWN
        age = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
        for limit, band in ((25, cls.UNDER_25), (35, cls.FROM_25), (45, cls.FROM_35), (55, cls.FROM_45)):
            if age < limit:
                return band
        return cls.FROM_55


class WorldRegion(StrEnum):
    """UN M49 sub-regions, coarse enough to publish as a reporting dimension."""

    NORTHERN_AFRICA = "northern_africa"
    SUB_SAHARAN_AFRICA = "sub_saharan_africa"
    LATIN_AMERICA_CARIBBEAN = "latin_america_caribbean"
    NORTHERN_AMERICA = "northern_america"
    CENTRAL_ASIA = "central_asia"
    EASTERN_ASIA = "eastern_asia"
    SOUTH_EASTERN_ASIA = "south_eastern_asia"
    SOUTHERN_ASIA = "southern_asia"
    WESTERN_ASIA = "western_asia"
    EASTERN_EUROPE = "eastern_europe"
    OTHER_EUROPE = "other_europe"
    OCEANIA = "oceania"
    UNKNOWN = "unknown"
