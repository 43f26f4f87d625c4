"""The home side of the placement saga.

    proposed ──accept──▶ requested ──PlacementConfirmed──▶ confirmed ─▶ started ─▶ completed
       │                    │  └─PlacementDeclined──▶ declined_by_host (→ next best in the next round)
       ├─decline──▶ declined (→ next best)      └─deadline──▶ expired ──late PlacementConfirmed──▶ compensated
       └─deadline──▶ expired                    confirmed/started ──withdraw (either side)──▶ withdrawn

Her pseudonym toward the host node is an HMAC of her id under this node's secret: the host cannot
link it to her, nor two hosts link her between them. Her contact goes to the host only on
confirmation, and only if she consented to that disclosure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, select, update

from corridor_contracts import events, pseudonym
from corridor_contracts.events.placements import DisclosedContact, ExpiryReason, Side, WithdrawalReason
from corridor_contracts.values import MatchSummary
from corridor_runtime.authority import Refused
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from .tables import exclusions, placements, volunteers


class Status(StrEnum):
    PROPOSED = "proposed"
    DECLINED = "declined"  # by her
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED_BY_HOST = "declined_by_host"
    STARTED = "started"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    COMPENSATED = "compensated"  # confirmed after expiry: the slot was given back


OPEN = (Status.PROPOSED, Status.REQUESTED, Status.CONFIRMED, Status.STARTED)


@dataclass
class Deadlines:
    """How long a proposal waits for her answer, and a request for the host's."""

    proposal: timedelta = timedelta(days=7)
    request: timedelta = timedelta(days=5)
    reminder: timedelta = timedelta(days=1)  # remind her this long before her proposal expires


class SagaError(Exception):
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SagaError):
    status = 404


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: WithdrawalReason


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _row(uow: UnitOfWork, placement_id: uuid.UUID | str):
    row = (await uow.session.execute(select(placements).where(placements.c.placement_id == str(placement_id)))).first()
    if row is None:
        raise NotFound(f"no placement {placement_id}")
    return row


async def _set(uow: UnitOfWork, row, **values) -> None:
    await uow.session.execute(update(placements).where(placements.c.placement_id == row.placement_id)
                              .values(updated_at=_now(), **values))


async def _exclude(uow: UnitOfWork, row, reason: str) -> None:
    found = (await uow.session.execute(select(exclusions).where(and_(
        exclusions.c.volunteer_id == row.volunteer_id, exclusions.c.opportunity_id == row.opportunity_id)))).first()
    if found is None:
        await uow.session.execute(exclusions.insert().values(volunteer_id=row.volunteer_id,
                                                             opportunity_id=row.opportunity_id, reason=reason))


async def propose(uow: UnitOfWork, *, volunteer_id: str, opportunity_id: str, host_node: str, match: MatchSummary,
                  deadlines: Deadlines, explanation: list[str] = ()) -> uuid.UUID:
    placement_id, now = uuid.uuid4(), _now()
    expires_at = now + deadlines.proposal
    await uow.session.execute(placements.insert().values(
        placement_id=str(placement_id), volunteer_id=volunteer_id, opportunity_id=opportunity_id, host_node=host_node,
        status=Status.PROPOSED.value, score=Decimal(str(match.score)), match=match.model_dump(mode="json"),
        correlation_id=str(placement_id), proposal_expires_at=expires_at, created_at=now, updated_at=now))
    uow.emit(events.PlacementProposed(proposal_id=placement_id, volunteer_id=uuid.UUID(volunteer_id),
                                      opportunity_id=uuid.UUID(opportunity_id), host_node=host_node, match=match,
                                      expires_at=expires_at, explanation=list(explanation)), correlation_id=placement_id)
    return placement_id


