"""The read models matching builds from events: this node's volunteers and the corridor's opportunities."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import update

from corridor_contracts import events
from corridor_contracts.events.placements import ExpiryReason
from corridor_contracts.values import ConsentKind
from corridor_runtime.database import upsert
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from . import saga
from . import taxonomy as taxonomy_module
from .scoring import Opportunity, Requirement, Volunteer, rank
from .tables import opportunities, volunteers


def match_profile(profile, taxonomy=None) -> dict:
    """What matching keeps of her profile: no name, no contact, free-text skills mapped to codes."""
    taxonomy = taxonomy or taxonomy_module.bundled()
    mapped = {code for text in profile.free_text_skills if (code := taxonomy.code_for(text))}
    return {
        "languages": {item.language: rank(item.level) for item in profile.languages},
        "skills": sorted(set(profile.skills) | mapped),
        "country": profile.place.country, "region": profile.place.region, "city": profile.place.city,
        "willing_to_move": profile.place.willing_to_move, "remote_only": profile.place.remote_only,
        "hours_per_week": profile.availability.hours_per_week,
        "available_from": profile.availability.available_from.isoformat(),
        "available_until": profile.availability.available_until.isoformat() if profile.availability.available_until else None,
        "sectors": sorted(profile.sector_preferences),
        "preferred_language": profile.preferred_language,
    }


def _contact(profile) -> dict:
    return {"given_name": profile.given_name, "family_name": profile.family_name, "email": profile.email,
            "phone": profile.phone, "preferred_language": profile.preferred_language}


async def on_volunteer_profile(uow: UnitOfWork, incoming: Incoming) -> None:
    """VolunteerRegistered / VolunteerUpdated."""
    event = incoming.event
    profile = event.profile
    values = {"active": True, "profile": match_profile(profile), "contact": _contact(profile),
              "shares_profile": profile.consents.share_match_profile is not None,
              "discloses_contact_since": profile.consents.disclose_contact}
    if isinstance(event, events.VolunteerRegistered):
        values["waiting_since"] = event.registered_at
    await upsert(uow.session, volunteers, "volunteer_id", str(event.volunteer_id), values)


async def on_consent_changed(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.VolunteerConsentChanged = incoming.event
    if event.consent is ConsentKind.SHARE_MATCH_PROFILE:
        values = {"shares_profile": event.granted}
    elif event.consent is ConsentKind.DISCLOSE_CONTACT:
        values = {"discloses_contact_since": event.changed_at if event.granted else None}
    else:
        values = {"active": event.granted}
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(event.volunteer_id)).values(**values))


async def on_volunteer_erased(uow: UnitOfWork, incoming: Incoming) -> None:
    await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == str(incoming.event.volunteer_id)).values(
        active=False, profile=None, contact=None, shares_profile=False, discloses_contact_since=None))
    uow.erased()


async def on_opportunity(uow: UnitOfWork, incoming: Incoming) -> None:
    """OpportunityPublished / Updated / Closed, from its host (the consumer's authority ledger has
    refused any other node, and passed over versions older than the one applied)."""
    event = incoming.event
    values = {"host_node": incoming.envelope.origin, "slots_free": event.slots_free,
              "updated_at": incoming.envelope.occurred_at}
    closed = isinstance(event, events.OpportunityClosed)
    if closed:
        values["open"] = False
    else:
        values.update(open=True, details=event.model_dump(mode="json"))
    await upsert(uow.session, opportunities, "opportunity_id", str(event.opportunity_id), values)
    if closed or event.slots_free == 0:
        await saga.end_proposals(uow, str(event.opportunity_id), ExpiryReason.CLOSED if closed else ExpiryReason.FULL)


def volunteer_of(row) -> Volunteer:
    p = row.profile
    return Volunteer(
        volunteer_id=row.volunteer_id, languages=dict(p["languages"]), skills=frozenset(p["skills"]), country=p["country"],
        region=p["region"], city=p["city"], willing_to_move=p["willing_to_move"], remote_only=p["remote_only"],
        hours_per_week=p["hours_per_week"], available_from=date.fromisoformat(p["available_from"]),
        available_until=date.fromisoformat(p["available_until"]) if p["available_until"] else None,
        sectors=frozenset(p["sectors"]), shares_profile=row.shares_profile,
        waiting_since=row.waiting_since.date() if row.waiting_since else None)


def opportunity_of(row, slots_free: int) -> Opportunity:
    d = events.OpportunityPublished.model_validate(row.details)
    return Opportunity(
        opportunity_id=row.opportunity_id, host_node=row.host_node, host_kind=d.host.kind.value,
        host_sector=d.host.sector.value, host_country=d.host.country, country=d.place.country, region=d.place.region,
        city=d.place.city, remote=d.place.remote, hours_per_week=d.hours_per_week, starts_on=d.starts_on, ends_on=d.ends_on,
        application_deadline=d.application_deadline, slots_free=slots_free,
        skills=tuple(Requirement(r.code, r.essential) for r in d.required_skills),
        languages={item.language: rank(item.level) for item in d.languages}, trains_newcomers=d.trains_newcomers)


def now() -> datetime:
    return datetime.now(timezone.utc)


