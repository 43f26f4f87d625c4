"""Erasure across nodes, the home side (ErasureRequested / ErasureCompleted).

When profiles erases her (VolunteerErased), her open placements end here, this service's pending
and past events of her placements leave its outbox, and every host node that received a request
for her — it holds her pseudonym, and her contact if she was confirmed — is asked to erase what it
holds. Each host answers with a receipt; `listing(missing=True)` says which have not come back.
While a receipt is missing the request is sent again, after 1 hour, then twice as long each time up
to a week, for as long as it takes: a host on a release that could not act on it acts once it has
upgraded, and a request lost on the way is replaced. The host answers a repeated request again.
"""

from __future__ import annotations

import uuid
import asyncio
from datetime import datetime, timedelta, timezone

import structlog
from prometheus_client import Gauge
from pydantic import BaseModel
from sqlalchemy import select, update

from corridor_contracts import events, pseudonym
from corridor_runtime.authority import Refused
from corridor_runtime.purge import purge
from corridor_runtime.service import ServiceHost
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .saga import OPEN, Status, status_changed
from .tables import erasure_receipts, erasures, placements


log = structlog.get_logger("corridor.matching.erasure")

ASK_AGAIN_AFTER = timedelta(hours=1)  # then twice as long each time,
ASK_AGAIN_AT_MOST_EVERY = timedelta(days=7)  # up to a week
LOOK_EVERY = 600.0  # seconds


def next_ask(last_asked_at: datetime, times_asked: int) -> datetime:
    """When an erasure without a receipt is asked again."""
    return last_asked_at + min(ASK_AGAIN_AFTER * 2 ** max(times_asked - 1, 0), ASK_AGAIN_AT_MOST_EVERY)


class Receipt(BaseModel):
    service: str | None
    erased_at: datetime
    erased: dict[str, int]


class ErasureView(BaseModel):
    erasure_id: uuid.UUID
    volunteer_id: uuid.UUID
    host_node: str
    placement_ids: list[uuid.UUID]
    requested_at: datetime
    receipt_at: datetime | None  # when the host's profiles (its placements, her contact) said it erased
    records_erased: int | None
    receipts: list[Receipt] = []  # what each service of the host erased
    times_asked: int = 1
    last_asked_at: datetime | None = None


