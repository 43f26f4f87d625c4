"""Projections from the node's events. Events from different streams arrive in no fixed order, so
a placement's status only moves forward (by rank) and every fact is an upsert: replaying the
streams from the start gives the same rows.

Each event changes one row of one table, and what it does to that row is a plain function of the
row as it was (`registered`, `updated`, `advanced`, `with_hours`, ...; `PROJECTION` says which).
`project_batch` reads every row a batch touches in one query per table, applies the batch's events
in order in memory, and writes the rows back in one statement per table and kind of write — a few
statements a batch instead of a few an event (benchmarks/README.md: a replay was a chain of small statements).
One event (`project`) is a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Table, bindparam, delete, select, update

from corridor_contracts import events
from corridor_contracts.types import AgeBand
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from . import outcome_figures
from .tables import notification_failures, opportunities, outcome_records, placements, received_figures, volunteers

RANK = {"proposed": 0, "requested": 1, "expired": 1, "declined": 1, "declined_by_host": 2, "confirmed": 2, "started": 3,
        "withdrawn": 4, "completed": 4, "compensated": 4}
# A placement's status as matching states it (PlacementStatusChanged): the home's own record, which
# the host's events no longer move. The ranks above only order what older streams say without it.
AS_MATCHING_HOLDS_IT = 100
STEPS = {"PlacementConfirmed": "confirmed", "PlacementDeclined": "declined", "PlacementStarted": "started",
         "PlacementCompleted": "completed", "PlacementWithdrawn": "withdrawn", "PlacementExpired": "expired"}

Row = dict | None  # a row of a projection, or None: there is none


# What each event does to its row.

def registered(row: Row, incoming: Incoming) -> Row:
    event: events.VolunteerRegistered = incoming.event
    p = event.profile
    return {"volunteer_id": str(event.volunteer_id), "registered_at": event.registered_at, "country": p.place.country,
            "origin": p.country_of_origin, "age_band": AgeBand.on(p.birth_date, event.registered_at.date()).value,
            "skills": sorted(p.skills)}


def updated(row: Row, incoming: Incoming) -> Row:
    event: events.VolunteerUpdated = incoming.event
    if row is None:  # updated before she is known here: nothing to update
        return None
    return {**row, "country": event.profile.place.country, "skills": sorted(event.profile.skills)}


def erased(row: Row, incoming: Incoming) -> Row:
    return None


def opportunity(row: Row, incoming: Incoming) -> Row:
    event = incoming.event
    return {"opportunity_id": str(event.opportunity_id), "host_country": event.host.country,
            "host_kind": event.host.kind.value, "host_sector": event.host.sector.value,
            "skills": sorted(r.code for r in event.required_skills)}


def advanced(row: Row, placement_id, status: str, **facts) -> dict:
    """The placement after a step: facts fill in, the status only moves forward."""
    if row is None:
        return {"placement_id": str(placement_id), "volunteer_id": None, "opportunity_id": None, "proposed_at": None,
                "confirmed_at": None, "status": status, "status_rank": RANK[status], "hours": Decimal(0), **facts}
    row = {**row, **{k: v for k, v in facts.items() if v is not None}}
    if row["status_rank"] < AS_MATCHING_HOLDS_IT and RANK[status] >= row["status_rank"]:
        row.update(status=status, status_rank=RANK[status])
    return row


def proposed(row: Row, incoming: Incoming) -> Row:
    event: events.PlacementProposed = incoming.event
    return advanced(row, event.proposal_id, "proposed", volunteer_id=str(event.volunteer_id),
                    opportunity_id=str(event.opportunity_id), proposed_at=incoming.envelope.occurred_at)


def home_status(row: Row, incoming: Incoming) -> Row:
    """Matching's own status of the placement. Its statements come in the order matching made them:
    they are one journey (its correlation id), whose later events the consumer holds back while an
    earlier one fails."""
    event: events.PlacementStatusChanged = incoming.event
    row = advanced(row, event.placement_id, "proposed", volunteer_id=str(event.volunteer_id),
                   opportunity_id=str(event.opportunity_id))
    return {**row, "status": event.status, "status_rank": AS_MATCHING_HOLDS_IT}


def declined_by_her(row: Row, incoming: Incoming) -> Row:
    event: events.ProposalDeclined = incoming.event
    return advanced(row, event.proposal_id, "declined", volunteer_id=str(event.volunteer_id),
                    opportunity_id=str(event.opportunity_id))


def stepped(row: Row, incoming: Incoming) -> Row:
    """What the host node answers and reports about this node's placements."""
    status = STEPS[incoming.event.TYPE]
    facts = {"confirmed_at": incoming.envelope.occurred_at} if status == "confirmed" else {}
    return advanced(row, incoming.event.placement_id, status, **facts)


def with_hours(row: Row, incoming: Incoming) -> Row:
    event: events.HoursLogged = incoming.event
    row = advanced(row, event.placement_id, "started")
    return {**row, "hours": Decimal(str(row["hours"])) + event.hours}


