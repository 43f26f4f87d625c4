"""A batch of events projected at once gives the rows that one event at a time gives (SQLite and
PostgreSQL): interleaved journeys, steps out of order, duplicates of facts, erasures, rows that
already exist before the batch."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from corridor_contracts import Envelope, events
from corridor_contracts.events.placements import OutcomeKind, Side, WithdrawalReason
from corridor_contracts.types import OrganisationKind, Sector
from corridor_reporting import projections
from corridor_reporting.bootstrap import build
from corridor_reporting.tables import PROJECTIONS
from corridor_runtime.settings import NodeSettings
from corridor_runtime.unit_of_work import Incoming, UnitOfWork
from harness.samples import MATCH, NOW, OPPORTUNITY_FIELDS, PROFILE


def incoming(event) -> Incoming:
    target = "fr" if event.SCOPE.value == "direct" else None
    envelope = Envelope.wrap(event, origin="fr", target=target, occurred_at=NOW + timedelta(seconds=random.random()))
    return Incoming(envelope=envelope, event=event, subject="")


def history(rng: random.Random) -> list[Incoming]:
    """Twenty journeys, their events shuffled across journeys but each journey's kept in a
    plausible (not always the usual) order; some steps repeated by another event id."""
    opportunity = events.OpportunityPublished(**OPPORTUNITY_FIELDS)
    journeys = []
    for i in range(20):
        volunteer, placement = uuid.uuid4(), uuid.uuid4()
        steps = [events.VolunteerRegistered(volunteer_id=volunteer, registered_at=NOW, profile=PROFILE),
                 events.VolunteerUpdated(volunteer_id=volunteer, profile=PROFILE.model_copy(update={"skills": [f"care.x{i}"]})),
                 events.PlacementProposed(proposal_id=placement, volunteer_id=volunteer, opportunity_id=opportunity.opportunity_id,
                                          host_node="es", match=MATCH, expires_at=NOW + timedelta(days=7))]
        answers = [events.PlacementConfirmed(placement_id=placement, opportunity_id=opportunity.opportunity_id, slots_free=1),
                   events.PlacementStarted(placement_id=placement, started_on=date(2027, 1, 11)),
                   *[events.HoursLogged(placement_id=placement, entry_id=uuid.uuid4(), worked_on=date(2027, 1, 12 + d),
                                        hours=Decimal("2.25")) for d in range(rng.randint(0, 3))]]
        answers.append(rng.choice([events.PlacementCompleted(placement_id=placement, completed_on=date(2027, 3, 1)),
                                   events.PlacementWithdrawn(placement_id=placement, by=Side.HOST, reason=WithdrawalReason.OTHER)]))
        rng.shuffle(answers)  # the host's answers come through IN, in no fixed order with the proposal
        steps += answers
        if i % 7 == 0:
            steps.append(events.VolunteerErased(volunteer_id=volunteer, erased_at=NOW))
        journeys.append([incoming(e) for e in steps])
    merged = [incoming(opportunity)]
    while any(journeys):
        journey = rng.choice([j for j in journeys if j])
        merged.append(journey.pop(0))
        if rng.random() < 0.1:  # the same fact again, as a new event (e.g. a re-sent step)
            merged.append(incoming(merged[-1].event))
    merged += [incoming(events.PlacementOutcome(outcome_id=uuid.uuid4(), home_country="FR", host_country="ES",
                                                host_kind=OrganisationKind.NGO, host_sector=Sector.CARE,
                                                outcome=OutcomeKind.EMPLOYED, recorded_month="2027-07",
                                                months_after_placement=6))]
    return merged


async def projected(tmp_path, database_url, name: str, batches: list[list[Incoming]]) -> dict:
    host = build(NodeSettings(node_id="fr", service="reporting", database_url=database_url, data_dir=tmp_path / name))
    await host.db.create_tables(host.metadata)
    try:
        async with host.sessions() as session, session.begin():  # a clean slate: PostgreSQL's database is shared
            for table in PROJECTIONS:
                await session.execute(table.delete())
        for batch in batches:
            async with host.sessions() as session, session.begin():
                uow = UnitOfWork(session, host.tables, host.emitter)
                if len(batch) == 1:
                    await projections.project(uow, batch[0])
                else:
                    await projections.project_batch(uow, batch)
        async with host.db.reading() as conn:
            return {t.name: sorted(tuple(r) for r in (await conn.execute(select(t))).all()) for t in PROJECTIONS}
    finally:
        await host.db.dispose()


async def test_a_batch_projects_what_one_event_at_a_time_does(tmp_path, database_url):
    rng = random.Random(9)
    for _ in range(3):
        stream = history(rng)
        one_by_one = await projected(tmp_path, database_url, "single", [[i] for i in stream])
        cuts = sorted(rng.sample(range(1, len(stream)), 6))  # batches of uneven sizes: rows exist before some
        batches = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
        assert await projected(tmp_path, database_url, "batched", batches) == one_by_one
        assert await projected(tmp_path, database_url, "whole", [stream]) == one_by_one

        placements = one_by_one["reporting_placements"]
        assert len(placements) == 20 and len(one_by_one["reporting_volunteers"]) == 20 - 3  # three erased
        assert {p[3] for p in placements} <= {"completed", "withdrawn"}  # status only moves forward, whatever the order
        assert any(p[7] > 0 for p in placements)


async def test_a_proposal_she_declined_is_counted_as_declined_not_proposed(tmp_path, database_url):
    opportunity = events.OpportunityPublished(**OPPORTUNITY_FIELDS)
    volunteer, declined, open_one = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    proposals = [events.PlacementProposed(proposal_id=p, volunteer_id=volunteer, opportunity_id=opportunity.opportunity_id,
                                          host_node="es", match=MATCH, expires_at=NOW + timedelta(days=7))
                 for p in (declined, open_one)]
    her_answer = events.ProposalDeclined(proposal_id=declined, volunteer_id=volunteer, opportunity_id=opportunity.opportunity_id)
    for order in ([*proposals, her_answer], [her_answer, *proposals]):  # LOCAL keeps the order; a rebuild may not
        rows = (await projected(tmp_path, database_url, "declined", [[incoming(e) for e in order]]))["reporting_placements"]
        assert sorted((p[0], p[3]) for p in rows) == sorted([(str(declined), "declined"), (str(open_one), "proposed")])
