"""The contact directory and the small projections notifications needs, built from events."""

from __future__ import annotations

from corridor_contracts import events
from corridor_runtime.database import upsert
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .tables import opportunities, recipients


async def on_volunteer(uow: UnitOfWork, incoming: Incoming) -> None:
    """VolunteerRegistered / Updated: how to reach her, in her language."""
    profile = incoming.event.profile
    await upsert(uow.session, recipients, "recipient_id", str(incoming.event.volunteer_id), {
        "kind": "volunteer", "name": profile.given_name, "email": profile.email, "language": profile.preferred_language})


async def on_organisation(uow: UnitOfWork, incoming: Incoming) -> None:
    event: events.OrganisationRegistered = incoming.event
    await upsert(uow.session, recipients, "recipient_id", str(event.organisation_id), {
        "kind": "organisation", "name": event.contact.name, "email": event.contact.email,
        "language": event.contact.preferred_language})


async def on_opportunity(uow: UnitOfWork, incoming: Incoming) -> None:
    """OpportunityPublished / Updated from any node: what a message needs to name it."""
    event = incoming.event
    await upsert(uow.session, opportunities, "opportunity_id", str(event.opportunity_id), {"summary": {
        "title": event.title, "organisation_id": str(event.host.organisation_id),
        "organisation_name": event.host.organisation_name, "place": event.place.city or "", "remote": event.place.remote,
        "starts_on": event.starts_on.isoformat(), "hours_per_week": event.hours_per_week}})
