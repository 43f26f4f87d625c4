from __future__ import annotations

from uuid import UUID

from ..catalogue import Event, Scope
from ..types import CountryCode, LanguageCode, OrganisationKind, Sector, ShortText, UtcDatetime
from ..values import Email, Phone, Value


class ContactPerson(Value):
    name: ShortText
    email: Email
    phone: Phone | None = None
    preferred_language: LanguageCode = "en"


class OrganisationRegistered(Event):
    TYPE = "OrganisationRegistered"
    SCOPE = Scope.LOCAL

    organisation_id: UUID
    name: ShortText
    kind: OrganisationKind
    sector: Sector
    country: CountryCode
    city: ShortText | None = None
    contact: ContactPerson
    registered_at: UtcDatetime
