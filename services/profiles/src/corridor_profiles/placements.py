"""The host side of placements: this node's authority over its slots, and the placement's life.

A PlacementRequested from a volunteer's home node is confirmed only by a conditional update of
the opportunity's taken slots inside the consumer's transaction (`slots_taken < slots_total`),
so concurrent requests for the last slot — from any number of nodes or consumer replicas — can
never overbook it. Every later step (started, hours, completed, withdrawn) goes back to the home
node, with the journey's correlation id.

What the home's events do to a placement, and which of the host's own steps each state allows, is
the transition table of `corridor_contracts.journey` (docs/placement-journey.md).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from corridor_contracts import events, journey
from corridor_contracts.events.placements import DeclineReason, Side, WithdrawalReason
from corridor_contracts.journey import HostCommand, HostEffect
from corridor_contracts.types import ShortText, SkillCode
from corridor_contracts.values import Hours
from corridor_runtime.authority import Refused
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from . import opportunities
from .errors import Conflict, NotFound
from .slots import SlotState, decide
from .tables import host_placements, hours_entries
from .tables import opportunities as opportunities_table

log = structlog.get_logger("corridor.profiles.placements")


Status = journey.HostStatus


class Start(BaseModel):
    model_config = ConfigDict(extra="forbid")
    started_on: date


class HoursEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worked_on: date
    hours: Hours


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved_by: ShortText


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    completed_on: date
    skills_practised: list[SkillCode] = Field(default_factory=list, max_length=50)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: WithdrawalReason


class HoursView(HoursEntry):
    entry_id: uuid.UUID
    approved_at: datetime | None
    approved_by: str | None


class PlacementView(BaseModel):
    placement_id: uuid.UUID
    opportunity_id: uuid.UUID
    home_node: str
    volunteer: str
    status: Status
    decline_reason: DeclineReason | None
    contact_disclosed: bool
    started_on: date | None
    completed_on: date | None
    skills_practised: list[str] | None
    approved_hours: Decimal
    requested_at: datetime
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _row(session: AsyncSession, placement_id: uuid.UUID | str):
    row = (await session.execute(select(host_placements).where(host_placements.c.placement_id == str(placement_id)))).first()
    if row is None:
        raise NotFound("placement", placement_id)
    return row


async def _approved_hours(session: AsyncSession, placement_id: uuid.UUID | str) -> Decimal:
    total = (await session.execute(select(func.coalesce(func.sum(hours_entries.c.hours), 0)).where(
        hours_entries.c.placement_id == str(placement_id), hours_entries.c.approved_at.is_not(None)))).scalar_one()
    return Decimal(str(total)).quantize(Decimal("0.01"))


async def get(session: AsyncSession, placement_id: uuid.UUID) -> PlacementView:
    row = await _row(session, placement_id)
    return PlacementView.model_validate({**row._mapping, "contact_disclosed": row.contact is not None,
                                         "approved_hours": await _approved_hours(session, placement_id)})


async def page(session: AsyncSession, *, limit: int, offset: int, status: Status | None = None) -> tuple[list[PlacementView], int]:
    query = select(host_placements.c.placement_id)
    if status:
        query = query.where(host_placements.c.status == status.value)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    ids = (await session.execute(query.order_by(host_placements.c.requested_at, host_placements.c.placement_id)
                                 .limit(limit).offset(offset))).scalars()
    return [await get(session, i) for i in ids], total


def _to_home(uow: UnitOfWork, row, event, cause: Incoming | None = None) -> None:
    """Tell the home node a step of the host side, and log it once it is committed."""
    uow.after_commit(functools.partial(log.info, "placement step", side="host", placement_id=str(row.placement_id),
                                       correlation_id=row.correlation_id, step=event.TYPE, home_node=row.home_node))
    uow.emit(event, target=row.home_node, cause=cause, correlation_id=uuid.UUID(row.correlation_id))


async def _answer(uow: UnitOfWork, row, cause: Incoming) -> None:
    if row.status == Status.DECLINED:
        event = events.PlacementDeclined(placement_id=row.placement_id, opportunity_id=row.opportunity_id,
                                         reason=row.decline_reason)
    else:
        state = await opportunities.get(uow.session, row.opportunity_id)
        event = events.PlacementConfirmed(placement_id=row.placement_id, opportunity_id=row.opportunity_id,
                                          slots_free=state.slots_free)
    _to_home(uow, row, event, cause)


async def on_placement_requested(uow: UnitOfWork, incoming: Incoming) -> None:
    """Decide alone, atomically, and answer the home node."""
    request: events.PlacementRequested = incoming.event
    home = incoming.envelope.origin
    existing = (await uow.session.execute(select(host_placements).where(
        host_placements.c.placement_id == str(request.placement_id)))).first()
    if existing is not None:  # the same request sent again (new event id): the same answer
        if existing.home_node != home:
            raise Refused(f"placement/{existing.placement_id} was requested by {existing.home_node}, not by {home}")
        if HostEffect.ANSWER_AGAIN in journey.at_host(existing.status, request).effects:
            await _answer(uow, existing, incoming)
        return

    now = _now()
    table = opportunities_table
    row = (await uow.session.execute(select(table).where(table.c.opportunity_id == str(request.opportunity_id)))).first()
    state = None if row is None else SlotState(row.status, row.slots_total, row.slots_taken, row.application_deadline)
    reason = decide(state, expires_at=request.expires_at, now=now)
    if reason is None:
        taken = await uow.session.execute(
            update(table)
            .where(table.c.opportunity_id == str(request.opportunity_id), table.c.status == "open",
                   table.c.slots_taken < table.c.slots_total)
            .values(slots_taken=table.c.slots_taken + 1, updated_at=now))
        if taken.rowcount != 1:  # another transaction took the last slot first
            reason = DeclineReason.FULL
    await uow.session.execute(host_placements.insert().values(
        placement_id=str(request.placement_id), opportunity_id=str(request.opportunity_id), home_node=home,
        correlation_id=str(incoming.envelope.correlation_id), volunteer=request.volunteer,
        status=(Status.DECLINED if reason else Status.CONFIRMED).value, decline_reason=reason.value if reason else None,
        holds_slot=reason is None, requested_at=now, updated_at=now))
    await _answer(uow, await _row(uow.session, request.placement_id), incoming)
    if reason is None:
        await opportunities.broadcast_state(uow, request.opportunity_id)


async def _release(uow: UnitOfWork, row, status: Status) -> None:
    now = _now()
    await uow.session.execute(update(host_placements).where(host_placements.c.placement_id == row.placement_id)
                              .values(status=status.value, holds_slot=False, updated_at=now))
    if row.holds_slot:
        table = opportunities_table
        await uow.session.execute(update(table).where(table.c.opportunity_id == row.opportunity_id, table.c.slots_taken > 0)
                                  .values(slots_taken=table.c.slots_taken - 1, updated_at=now))
        await opportunities.broadcast_state(uow, row.opportunity_id)


async def _from_home(uow: UnitOfWork, incoming: Incoming):
    """The placement an event from a home node is about, if this node hosts it; refused from any
    node but the one that requested it."""
    row = (await uow.session.execute(select(host_placements).where(
        host_placements.c.placement_id == str(incoming.event.placement_id)))).first()
    if row is not None and row.home_node != incoming.envelope.origin:
        raise Refused(f"placement/{row.placement_id} was requested by {row.home_node}, not by {incoming.envelope.origin}")
    return row


async def on_placement_withdrawn(uow: UnitOfWork, incoming: Incoming) -> None:
    """The home node withdrew her: the slot is free again (a placement still live only)."""
    row = await _from_home(uow, incoming)
    step = journey.at_host(None if row is None else row.status, incoming.event)
    if HostEffect.RELEASE_SLOT in step.effects and step.status is not None:
        await _release(uow, row, step.status)


async def on_contact_disclosed(uow: UnitOfWork, incoming: Incoming) -> None:
    """Her consented contact, for the host organisation of a confirmed placement only."""
    event: events.ContactDisclosed = incoming.event
    row = await _from_home(uow, incoming)
    if HostEffect.KEEP_CONTACT not in journey.at_host(None if row is None else row.status, event).effects:
        return
    await uow.session.execute(update(host_placements).where(host_placements.c.placement_id == row.placement_id)
                              .values(contact=event.contact.model_dump(mode="json"), updated_at=_now()))


async def _row_for(session: AsyncSession, placement_id: uuid.UUID, command: HostCommand):
    """The placement, if its state allows the host's step (journey.HOST_COMMANDS)."""
    row = await _row(session, placement_id)
    if journey.host_command(row.status, command) is None:
        allowed = [s.value for s in journey.HOST_COMMANDS[command]]
        raise Conflict(f"placement {placement_id} is {row.status}; this needs it {' or '.join(allowed)}")
    return row


