"""The home side of the placement saga.

    proposed ──accept──▶ requested ──PlacementConfirmed──▶ confirmed ─▶ started ─▶ completed
       │                    │  └─PlacementDeclined──▶ declined_by_host (→ next best in the next round)
       ├─decline──▶ declined (→ next best)      └─deadline──▶ expired ──late PlacementConfirmed──▶ compensated
       └─deadline──▶ expired                    confirmed/started ──withdraw (either side)──▶ withdrawn

What the host's events do is the pure transition table of `corridor_contracts.journey` (rules in
its docstring and in docs/placement-journey.md): events of one placement may arrive in any order,
a later step implies the earlier ones, a terminal state is never left, and dates and hours are
recorded whenever they come. This module reads the placement's state, asks the table, and writes
the new state and carries out the effects.

Her pseudonym toward the host node is an HMAC of her id under this node's secret: the host cannot
link it to her, nor two hosts link her between them. Her contact goes to the host only on
confirmation, and only if she consented to that disclosure.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import structlog
from corridor_contracts import events, journey, pseudonym
from corridor_contracts.events.placements import DisclosedContact, ExpiryReason, Side, WithdrawalReason
from corridor_contracts.journey import Effect, HomeCommand, HomeState
from corridor_contracts.values import MatchSummary
from corridor_runtime.authority import Refused
from corridor_runtime.database import upsert
from corridor_runtime.unit_of_work import Incoming, UnitOfWork
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Numeric, String, Table, and_, select, update

from .tables import exclusions, metadata, placements, volunteers

log = structlog.get_logger("corridor.matching.saga")

Status = journey.HomeStatus
OPEN = journey.OPEN

# The two parts of a placement's hours (`matching_placements.hours` shows the larger): the sum of
# the HoursLogged entries received, and the total PlacementCompleted reported. Both are needed to
# count every entry once whatever the order (journey, rule 6). A placement without a row here
# counts its `hours` as logged.
placement_hours = Table(
    "matching_placement_hours",
    metadata,
    Column("placement_id", String(36), primary_key=True),
    Column("logged", Numeric(8, 2), nullable=False),
    Column("reported", Numeric(8, 2), nullable=True),
)


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
    now = _now()
    await uow.session.execute(update(placements).where(placements.c.placement_id == row.placement_id)
                              .values(updated_at=now, **values))
    if "status" in values and values["status"] != row.status:
        status_changed(uow, row, values["status"], now)


def status_changed(uow: UnitOfWork, row, status: str, at: datetime) -> None:
    """Tell the node's other services (reporting) the placement's status as matching holds it, and
    log the step once it is committed (one line a step, naming the placement and its journey)."""
    uow.after_commit(functools.partial(log.info, "placement step", side="home", placement_id=row.placement_id,
                                       correlation_id=row.correlation_id, status=str(status), was=row.status,
                                       host_node=row.host_node))
    uow.emit(events.PlacementStatusChanged(placement_id=uuid.UUID(row.placement_id), volunteer_id=uuid.UUID(row.volunteer_id),
                                           opportunity_id=uuid.UUID(row.opportunity_id), status=str(status), changed_at=at),
             correlation_id=uuid.UUID(row.correlation_id))


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
    if journey.home_command(row.status, HomeCommand.ACCEPT) is None:
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
    if journey.home_command(row.status, HomeCommand.DECLINE) is None:
        raise SagaError(f"placement {placement_id} is {row.status}, not proposed")
    await _set(uow, row, status=Status.DECLINED.value)
    await _exclude(uow, row, "declined")
    uow.emit(events.ProposalDeclined(proposal_id=placement_id, volunteer_id=uuid.UUID(row.volunteer_id),
                                     opportunity_id=uuid.UUID(row.opportunity_id)), correlation_id=uuid.UUID(row.correlation_id))


async def withdraw(uow: UnitOfWork, placement_id: uuid.UUID, withdrawal: Withdrawal) -> None:
    row = await _row(uow, placement_id)
    if journey.home_command(row.status, HomeCommand.WITHDRAW) is None:
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
    """The handlers of what host nodes send back; they need this node's pseudonym secret.

    Every one of them is the same: the placement's state, the host's event, the journey's table."""

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

    async def on_host_event(self, uow: UnitOfWork, incoming: Incoming) -> None:
        row = await self._from_host(uow, incoming)
        if row is None:
            return
        before = await _home_state(uow, row)
        step = journey.at_home(before, incoming.event)
        await _store(uow, row, before, step.state)
        for effect in step.effects:
            await self._carry_out(uow, row, step.state, effect, incoming)

    on_confirmed = on_declined = on_started = on_hours = on_completed = on_withdrawn = on_host_event

    async def _carry_out(self, uow: UnitOfWork, row, state: HomeState, effect: Effect, incoming: Incoming) -> None:
        match effect:
            case Effect.STOP_WAITING:
                await uow.session.execute(update(volunteers).where(volunteers.c.volunteer_id == row.volunteer_id)
                                          .values(waiting_since=None))
            case Effect.DISCLOSE_CONTACT:
                her = (await uow.session.execute(select(volunteers).where(
                    volunteers.c.volunteer_id == row.volunteer_id))).first()
                if her is not None and her.discloses_contact_since is not None and her.contact:
                    uow.emit(events.ContactDisclosed(placement_id=uuid.UUID(row.placement_id),
                                                     volunteer=self.pseudonym(row),
                                                     contact=DisclosedContact.model_validate(her.contact),
                                                     consented_at=her.discloses_contact_since),
                             target=row.host_node, cause=incoming)
            case Effect.EXCLUDE:
                await _exclude(uow, row, state.status.value)
            case Effect.GIVE_BACK:  # too late: give the slot back to the host (compensation)
                uow.emit(events.PlacementWithdrawn(placement_id=uuid.UUID(row.placement_id), by=Side.HOME,
                                                   reason=WithdrawalReason.EXPIRED),
                         target=row.host_node, cause=incoming)


async def _home_state(uow: UnitOfWork, row) -> HomeState:
    parts = (await uow.session.execute(select(placement_hours).where(
        placement_hours.c.placement_id == row.placement_id))).first()
    logged = Decimal(str(parts.logged if parts is not None else row.hours or 0))
    reported = None if parts is None or parts.reported is None else Decimal(str(parts.reported))
    return HomeState(status=Status(row.status), requested=row.request_expires_at is not None, started_on=row.started_on,
                     completed_on=row.completed_on, decline_reason=row.decline_reason,
                     skills_practised=None if row.skills_practised is None else tuple(row.skills_practised),
                     hours_logged=logged, hours_reported=reported)


async def _store(uow: UnitOfWork, row, before: HomeState, after: HomeState) -> None:
    """Write what the table changed: the placement's row, and the parts of its hours."""
    if after == before:
        return
    values: dict[str, object] = {}
    if after.status != before.status:
        values["status"] = after.status.value
    for name in ("started_on", "completed_on", "decline_reason"):
        if getattr(after, name) != getattr(before, name):
            values[name] = getattr(after, name)
    if after.skills_practised != before.skills_practised:
        values["skills_practised"] = None if after.skills_practised is None else list(after.skills_practised)
    if after.hours != before.hours:
        values["hours"] = after.hours
    if values:
        await _set(uow, row, **values)
    if (after.hours_logged, after.hours_reported) != (before.hours_logged, before.hours_reported):
        await upsert(uow.session, placement_hours, "placement_id", row.placement_id,
                     {"logged": after.hours_logged, "reported": after.hours_reported})