async def accept(uow: UnitOfWork, placement_id: uuid.UUID, *, secret: bytes, deadlines: Deadlines) -> None:
    """She accepts: the request goes to the host node, under her pseudonym toward that node."""
    row = await _row(uow, placement_id)
    if row.status != Status.PROPOSED:
        raise SagaError(f"placement {placement_id} is {row.status}, not proposed")
    if row.proposal_expires_at < _now():
        raise SagaError(f"the proposal expired on {row.proposal_expires_at:%Y-%m-%d %H:%M}")
    expires_at = _now() + deadlines.request
    await _set(uow, row, status=Status.REQUESTED.value, request_expires_at=expires_at)
    uow.emit(events.PlacementRequested(placement_id=placement_id, opportunity_id=uuid.UUID(row.opportunity_id),
                                       volunteer=pseudonym(secret, uuid.UUID(row.volunteer_id), row.host_node),
                                       match=MatchSummary.model_validate(row.match), expires_at=expires_at),
             target=row.host_node, correlation_id=uuid.UUID(row.correlation_id))


async def decline(uow: UnitOfWork, placement_id: uuid.UUID) -> None:
    """She declines: never this opportunity again; the next round proposes the next best."""
    row = await _row(uow, placement_id)
    if row.status != Status.PROPOSED:
        raise SagaError(f"placement {placement_id} is {row.status}, not proposed")
    await _set(uow, row, status=Status.DECLINED.value)
    await _exclude(uow, row, "declined")
    uow.emit(events.ProposalDeclined(proposal_id=placement_id, volunteer_id=uuid.UUID(row.volunteer_id),
                                     opportunity_id=uuid.UUID(row.opportunity_id)), correlation_id=uuid.UUID(row.correlation_id))


async def withdraw(uow: UnitOfWork, placement_id: uuid.UUID, withdrawal: Withdrawal) -> None:
    row = await _row(uow, placement_id)
    if row.status not in (Status.REQUESTED, Status.CONFIRMED, Status.STARTED):
        raise SagaError(f"placement {placement_id} is {row.status}; only a requested, confirmed or started one can be withdrawn")
    await _set(uow, row, status=Status.WITHDRAWN.value)
    await _exclude(uow, row, "withdrawn")
    uow.emit(events.PlacementWithdrawn(placement_id=placement_id, by=Side.HOME, reason=withdrawal.reason),
             target=row.host_node, correlation_id=uuid.UUID(row.correlation_id))


async def remind_due(uow: UnitOfWork, deadlines: Deadlines) -> int:
    """Proposals still unanswered close to their deadline: tell notifications to remind her, once."""
    now, count = _now(), 0
    due = (await uow.session.execute(select(placements).where(
        placements.c.status == Status.PROPOSED.value, placements.c.reminded_at.is_(None),
        placements.c.proposal_expires_at > now, placements.c.proposal_expires_at <= now + deadlines.reminder))).all()
    for row in due:
        await _set(uow, row, reminded_at=now)
        uow.emit(events.PlacementProposalExpiring(proposal_id=uuid.UUID(row.placement_id), volunteer_id=uuid.UUID(row.volunteer_id),
                                                  opportunity_id=uuid.UUID(row.opportunity_id), expires_at=row.proposal_expires_at),
                 correlation_id=uuid.UUID(row.correlation_id))
        count += 1
    return count


async def expire_due(uow: UnitOfWork) -> int:
    """Unanswered proposals and requests past their deadline expire."""
    now, count = _now(), 0
    due = (await uow.session.execute(select(placements).where(
        ((placements.c.status == Status.PROPOSED.value) & (placements.c.proposal_expires_at < now))
        | ((placements.c.status == Status.REQUESTED.value) & (placements.c.request_expires_at < now))))).all()
    for row in due:
        await _set(uow, row, status=Status.EXPIRED.value)
        await _exclude(uow, row, "expired")
        uow.emit(events.PlacementExpired(placement_id=uuid.UUID(row.placement_id), volunteer_id=uuid.UUID(row.volunteer_id),
                                         opportunity_id=uuid.UUID(row.opportunity_id),
                                         stage="proposal" if row.status == Status.PROPOSED else "request"),
                 correlation_id=uuid.UUID(row.correlation_id))
        count += 1
    return count