async def start(uow: UnitOfWork, placement_id: uuid.UUID, step: Start) -> PlacementView:
    row = await _row_for(uow.session, placement_id, HostCommand.START)
    await uow.session.execute(update(host_placements).where(host_placements.c.placement_id == row.placement_id)
                              .values(status=Status.STARTED.value, started_on=step.started_on, updated_at=_now()))
    _to_home(uow, row, events.PlacementStarted(placement_id=placement_id, started_on=step.started_on))
    return await get(uow.session, placement_id)


async def log_hours(uow: UnitOfWork, placement_id: uuid.UUID, entry: HoursEntry) -> HoursView:
    row = await _row_for(uow.session, placement_id, HostCommand.LOG_HOURS)
    if row.started_on and entry.worked_on < row.started_on:
        raise Conflict(f"worked_on {entry.worked_on} is before the placement started ({row.started_on})", field="worked_on")
    entry_id = uuid.uuid4()
    await uow.session.execute(hours_entries.insert().values(entry_id=str(entry_id), placement_id=str(placement_id),
                                                            worked_on=entry.worked_on, hours=entry.hours))
    return HoursView(entry_id=entry_id, approved_at=None, approved_by=None, **entry.model_dump())


async def approve_hours(uow: UnitOfWork, placement_id: uuid.UUID, entry_id: uuid.UUID, approval: Approval) -> HoursView:
    row = await _row_for(uow.session, placement_id, HostCommand.APPROVE_HOURS)
    entry = (await uow.session.execute(select(hours_entries).where(
        hours_entries.c.entry_id == str(entry_id), hours_entries.c.placement_id == str(placement_id)))).first()
    if entry is None:
        raise NotFound("hours entry", entry_id)
    if entry.approved_at is not None:
        raise Conflict(f"hours entry {entry_id} was approved on {entry.approved_at:%Y-%m-%d}")
    now = _now()
    await uow.session.execute(update(hours_entries).where(hours_entries.c.entry_id == str(entry_id))
                              .values(approved_at=now, approved_by=approval.approved_by))
    _to_home(uow, row, events.HoursLogged(placement_id=placement_id, entry_id=entry_id, worked_on=entry.worked_on,
                                          hours=Decimal(str(entry.hours))))
    return HoursView(entry_id=entry_id, worked_on=entry.worked_on, hours=Decimal(str(entry.hours)), approved_at=now,
                     approved_by=approval.approved_by)