def outcome(row: Row, incoming: Incoming) -> Row:
    """One follow-up, with her home node (the event's origin): this node's own (OutcomeRecorded, from
    LOCAL) or a partner's on older code (PlacementOutcome v1). Counted only in figures (outcome_figures.py)."""
    event: events.OutcomeRecorded | events.PlacementOutcome = incoming.event
    return {"outcome_id": str(event.outcome_id), "home_node": incoming.envelope.origin,
            "home_country": event.home_country, "host_country": event.host_country,
            "host_sector": event.host_sector.value, "outcome": event.outcome.value,
            "recorded_month": event.recorded_month}


def notification_failed(row: Row, incoming: Incoming) -> Row:
    event: events.NotificationFailed = incoming.event
    return {"delivery_id": str(event.delivery_id), "channel": event.channel, "kind": event.kind}


# event type → (table, the row's key in the event, what the event does to the row)
PROJECTION: dict[str, tuple[Table, Callable[[Incoming], str], Callable[[Row, Incoming], Row]]] = {
    "VolunteerRegistered": (volunteers, lambda i: str(i.event.volunteer_id), registered),
    "VolunteerUpdated": (volunteers, lambda i: str(i.event.volunteer_id), updated),
    "VolunteerErased": (volunteers, lambda i: str(i.event.volunteer_id), erased),
    "OpportunityPublished": (opportunities, lambda i: str(i.event.opportunity_id), opportunity),
    "OpportunityUpdated": (opportunities, lambda i: str(i.event.opportunity_id), opportunity),
    "PlacementProposed": (placements, lambda i: str(i.event.proposal_id), proposed),
    "ProposalDeclined": (placements, lambda i: str(i.event.proposal_id), declined_by_her),
    "PlacementStatusChanged": (placements, lambda i: str(i.event.placement_id), home_status),
    **{step: (placements, lambda i: str(i.event.placement_id), stepped) for step in STEPS},
    "HoursLogged": (placements, lambda i: str(i.event.placement_id), with_hours),
    "PlacementOutcome": (outcome_records, lambda i: str(i.event.outcome_id), outcome),
    "OutcomeRecorded": (outcome_records, lambda i: str(i.event.outcome_id), outcome),
    "OutcomeFigures": (received_figures, lambda i: i.envelope.origin, outcome_figures.received),
    "NotificationFailed": (notification_failures, lambda i: str(i.event.delivery_id), notification_failed),
}


def _key(table: Table) -> str:
    return table.primary_key.columns[0].name


async def project(uow: UnitOfWork, incoming: Incoming) -> None:
    """One event: read its row, change it, write it."""
    await project_batch(uow, [incoming])


async def project_batch(uow: UnitOfWork, batch: list[Incoming]) -> None:
    """A batch of events of any types, in order: one read and at most three writes per table."""
    by_table: dict[Table, list[tuple[str, Callable, Incoming]]] = {}
    for incoming in batch:
        table, key_of, change = PROJECTION[incoming.envelope.type]
        by_table.setdefault(table, []).append((key_of(incoming), change, incoming))
    for table, changes in by_table.items():
        key = _key(table)
        keys = sorted({k for k, _, _ in changes})
        # FOR UPDATE: the node's two reporting consumers (LOCAL and IN) both write placements. On
        # PostgreSQL, without the lock, each would read a row, change its own facts and write the
        # whole row back over the other's (a CI run lost a proposal's volunteer that way). In key
        # order, so two batches lock their rows in the same order. SQLite's writers take turns anyway.
        stored = {row[key]: dict(row) for row in (await uow.session.execute(
            select(table).where(table.c[key].in_(keys)).order_by(table.c[key]).with_for_update())).mappings()}
        rows: dict[str, Row] = dict(stored)
        for k, change, incoming in changes:
            rows[k] = change(rows.get(k), incoming)
        await _write(uow, table, key, stored, rows)


async def _write(uow: UnitOfWork, table: Table, key: str, stored: dict[str, dict], rows: dict[str, Row]) -> None:
    gone = [{"k": k} for k, row in rows.items() if row is None and k in stored]
    new = [row for k, row in rows.items() if row is not None and k not in stored]
    changed = [{**{f"v_{c}": v for c, v in row.items() if c != key}, "k": k} for k, row in rows.items()
               if row is not None and k in stored and row != stored[k]]
    conn = await uow.session.connection()  # Core executemany, not the ORM's bulk paths
    if gone:
        await conn.execute(delete(table).where(table.c[key] == bindparam("k")), gone)
    if new:
        await conn.execute(table.insert(), new)
    if changed:
        columns = [c.name for c in table.columns if c.name != key]
        await conn.execute(update(table).where(table.c[key] == bindparam("k"))
                           .values({c: bindparam(f"v_{c}") for c in columns}), changed)
