"""Which events become which messages, to whom; one delivery row per (event, recipient, channel).

Rows are written in the consumer's transaction with the inbox, and a unique key on (event,
recipient, channel, kind) keeps a replayed event from writing a second one: exactly one message
per recipient and channel, whatever is redelivered.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import select, update

from corridor_contracts import events
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .tables import deliveries, opportunities, placements, recipients
from .templates import Templates


STATUS_WORDS = {
    "en": {"confirmed": "confirmed, waiting to start"}, "fr": {"confirmed": "confirmée, en attente de démarrage"},
    "es": {"confirmed": "confirmada, pendiente de inicio"}, "it": {"confirmed": "confermato, in attesa di inizio"},
    "el": {"confirmed": "επιβεβαιωμένη, αναμένει έναρξη"},
}


class NotYetKnown(Exception):
    """An event refers to something this node has not heard of yet: retried later."""


class Messages:
    def __init__(self, *, channels: list, templates: Templates, node_name: str, wake=lambda: None) -> None:
        self._channels = channels
        self._templates = templates
        self._node_name = node_name
        self._wake = wake

    async def _send(self, uow: UnitOfWork, cause: Incoming | uuid.UUID, kind: str, recipient_id: str, context: dict,
                    translate_status: bool = False, placement_id: uuid.UUID | None = None) -> None:
        recipient = (await uow.session.execute(select(recipients).where(recipients.c.recipient_id == recipient_id))).first()
        if recipient is None:
            return  # erased, or not someone this node writes to
        cause_id = cause if isinstance(cause, uuid.UUID) else cause.envelope.event_id
        if placement_id is None and not isinstance(cause, uuid.UUID):  # the placement the event is about, if one
            placement_id = getattr(cause.event, "placement_id", None) or getattr(cause.event, "proposal_id", None)
        if translate_status:
            context = {**context, "placements": [{**p, "status": STATUS_WORDS.get(recipient.language, STATUS_WORDS["en"])[p["status"]]}
                                                 for p in context["placements"]]}
        now = datetime.now(timezone.utc)
        for channel in self._channels:
            if channel.needs_address and not recipient.email:
                continue
            exists = (await uow.session.execute(select(deliveries.c.delivery_id).where(
                deliveries.c.cause_event_id == str(cause_id), deliveries.c.recipient_id == recipient_id,
                deliveries.c.channel == channel.name, deliveries.c.kind == kind))).first()
            if exists:
                continue
            rendered = self._templates.render(kind, recipient.language, {
                **context, "recipient_name": recipient.name, "node_name": self._node_name})
            await uow.session.execute(deliveries.insert().values(
                delivery_id=str(uuid.uuid4()), cause_event_id=str(cause_id), recipient_id=recipient_id,
                placement_id=str(placement_id) if placement_id else None,
                recipient_kind=recipient.kind, channel=channel.name, kind=kind, language=rendered.language,
                address=recipient.email, subject=rendered.subject, text=rendered.text, html=rendered.html,
                status="pending", attempts=0, next_attempt_at=now, created_at=now))
        uow.after_commit(self._wake)  # the dispatcher reads the deliveries once they are committed

    async def _opportunity(self, uow: UnitOfWork, opportunity_id) -> dict:
        row = (await uow.session.execute(select(opportunities).where(
            opportunities.c.opportunity_id == str(opportunity_id)))).first()
        if row is None:
            raise NotYetKnown(f"opportunity {opportunity_id} not known here yet")
        return row.summary

    async def on_proposed(self, uow: UnitOfWork, incoming: Incoming) -> None:
        event: events.PlacementProposed = incoming.event
        opportunity = await self._opportunity(uow, event.opportunity_id)
        found = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(event.proposal_id)))).first()
        if found is None:
            await uow.session.execute(placements.insert().values(
                placement_id=str(event.proposal_id), volunteer_id=str(event.volunteer_id),
                opportunity_id=str(event.opportunity_id), proposal_expires_at=event.expires_at, reminded=False))
        await self._send(uow, incoming, "proposal", str(event.volunteer_id), {
            "opportunity_title": opportunity["title"], "organisation_name": opportunity["organisation_name"],
            "place": opportunity["place"], "remote": opportunity["remote"], "starts_on": opportunity["starts_on"],
            "hours_per_week": opportunity["hours_per_week"], "reasons": list(event.explanation),
            "expires_on": f"{event.expires_at:%Y-%m-%d}"})

    async def on_expiring(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """Her proposal is about to expire unanswered: remind her."""
        event: events.PlacementProposalExpiring = incoming.event
        opportunity = await self._opportunity(uow, event.opportunity_id)
        await self._send(uow, incoming, "reminder", str(event.volunteer_id), {
            "opportunity_title": opportunity["title"], "expires_on": f"{event.expires_at:%Y-%m-%d}"})

    async def on_expired(self, uow: UnitOfWork, incoming: Incoming) -> None:
        event: events.PlacementExpired = incoming.event
        opportunity = await self._opportunity(uow, event.opportunity_id)
        await self._send(uow, incoming, "expired", str(event.volunteer_id), {
            "opportunity_title": opportunity["title"], "organisation_name": opportunity["organisation_name"],
            "stage": event.stage.value, "reason": event.reason.value})

    async def on_answer(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """What the host node sends back about one of this node's volunteers."""
        event = incoming.event
        row = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(event.placement_id)))).first()
        if row is None or row.volunteer_id is None:
            return  # not a placement of this node's volunteers
        opportunity = await self._opportunity(uow, row.opportunity_id)
        context = {"opportunity_title": opportunity["title"], "organisation_name": opportunity["organisation_name"]}
        if isinstance(event, events.PlacementConfirmed):
            kind, context = "confirmed", {**context, "starts_on": opportunity["starts_on"], "contact_shared": False}
        elif isinstance(event, events.PlacementDeclined):
            kind, context = "declined", {**context, "reason": event.reason.value}
        elif isinstance(event, events.PlacementWithdrawn):
            kind, context = "withdrawn", {**context, "by": event.by.value}
        elif isinstance(event, events.PlacementStarted):
            kind, context = "started", {**context, "started_on": event.started_on.isoformat()}
        else:
            kind, context = "completed", {**context, "completed_on": event.completed_on.isoformat(),
                                          "total_hours": str(event.total_hours or ""), "skills": list(event.skills_practised)}
        await self._send(uow, incoming, kind, row.volunteer_id, context)

    async def on_requested(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """Host side: remember which opportunity a placement is for."""
        event: events.PlacementRequested = incoming.event
        found = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(event.placement_id)))).first()
        if found is None:
            await uow.session.execute(placements.insert().values(
                placement_id=str(event.placement_id), volunteer_id=None, opportunity_id=str(event.opportunity_id),
                reminded=False))

    async def on_host_step(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """Host side, from what this node sent: a placement confirmed, started, ended (for the digest)."""
        event = incoming.event
        status = {"PlacementConfirmed": "confirmed", "PlacementStarted": "started"}.get(event.TYPE, "closed")
        values = {"host_status": status, "host_status_since": incoming.envelope.occurred_at}
        done = await uow.session.execute(update(placements).where(placements.c.placement_id == str(event.placement_id))
                                         .values(**values))
        if done.rowcount == 0:  # OUT and IN are read apart: the request may not have been seen yet
            if not hasattr(event, "opportunity_id"):
                raise NotYetKnown(f"placement {event.placement_id} not known here yet")
            await uow.session.execute(placements.insert().values(
                placement_id=str(event.placement_id), volunteer_id=None, opportunity_id=str(event.opportunity_id),
                reminded=False, **values))

    async def digest(self, uow: UnitOfWork, *, today: date, at_least: int = 2) -> int:
        """One message a day to each host organisation with several placements waiting to start."""
        rows = (await uow.session.execute(select(placements).where(placements.c.host_status == "confirmed"))).all()
        waiting: dict[str, list[dict]] = {}
        for row in rows:
            opportunity = (await uow.session.execute(select(opportunities).where(
                opportunities.c.opportunity_id == row.opportunity_id))).first()
            if opportunity is None:
                continue
            waiting.setdefault(opportunity.summary["organisation_id"], []).append({
                "opportunity_title": opportunity.summary["title"], "status": "confirmed",
                "since": f"{row.host_status_since:%Y-%m-%d}"})
        sent = 0
        for organisation_id, items in waiting.items():
            if len(items) < at_least:
                continue
            cause = uuid.uuid5(uuid.NAMESPACE_URL, f"corridor:digest:{organisation_id}:{today.isoformat()}")
            await self._send(uow, cause, "digest", organisation_id, {"placements": items}, translate_status=True)
            sent += 1
        return sent

    async def on_contact_disclosed(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """Host side: the consented contact goes to the host organisation's contact person."""
        event: events.ContactDisclosed = incoming.event
        row = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(event.placement_id)))).first()
        if row is None:
            raise NotYetKnown(f"placement {event.placement_id} not known here yet")
        opportunity = await self._opportunity(uow, row.opportunity_id)
        await self._send(uow, incoming, "host_contact", opportunity["organisation_id"], {
            "opportunity_title": opportunity["title"],
            "volunteer_name": f"{event.contact.given_name} {event.contact.family_name}",
            "volunteer_email": event.contact.email or "", "volunteer_phone": event.contact.phone or "",
            "volunteer_language": event.contact.preferred_language},  # named in the message's language
            placement_id=event.placement_id)
