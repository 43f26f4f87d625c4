"""Opportunities of this node's host organisations, broadcast to the corridor with their free slots.

Also the node's read model of every opportunity in the corridor (its host's country, kind and
sector), kept from the broadcast events, to describe a placement's host in anonymised outcomes.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from corridor_contracts import events
from corridor_contracts.authority import new_opportunity_id
from corridor_contracts.events.opportunities import ClosingReason
from corridor_contracts.types import LongText, ShortText
from corridor_contracts.values import HostSummary, LanguageSkill, OpportunityPlace, SkillRequirement
from corridor_runtime.database import upsert
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .errors import Conflict, Invalid, NotFound
from .tables import corridor_opportunities, opportunities, organisations
from .volunteers import Reference


class OpportunityDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    trains_newcomers: bool = False  # the host teaches the skills it asks for: an essential one is not required

    @model_validator(mode="after")
    def _dates(self):
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.application_deadline is not None and self.application_deadline > self.starts_on:
            raise ValueError("application_deadline is after starts_on")
        return self


class NewOpportunity(OpportunityDetails):
    reference: Reference | None = None
    organisation_id: uuid.UUID


class CloseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ClosingReason = ClosingReason.WITHDRAWN


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OpportunityView(OpportunityDetails):
    model_config = ConfigDict(extra="ignore")

    opportunity_id: uuid.UUID
    reference: str | None
    organisation_id: uuid.UUID
    status: Status
    closing_reason: ClosingReason | None = None
    slots_taken: int
    slots_free: int
    published_at: datetime
    updated_at: datetime


def _view(row) -> OpportunityView:
    return OpportunityView.model_validate({**row.details, **row._mapping,
                                           "slots_free": max(0, row.slots_total - row.slots_taken)})


async def _row(session: AsyncSession, opportunity_id: uuid.UUID | str):
    row = (await session.execute(select(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id)))).first()
    if row is None:
        raise NotFound("opportunity", opportunity_id)
    return row


async def _host(session: AsyncSession, organisation_id: uuid.UUID | str) -> HostSummary:
    row = (await session.execute(select(organisations).where(organisations.c.organisation_id == str(organisation_id)))).first()
    if row is None:
        raise Invalid(f"no organisation {organisation_id} on this node", field="organisation_id")
    return HostSummary(organisation_id=row.organisation_id, organisation_name=row.name, kind=row.kind,
                       sector=row.sector, country=row.country)


async def broadcast_state(uow: UnitOfWork, opportunity_id: uuid.UUID | str, *, first: bool = False) -> OpportunityView:
    """Tell the corridor what the opportunity is now, with its free slots, as its next revision.

    The revision is raised first: on PostgreSQL the update waits for any other transaction that
    changes this opportunity, so each version is read after the one before it and numbered above it."""
    await uow.session.execute(update(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id))
                              .values(revision=opportunities.c.revision + 1))
    row = await _row(uow.session, opportunity_id)
    view = _view(row)
    if view.status is Status.CLOSED:
        uow.emit(events.OpportunityClosed(opportunity_id=view.opportunity_id, reason=view.closing_reason,
                                          slots_free=view.slots_free, revision=row.revision))
        return view
    event_type = events.OpportunityPublished if first else events.OpportunityUpdated
    uow.emit(event_type(opportunity_id=view.opportunity_id, host=await _host(uow.session, view.organisation_id),
                        slots_free=view.slots_free, revision=row.revision,
                        **view.model_dump(include=set(OpportunityDetails.model_fields))))
    return view


async def publish(uow: UnitOfWork, new: NewOpportunity) -> OpportunityView:
    host = await _host(uow.session, new.organisation_id)
    if new.reference and (await uow.session.execute(
            select(opportunities.c.opportunity_id).where(opportunities.c.reference == new.reference))).first():
        raise Conflict(f"an opportunity with reference {new.reference!r} is already published", field="reference")
    opportunity_id, now = new_opportunity_id(uow.node_id), datetime.now(timezone.utc)
    details = OpportunityDetails.model_validate(new.model_dump(exclude={"reference", "organisation_id"}))
    await uow.session.execute(opportunities.insert().values(
        opportunity_id=str(opportunity_id), reference=new.reference, organisation_id=str(host.organisation_id),
        status=Status.OPEN.value, details=details.model_dump(mode="json", exclude={"slots_total", "application_deadline"}),
        slots_total=details.slots_total, slots_taken=0, application_deadline=details.application_deadline,
        published_at=now, updated_at=now))
    return await broadcast_state(uow, opportunity_id, first=True)


async def revise(uow: UnitOfWork, opportunity_id: uuid.UUID, details: OpportunityDetails) -> OpportunityView:
    row = await _row(uow.session, opportunity_id)
    if row.status != Status.OPEN:
        raise Conflict(f"opportunity {opportunity_id} is closed")
    if details.slots_total < row.slots_taken:
        raise Conflict(f"{row.slots_taken} slots are taken: slots_total cannot be {details.slots_total}", field="slots_total")
    await uow.session.execute(update(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id)).values(
        details=details.model_dump(mode="json", exclude={"slots_total", "application_deadline"}),
        slots_total=details.slots_total, application_deadline=details.application_deadline,
        updated_at=datetime.now(timezone.utc)))
    return await broadcast_state(uow, opportunity_id)


async def close(uow: UnitOfWork, opportunity_id: uuid.UUID, request: CloseRequest) -> OpportunityView:
    row = await _row(uow.session, opportunity_id)
    if row.status != Status.OPEN:
        raise Conflict(f"opportunity {opportunity_id} is already closed")
    await uow.session.execute(update(opportunities).where(opportunities.c.opportunity_id == str(opportunity_id)).values(
        status=Status.CLOSED.value, closing_reason=request.reason.value, updated_at=datetime.now(timezone.utc)))
    return await broadcast_state(uow, opportunity_id)


async def get(session: AsyncSession, opportunity_id: uuid.UUID) -> OpportunityView:
    return _view(await _row(session, opportunity_id))


async def page(session: AsyncSession, *, limit: int, offset: int, status: Status | None = None) -> tuple[list[OpportunityView], int]:
    query = select(opportunities)
    if status:
        query = query.where(opportunities.c.status == status.value)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await session.execute(query.order_by(opportunities.c.published_at, opportunities.c.opportunity_id)
                                 .limit(limit).offset(offset))
    return [_view(r) for r in rows], total


async def remember_corridor_opportunity(uow: UnitOfWork, incoming: Incoming) -> None:
    """OpportunityPublished / Updated from any node: keep its host's anonymous dimensions."""
    event = incoming.event
    await upsert(uow.session, corridor_opportunities, "opportunity_id", str(event.opportunity_id), {
        "host_country": event.host.country, "host_kind": event.host.kind.value, "host_sector": event.host.sector.value})