async def end_proposals(uow: UnitOfWork, opportunity_id: str, reason: ExpiryReason) -> int:
    """Proposals still unanswered for an opportunity that is now full or closed end as soon as this
    node learns it: she is told, and she is free for the next round. A full one may free a slot
    again later, so she is not kept from it; a closed one will not open again."""
    due = (await uow.session.execute(select(placements).where(
        placements.c.opportunity_id == opportunity_id, placements.c.status == Status.PROPOSED.value))).all()
    for row in due:
        await _set(uow, row, status=Status.EXPIRED.value, decline_reason=reason.value)
        if reason is ExpiryReason.CLOSED:
            await _exclude(uow, row, "closed")
        uow.emit(events.PlacementExpired(placement_id=uuid.UUID(row.placement_id), volunteer_id=uuid.UUID(row.volunteer_id),
                                         opportunity_id=uuid.UUID(row.opportunity_id), stage="proposal", reason=reason),
                 correlation_id=uuid.UUID(row.correlation_id))
    return len(due)


class HostAnswers:
    """The handlers of what host nodes send back; they need this node's pseudonym secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def pseudonym(self, row) -> str:
        return pseudonym(self._secret, uuid.UUID(row.volunteer_id), row.host_node)

    @staticmethod
    async def _from_host(uow: UnitOfWork, incoming: Incoming):
        """The placement an answer from a host node is about, if it is ours; refused from any node
        but its host (the consumer's ledger refuses it first; this is the saga's own word on it)."""
        row = (await uow.session.execute(select(placements).where(
            placements.c.placement_id == str(incoming.event.placement_id)))).first()
        if row is not None and row.host_node != incoming.envelope.origin:
            raise Refused(f"placement/{row.placement_id} is hosted by {row.host_node}, not by {incoming.envelope.origin}")
        return row


    async def on_confirmed(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is None:
            return
        if row.status == Status.REQUESTED:
            await _set(uow, row, status=Status.CONFIRMED.value)
            await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == row.volunteer_id)
                                      .values(waiting_since=None))
            her = (await uow.session.execute(select(volunteers).where(volunteers.c.volunteer_id == row.volunteer_id))).first()
            if her is not None and her.discloses_contact_since is not None and her.contact:
                uow.emit(events.ContactDisclosed(placement_id=incoming.event.placement_id,
                                                 volunteer=self.pseudonym(row), contact=DisclosedContact.model_validate(her.contact),
                                                 consented_at=her.discloses_contact_since),
                         target=row.host_node, cause=incoming)
        elif row.status in (Status.EXPIRED, Status.WITHDRAWN, Status.DECLINED):
            # Too late: give the slot back to the host (compensation).
            await _set(uow, row, status=Status.COMPENSATED.value if row.status == Status.EXPIRED else row.status)
            uow.emit(events.PlacementWithdrawn(placement_id=incoming.event.placement_id, by=Side.HOME,
                                               reason=WithdrawalReason.EXPIRED), target=row.host_node, cause=incoming)


    async def on_declined(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is None or row.status != Status.REQUESTED:
            return
        await _set(uow, row, status=Status.DECLINED_BY_HOST.value, decline_reason=incoming.event.reason.value)
        await _exclude(uow, row, "declined_by_host")


    async def on_started(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is not None and row.status == Status.CONFIRMED:
            await _set(uow, row, status=Status.STARTED.value, started_on=incoming.event.started_on)


    async def on_hours(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is not None:
            await _set(uow, row, hours=Decimal(str(row.hours)) + incoming.event.hours)


    async def on_completed(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is not None and row.status in (Status.CONFIRMED, Status.STARTED):
            event = incoming.event
            await _set(uow, row, status=Status.COMPLETED.value, completed_on=event.completed_on,
                       skills_practised=list(event.skills_practised),
                       **({"hours": event.total_hours} if event.total_hours is not None else {}))


    async def on_withdrawn(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is not None and row.status in (Status.REQUESTED, Status.CONFIRMED, Status.STARTED):
            await _set(uow, row, status=Status.WITHDRAWN.value)
            await _exclude(uow, row, "withdrawn")