class Erasures:
    def __init__(self, secret: bytes, host: ServiceHost | None = None) -> None:
        self._secret = secret
        self._host = host  # its NATS connection purges what this node sent about her from OUT
        # Kept by the loop that asks again; the node's /metrics serves them (CorridorErasureWithoutReceipt).
        registry = host.telemetry.registry if host is not None else None
        self.waiting = Gauge("corridor_erasures_waiting", "erasures asked of a host node that sent no receipt yet",
                             registry=registry)
        self.oldest_waiting = Gauge("corridor_erasure_oldest_waiting_seconds",
                                    "how long the oldest erasure without a receipt has waited (0: none)",
                                    registry=registry)

    async def on_volunteer_erased(self, uow: UnitOfWork, incoming: Incoming) -> None:
        volunteer_id = str(incoming.event.volunteer_id)
        rows = (await uow.session.execute(select(placements).where(placements.c.volunteer_id == volunteer_id))).all()
        if not rows:
            return
        now = datetime.now(timezone.utc)
        await uow.session.execute(update(placements).where(
            placements.c.volunteer_id == volunteer_id, placements.c.status.in_([s.value for s in OPEN]))
            .values(status=Status.WITHDRAWN.value, updated_at=now))
        for row in rows:
            await uow.forget(uuid.UUID(row.correlation_id))  # e.g. her contact, on its way to a host
        for row in rows:  # after forgetting: reporting is told (ids only, no personal data)
            if row.status in {s.value for s in OPEN}:
                status_changed(uow, row, Status.WITHDRAWN.value, now)
        if self._host is not None:  # and the disclosures already sent, kept sealed in OUT until its max age
            await purge(self._host.js, "OUT", subjects=[f"corridor.direct.*.{self._host.settings.node_id}.ContactDisclosed"],
                        correlation_ids={row.correlation_id for row in rows})
        by_host: dict[str, list[str]] = {}
        for row in rows:
            if row.request_expires_at is not None:  # a request went out: the host holds data about her
                by_host.setdefault(row.host_node, []).append(row.placement_id)
        for host_node, placement_ids in sorted(by_host.items()):
            existing = (await uow.session.execute(select(erasures.c.erasure_id).where(
                erasures.c.volunteer_id == volunteer_id, erasures.c.host_node == host_node))).first()
            if existing is not None:
                continue  # asked already (this event delivered again)
            erasure_id = uuid.uuid4()
            await uow.session.execute(erasures.insert().values(
                erasure_id=str(erasure_id), volunteer_id=volunteer_id, host_node=host_node,
                placement_ids=sorted(placement_ids), requested_at=now))
            uow.emit(events.ErasureRequested(
                erasure_id=erasure_id, volunteer=pseudonym(self._secret, uuid.UUID(volunteer_id), host_node),
                placement_ids=[uuid.UUID(p) for p in sorted(placement_ids)]),
                target=host_node, correlation_id=erasure_id)

    async def ask_again(self, uow: UnitOfWork, now: datetime) -> int:
        """Send again each request whose receipt has not come and whose time has come; how many."""
        waiting = (await uow.session.execute(select(erasures).where(erasures.c.receipt_at.is_(None)))).all()
        self.waiting.set(len(waiting))
        self.oldest_waiting.set(max(((now - row.requested_at).total_seconds() for row in waiting), default=0))
        asked = 0
        for row in waiting:
            if now < next_ask(row.last_asked_at or row.requested_at, row.times_asked):
                continue
            erasure_id, volunteer_id = uuid.UUID(row.erasure_id), uuid.UUID(row.volunteer_id)
            uow.emit(events.ErasureRequested(
                erasure_id=erasure_id, volunteer=pseudonym(self._secret, volunteer_id, row.host_node),
                placement_ids=[uuid.UUID(p) for p in row.placement_ids]),
                target=row.host_node, correlation_id=erasure_id)
            await uow.session.execute(update(erasures).where(erasures.c.erasure_id == row.erasure_id)
                                      .values(last_asked_at=now, times_asked=row.times_asked + 1))
            log.warning("erasure asked again: the host has sent no receipt", erasure_id=row.erasure_id,
                        host_node=row.host_node, times_asked=row.times_asked + 1,
                        requested_at=row.requested_at.isoformat())
            asked += 1
        return asked

    async def ask_again_forever(self) -> None:
        """The service's loop: look for erasures to ask again every LOOK_EVERY seconds."""
        assert self._host is not None
        while True:
            async with self._host.unit_of_work() as uow:
                await self.ask_again(uow, datetime.now(timezone.utc))
            await asyncio.sleep(LOOK_EVERY)

    async def on_erasure_completed(self, uow: UnitOfWork, incoming: Incoming) -> None:
        """A host's receipt; only the node that was asked can answer for itself."""
        event: events.ErasureCompleted = incoming.event
        asked = (await uow.session.execute(select(erasures.c.host_node).where(
            erasures.c.erasure_id == str(event.erasure_id)))).scalar_one_or_none()
        if asked != incoming.envelope.origin:
            raise Refused(f"erasure/{event.erasure_id} was not asked of {incoming.envelope.origin}")
        service = event.service or ""
        done = await uow.session.execute(update(erasure_receipts).where(
            erasure_receipts.c.erasure_id == str(event.erasure_id), erasure_receipts.c.service == service)
            .values(erased_at=event.erased_at, erased=dict(event.erased)))
        if done.rowcount == 0:
            await uow.session.execute(erasure_receipts.insert().values(
                erasure_id=str(event.erasure_id), service=service, erased_at=event.erased_at, erased=dict(event.erased)))
        if service in ("", "profiles"):  # the host's placements and her contact: the receipt the operator waits for
            await uow.session.execute(update(erasures).where(erasures.c.erasure_id == str(event.erasure_id))
                                      .values(receipt_at=event.erased_at, records_erased=event.records_erased))


async def listing(session, *, volunteer_id: uuid.UUID | None = None, missing: bool = False) -> list[ErasureView]:
    query = select(erasures).order_by(erasures.c.requested_at, erasures.c.host_node)
    if volunteer_id is not None:
        query = query.where(erasures.c.volunteer_id == str(volunteer_id))
    if missing:
        query = query.where(erasures.c.receipt_at.is_(None))
    found = [ErasureView.model_validate(dict(row._mapping)) for row in (await session.execute(query)).all()]
    if found:
        receipts = (await session.execute(select(erasure_receipts).where(
            erasure_receipts.c.erasure_id.in_([str(e.erasure_id) for e in found]))
            .order_by(erasure_receipts.c.service))).all()
        for view in found:
            view.receipts = [Receipt(service=r.service or None, erased_at=r.erased_at, erased=r.erased)
                             for r in receipts if r.erasure_id == str(view.erasure_id)]
    return found
