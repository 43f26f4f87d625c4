"""Volunteers: her personal data, kept on her home node only.

Every change emits a local event (VolunteerRegistered / Updated / ConsentChanged / Erased) for the
node's other services; none of them leaves the node. Erasure clears her personal data from this
service's tables; what stays (her random id, dates, status) identifies no one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from corridor_contracts import events
from corridor_contracts.events import volunteers as contract
from corridor_contracts.events.volunteers import VolunteerProfile
from corridor_contracts.values import ConsentKind, Consents
from corridor_runtime.unit_of_work import UnitOfWork

from .errors import Conflict, Invalid, NotFound
from .tables import volunteers

Reference = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
PERSONAL_COLUMNS = ("given_name", "family_name", "email", "phone", "birth_date")


class VolunteerDetails(contract.VolunteerDetails):
    """Her profile as an operator enters it (everything but consents); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("birth_date")
    @classmethod
    def _adult(cls, value: date | None) -> date | None:
        if value is not None and not (date(1900, 1, 1) <= value <= date.today().replace(year=date.today().year - 16)):
            raise ValueError("must be a real birth date of a person aged 16 or more")
        return value


class ConsentsGiven(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processing: bool
    share_match_profile: bool = False
    disclose_contact: bool = False


class NewVolunteer(VolunteerDetails):
    reference: Reference | None = None
    consents: ConsentsGiven


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: ConsentKind
    granted: bool


class VolunteerView(BaseModel):
    volunteer_id: uuid.UUID
    reference: str | None
    status: str
    registered_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None
    details: VolunteerDetails | None = None
    consents: Consents | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _profile(details: VolunteerDetails, consents: Consents) -> VolunteerProfile:
    return VolunteerProfile(**details.model_dump(), consents=consents)


def _row_values(details: VolunteerDetails, consents: Consents) -> dict[str, Any]:
    data = details.model_dump(mode="json")
    personal = {c: data.pop(c) for c in PERSONAL_COLUMNS}
    personal["birth_date"] = details.birth_date
    return {**personal, "profile": {**data, "consents": consents.model_dump(mode="json")}}


def _view(row) -> VolunteerView:
    view = VolunteerView(volunteer_id=row.volunteer_id, reference=row.reference, status=row.status,
                         registered_at=row.registered_at, updated_at=row.updated_at, erased_at=row.erased_at)
    if row.status == "active":
        profile = dict(row.profile)
        consents = Consents.model_validate(profile.pop("consents"))
        personal = {c: getattr(row, c) for c in PERSONAL_COLUMNS}
        view.details = VolunteerDetails.model_validate({**profile, **personal})
        view.consents = consents
    return view


async def _row(session: AsyncSession, volunteer_id: uuid.UUID, *, for_update: bool = False):
    query = select(volunteers).where(volunteers.c.volunteer_id == str(volunteer_id))
    row = (await session.execute(query.with_for_update() if for_update else query)).first()
    if row is None:
        raise NotFound("volunteer", volunteer_id)
    return row


async def _active_row(session: AsyncSession, volunteer_id: uuid.UUID):
    row = await _row(session, volunteer_id, for_update=True)
    if row.status != "active":
        raise Conflict(f"volunteer {volunteer_id} was erased on {row.erased_at:%Y-%m-%d}")
    return row


async def find_by_reference(session: AsyncSession, reference: str) -> uuid.UUID | None:
    found = (await session.execute(select(volunteers.c.volunteer_id).where(volunteers.c.reference == reference))).first()
    return uuid.UUID(found[0]) if found else None


async def register(uow: UnitOfWork, new: NewVolunteer) -> VolunteerView:
    if not new.consents.processing:
        raise Invalid("her consent to the processing of her data is needed to register her", field="consents.processing")
    if new.reference and await find_by_reference(uow.session, new.reference):
        raise Conflict(f"a volunteer with reference {new.reference!r} is already registered", field="reference")
    now = _now()
    consents = Consents(**{kind: (now if given else None) for kind, given in new.consents.model_dump().items()})
    details = VolunteerDetails.model_validate(new.model_dump(exclude={"reference", "consents"}))
    volunteer_id = uuid.uuid4()
    await uow.session.execute(volunteers.insert().values(
        volunteer_id=str(volunteer_id), reference=new.reference, status="active", registered_at=now, updated_at=now,
        **_row_values(details, consents)))
    uow.emit(events.VolunteerRegistered(volunteer_id=volunteer_id, registered_at=now, profile=_profile(details, consents)),
             correlation_id=volunteer_id)
    return _view(await _row(uow.session, volunteer_id))


async def get(session: AsyncSession, volunteer_id: uuid.UUID) -> VolunteerView:
    return _view(await _row(session, volunteer_id))


async def page(session: AsyncSession, *, limit: int, offset: int, status: str | None = None) -> tuple[list[VolunteerView], int]:
    query = select(volunteers)
    if status:
        query = query.where(volunteers.c.status == status)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(volunteers.c.registered_at, volunteers.c.volunteer_id).limit(limit).offset(offset))
    return [_view(r) for r in rows], total


async def update_details(uow: UnitOfWork, volunteer_id: uuid.UUID, details: VolunteerDetails) -> VolunteerView:
    row = await _active_row(uow.session, volunteer_id)
    consents = Consents.model_validate(row.profile["consents"])
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(volunteer_id))
                              .values(updated_at=_now(), **_row_values(details, consents)))
    uow.emit(events.VolunteerUpdated(volunteer_id=volunteer_id, profile=_profile(details, consents)),
             correlation_id=volunteer_id)
    return _view(await _row(uow.session, volunteer_id))


async def change_consent(uow: UnitOfWork, volunteer_id: uuid.UUID, change: ConsentChange) -> VolunteerView:
    row = await _active_row(uow.session, volunteer_id)
    now = _now()
    profile = dict(row.profile)
    consents = dict(profile["consents"])
    consents[change.consent.value] = now.isoformat() if change.granted else None
    profile["consents"] = Consents.model_validate(consents).model_dump(mode="json")
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(volunteer_id))
                              .values(profile=profile, updated_at=now))
    uow.emit(events.VolunteerConsentChanged(volunteer_id=volunteer_id, consent=change.consent, granted=change.granted,
                                            changed_at=now), correlation_id=volunteer_id)
    return _view(await _row(uow.session, volunteer_id))


async def erase(uow: UnitOfWork, volunteer_id: uuid.UUID) -> VolunteerView:
    """Remove her personal data; the row keeps only her random id, its dates and 'erased'."""
    await _active_row(uow.session, volunteer_id)
    now = _now()
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(volunteer_id)).values(
        status="erased", reference=None, profile=None, erased_at=now, updated_at=now, **{c: None for c in PERSONAL_COLUMNS}))
    await uow.forget(volunteer_id)  # her earlier events, kept in the outbox, carry her personal data
    uow.emit(events.VolunteerErased(volunteer_id=volunteer_id, erased_at=now), correlation_id=volunteer_id)
    return _view(await _row(uow.session, volunteer_id))


async def birth_date_and_origin(session: AsyncSession, volunteer_id: uuid.UUID) -> tuple[date | None, str]:
    row = await _active_row(session, volunteer_id)
    return row.birth_date, row.profile["country_of_origin"]
