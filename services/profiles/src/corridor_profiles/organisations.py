"""Host organisations registered on this node (NGOs, businesses, public bodies)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from corridor_contracts import events
from corridor_contracts.events.organisations import ContactPerson
from corridor_contracts.types import CountryCode, OrganisationKind, Sector, ShortText
from corridor_runtime.unit_of_work import UnitOfWork

from .errors import Conflict, NotFound
from .tables import organisations
from .volunteers import Reference


class NewOrganisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Reference | None = None
    name: ShortText
    kind: OrganisationKind
    sector: Sector
    country: CountryCode
    city: ShortText | None = None
    contact: ContactPerson


class OrganisationView(NewOrganisation):
    model_config = ConfigDict(extra="ignore")

    organisation_id: uuid.UUID
    registered_at: datetime


async def register(uow: UnitOfWork, new: NewOrganisation) -> OrganisationView:
    if new.reference and (await uow.session.execute(
            select(organisations.c.organisation_id).where(organisations.c.reference == new.reference))).first():
        raise Conflict(f"an organisation with reference {new.reference!r} is already registered", field="reference")
    organisation_id, now = uuid.uuid4(), datetime.now(timezone.utc)
    values = new.model_dump(mode="json")
    await uow.session.execute(organisations.insert().values(organisation_id=str(organisation_id), registered_at=now, **values))
    uow.emit(events.OrganisationRegistered(organisation_id=organisation_id, registered_at=now,
                                           **new.model_dump(exclude={"reference"})))
    return await get(uow.session, organisation_id)


async def get(session: AsyncSession, organisation_id: uuid.UUID) -> OrganisationView:
    row = (await session.execute(select(organisations).where(organisations.c.organisation_id == str(organisation_id)))).first()
    if row is None:
        raise NotFound("organisation", organisation_id)
    return OrganisationView.model_validate(row._mapping)


async def page(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[OrganisationView], int]:
    total = (await session.execute(select(func.count()).select_from(organisations))).scalar_one()
    rows = await session.execute(select(organisations).order_by(organisations.c.registered_at, organisations.c.organisation_id)
                                 .limit(limit).offset(offset))
    return [OrganisationView.model_validate(r._mapping) for r in rows], total
