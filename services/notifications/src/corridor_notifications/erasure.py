"""Erasure in notifications: her messages leave every place this node keeps them.

The delivery log keeps each row, for the operator's record of what was sent when and how, but
not the person: her address, the subject and the text go, and the row says `erased`. The copies a
channel keeps on this node go too (the Maildir's files; e-mail and webhooks keep none here). A
message still waiting to be sent is never sent.

- Her home node (VolunteerErased): every message addressed to her.
- A host node (ErasureRequested from her home node): the message that carried her consented
  contact to the host organisation, for each of the placements named.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, select, update

from corridor_contracts import events
from corridor_runtime.authority import Refused
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .tables import deliveries, placements, recipients

ERASED = "erased"


class Erasure:
    def __init__(self, channels: list) -> None:
        self._channels = {c.name: c for c in channels}

    async def on_volunteer_erased(self, uow: UnitOfWork, incoming: Incoming) -> None:
        volunteer_id = str(incoming.event.volunteer_id)
        await self._erase(uow, deliveries.c.recipient_id == volunteer_id)
        await uow.session.execute(recipients.delete().where(recipients.c.recipient_id == volunteer_id))

    async def on_erasure_requested(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """On a host node; the receipt to her home node says what went."""
        event: events.ErasureRequested = incoming.event
        named = [str(p) for p in event.placement_ids]
        known = (await uow.session.execute(select(placements.c.placement_id).where(placements.c.placement_id.in_(named)))).all()
        if named and not known:  # as profiles does: no receipt for placements this node never heard of
            raise Refused(f"erasure {event.erasure_id}: this node holds no placement from {incoming.envelope.origin} "
                          f"for that volunteer ({len(named)} named)")
        rows, files = await self._erase(uow, deliveries.c.placement_id.in_([str(p) for p in event.placement_ids])
                                        & (deliveries.c.kind == "host_contact"))
        uow.emit(events.ErasureCompleted(erasure_id=event.erasure_id, volunteer=event.volunteer,
                                         erased_at=datetime.now(timezone.utc), records_erased=rows, service="notifications",
                                         erased={"delivery log rows": rows, "mail files": files}),
                 target=incoming.envelope.origin, cause=incoming)

    async def _erase(self, uow: UnitOfWork, which: ColumnElement[bool]) -> tuple[int, int]:
        """Remove the channels' copies, then the person from the rows. The files go inside the
        transaction: if it rolls back, the event comes again and finds the rows to redo."""
        rows = (await uow.session.execute(select(deliveries.c.delivery_id, deliveries.c.channel).where(
            which, deliveries.c.status != ERASED))).all()
        files = 0
        for row in rows:
            channel = self._channels.get(row.channel)
            if channel is not None:
                files += channel.erase(row.delivery_id)
        if rows:
            await uow.session.execute(update(deliveries).where(deliveries.c.delivery_id.in_([r.delivery_id for r in rows]))
                                      .values(status=ERASED, address=None, subject="", text="", html="", last_error=None))
            uow.erased()  # what the rows held also leaves the database's files (Database.scrub)
        return len(rows), files
