"""Projections from the node's events. Events from different streams arrive in no fixed order, so
a placement's status only moves forward (by rank) and every fact is an upsert: replaying the
streams from the start gives the same rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select, update

from corridor_contracts import events
from corridor_contracts.types import AgeBand
from corridor_runtime.database import upsert
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .tables import notification_failures, opportunities, outcomes, placements, volunteers

RANK = {"proposed": 0, "expired": 1, "declined": 1, "confirmed": 2, "started": 3, "withdrawn": 4, "completed": 4}


async def on_registered(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.VolunteerRegistered = incoming.event
    p = event.profile
    await upsert(uow.session, volunteers, "volunteer_id", str(event.volunteer_id), {
        "registered_at": event.registered_at, "country": p.place.country, "origin": p.country_of_origin,
        "age_band": AgeBand.on(p.birth_date, event.registered_at.date()).value, "skills": sorted(p.skills)})


async def on_updated(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.VolunteerUpdated = incoming.event
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(event.volunteer_id)).values(
        country=event.profile.place.country, skills=sorted(event.profile.skills)))


async def on_erased(uow: UnitOfWork, incoming: Incoming) -> None:
    await uow.session.execute(delete(volunteers).where(volunteers.c.volunteer_id == str(incoming.event.volunteer_id)))


async def on_opportunity(uow: UnitOfWork, incoming: Incoming) -> None:
    event = incoming.event
    await upsert(uow.session, opportunities, "opportunity_id", str(event.opportunity_id), {
        "host_country": event.host.country, "host_kind": event.host.kind.value, "host_sector": event.host.sector.value,
        "skills": sorted(r.code for r in event.required_skills)})


async def _advance(uow: UnitOfWork, placement_id, status: str, **facts) -> None:
    row = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(placement_id)))).first()
    if row is None:
        await uow.session.execute(placements.insert().values(placement_id=str(placement_id), status=status,
                                                             status_rank=RANK[status], hours=0, **facts))
        return
    values = {k: v for k, v in facts.items() if v is not None}
    if RANK[status] >= row.status_rank:
        values.update(status=status, status_rank=RANK[status])
    if values:
        await uow.session.execute(update(placements).where(placements.c.placement_id == str(placement_id)).values(**values))


async def on_proposed(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.PlacementProposed = incoming.event
    await _advance(uow, event.proposal_id, "proposed", volunteer_id=str(event.volunteer_id),
                   opportunity_id=str(event.opportunity_id), proposed_at=incoming.envelope.occurred_at)


async def on_step(uow: UnitOfWork, incoming: Incoming) -> None:
    """What the host node answers and reports about this node's placements."""
    event = incoming.event
    status = {"PlacementConfirmed": "confirmed", "PlacementDeclined": "declined", "PlacementStarted": "started",
              "PlacementCompleted": "completed", "PlacementWithdrawn": "withdrawn", "PlacementExpired": "expired"}[event.TYPE]
    facts = {"confirmed_at": incoming.envelope.occurred_at} if status == "confirmed" else {}
    await _advance(uow, event.placement_id, status, **facts)


async def on_hours(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.HoursLogged = incoming.event
    await _advance(uow, event.placement_id, "started")
    row = (await uow.session.execute(select(placements.c.hours).where(placements.c.placement_id == str(event.placement_id)))).first()
    await uow.session.execute(update(placements).where(placements.c.placement_id == str(event.placement_id))
                              .values(hours=Decimal(str(row.hours)) + event.hours))


async def on_outcome(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.PlacementOutcome = incoming.event
    await upsert(uow.session, outcomes, "outcome_id", str(event.outcome_id), {
        "home_country": event.home_country, "host_country": event.host_country, "host_sector": event.host_sector.value,
        "outcome": event.outcome.value, "recorded_month": event.recorded_month})


async def on_notification_failed(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.NotificationFailed = incoming.event
    await upsert(uow.session, notification_failures, "delivery_id", str(event.delivery_id),
                 {"channel": event.channel, "kind": event.kind})