async def complete(uow: UnitOfWork, placement_id: uuid.UUID, completion: Completion) -> PlacementView:
    row = await _row_for(uow.session, placement_id, HostCommand.COMPLETE)
    if row.started_on and completion.completed_on < row.started_on:
        raise Conflict(f"completed_on is before the placement started ({row.started_on})", field="completed_on")
    await uow.session.execute(update(host_placements).where(host_placements.c.placement_id == row.placement_id).values(
        status=Status.COMPLETED.value, completed_on=completion.completed_on,
        skills_practised=list(completion.skills_practised), updated_at=_now()))
    _to_home(uow, row, events.PlacementCompleted(placement_id=placement_id, completed_on=completion.completed_on,
                                                 total_hours=await _approved_hours(uow.session, placement_id),
                                                 skills_practised=completion.skills_practised))
    return await get(uow.session, placement_id)


async def withdraw(uow: UnitOfWork, placement_id: uuid.UUID, withdrawal: Withdrawal) -> PlacementView:
    row = await _row_for(uow.session, placement_id, HostCommand.WITHDRAW)
    await _release(uow, row, Status.WITHDRAWN)
    _to_home(uow, row, events.PlacementWithdrawn(placement_id=placement_id, by=Side.HOST, reason=withdrawal.reason))
    return await get(uow.session, placement_id)


async def on_erasure_requested(uow: UnitOfWork, incoming: Incoming) -> set[str]:
    """Her home node erased her: erase what this host holds about her and send the receipt.

    Her consented contact goes, her pseudonym is replaced by a random one (nothing links the
    placement to her any more), a placement still running ends and frees its slot, and this
    service's outgoing events of those placements leave its outbox. Counts of hours and dates stay:
    they describe the opportunity, not her. Her home node asks again while no receipt reaches it: a
    placement this erasure already emptied is erased again (nothing is left) and the receipt sent
    again. Returns the journeys' correlation ids."""
    event: events.ErasureRequested = incoming.event
    rows = (await uow.session.execute(select(host_placements).where(
        host_placements.c.placement_id.in_([str(p) for p in event.placement_ids]),
        host_placements.c.home_node == incoming.envelope.origin,
        (host_placements.c.volunteer == event.volunteer)
        | (host_placements.c.erasure_id == str(event.erasure_id))))).all()
    if event.placement_ids and not rows:
        # A volunteer this node never received from that node. (Placements of another home node are
        # refused before this, by the consumer's authority ledger. A request her home node dropped
        # from its outbox when it erased her may be missing here while others are not: those are erased.)
        raise Refused(f"erasure {event.erasure_id}: this node holds no placement from {incoming.envelope.origin} "
                      f"for that volunteer ({len(event.placement_ids)} named)")
    for row in rows:
        step = journey.at_host(row.status, event)
        if HostEffect.RELEASE_SLOT in step.effects and step.status is not None:
            await _release(uow, row, step.status)
        await uow.session.execute(update(host_placements).where(host_placements.c.placement_id == row.placement_id)
                                  .values(contact=None, volunteer=secrets.token_urlsafe(32), updated_at=_now(),
                                          erasure_id=str(event.erasure_id)))
        await uow.forget(uuid.UUID(row.correlation_id))
    uow.emit(events.ErasureCompleted(erasure_id=event.erasure_id, volunteer=event.volunteer, erased_at=_now(),
                                     records_erased=len(rows), service="profiles",
                                     erased={"placements": len(rows), "contacts": sum(r.contact is not None for r in rows)}),
             target=incoming.envelope.origin, cause=incoming)
    return {row.correlation_id for row in rows}  # the journeys whose messages the stream may still hold
