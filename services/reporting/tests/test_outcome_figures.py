"""Outcomes shared as figures (SQLite and PostgreSQL): what a home node publishes of its own outcomes,
how often, and the corridor-wide table every node adds up from the nodes' figures."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from corridor_contracts import Envelope, new_node_seed
from corridor_contracts.authority import Owns, statements
from corridor_contracts.authority import outcome_figures as figures_datum
from corridor_contracts.events.outcomes import OutcomeFigures, OutcomeRecorded
from corridor_contracts.events.placements import OutcomeKind, PlacementOutcome
from corridor_contracts.types import OrganisationKind, Sector
from corridor_reporting import projections
from corridor_reporting.bootstrap import build
from corridor_reporting.indicators import compute
from corridor_reporting.outcome_figures import (OUTCOMES, adopt_older_outcomes, as_event, as_table, corridor_table,
                                                publish_figures, released, suppressed)
from corridor_reporting.tables import outcome_records, outcomes
from corridor_runtime.settings import NodeSettings
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

T = 5
NOW = datetime(2027, 12, 20, 9, 0, tzinfo=timezone.utc)


def counts(**cells: int) -> Counter:
    """counts(employed_ES=6, none_ES=1) → {("employed", "ES"): 6, ("none", "ES"): 1}"""
    return Counter({tuple(k.rsplit("_", 1)): v for k, v in cells.items()})


def entries(table: dict) -> list:
    return [v for row in table["cells"] for v in row] + table["row_totals"] + table["column_totals"] + [table["total"]]


# --- what a node publishes --------------------------------------------------------------------------------

def test_a_column_is_published_again_only_when_enough_of_it_is_new():
    published = counts(employed_ES=6, in_training_ES=5)
    # Two more in Spain, one in Italy: a host comparing two publications would learn about one or
    # two women; the columns stay as they were published (Italy is not listed yet).
    assert released(published, counts(employed_ES=7, in_training_ES=6, none_IT=1), threshold=T) == published
    # Five new in Spain: the Spanish column as it is now; Italy's one still held back.
    now = counts(employed_ES=9, in_training_ES=6, none_ES=1, none_IT=1)
    assert released(published, now, threshold=T) == counts(employed_ES=9, in_training_ES=6, none_ES=1)
    # A new host country appears with its first five outcomes.
    assert released(Counter(), counts(employed_IT=3, none_IT=2), threshold=T) == counts(employed_IT=3, none_IT=2)
    assert released(Counter(), counts(employed_IT=4), threshold=T) == Counter()


def test_figures_are_the_suppressed_table_and_a_receiver_checks_it():
    table = suppressed(counts(employed_ES=6, in_training_ES=5, none_ES=1), threshold=T)
    assert table["columns"] == ["ES"] and [row[0] for row in table["cells"]] == [6, None, 0, None, 0]
    event = as_event(table, revision=7)
    assert as_table(OutcomeFigures.model_validate(json.loads(event.model_dump_json()))) == table
    wire = event.model_dump(mode="json")
    for change in ({"counts": [[6], [4], [0], [2], [0]]},  # small counts published
                   {"counts": [[6], [None], [0], [None], [0]], "host_country_totals": [11]},  # 6 + 1 + 1 > 11
                   {"counts": [[6], [5], [0], [0], [0]]},  # 6 + 5 != 12
                   {"host_countries": ["ES", "ES"]}):
        with pytest.raises(ValidationError):
            OutcomeFigures.model_validate({**wire, **change})


def test_a_nodes_figures_are_its_own():
    event = as_event(suppressed(counts(employed_ES=6), threshold=T), revision=3)
    assert statements(event, origin="es", target=None, me="fr") == [Owns(figures_datum("es"), 3)]
    assert figures_datum("es") == "outcome-figures/es"  # named after the sender: no other node can state it


# --- the corridor-wide table --------------------------------------------------------------------------------

def test_the_corridor_adds_the_nodes_figures_and_a_hidden_entry_stays_hidden():
    fr = suppressed(counts(employed_ES=6, in_training_ES=5, none_ES=1), threshold=T)  # none hidden, in_training too
    it = suppressed(counts(employed_ES=7, employed_IT=9, none_IT=8), threshold=T)  # nothing small
    table = corridor_table([fr, it], threshold=T)
    assert table["columns"] == ["ES", "IT"] and table["rows"] == OUTCOMES
    cells = {r: dict(zip(table["columns"], row)) for r, row in zip(table["rows"], table["cells"])}
    assert cells["employed"] == {"ES": 13, "IT": 9}  # 6 + 7; France has no Italian column: 0 there
    assert cells["in_training"] == {"ES": None, "IT": 0}  # hidden in France's figures: hidden in the sum, not 0 + 0
    assert cells["none"] == {"ES": None, "IT": 8}  # France's hidden 1 in Spain; Italy's 8 in Italy
    assert table["row_totals"][OUTCOMES.index("none")] is None  # France's 1 + Italy's 8: hidden, not 8
    assert table["column_totals"] == [12 + 7, 17] and table["total"] == 12 + 24
    assert all(v is None or v == 0 or v >= T for v in entries(table))
    assert corridor_table([], threshold=T)["total"] == 0


@pytest.fixture
async def host(tmp_path, database_url):
    host = build(NodeSettings(node_id="fr", service="reporting", database_url=database_url, data_dir=tmp_path,
                              signing_seed=new_node_seed().decode()), threshold=T)
    await host.db.create_tables(host.metadata)
    try:
        yield host
    finally:
        await host.db.dispose()


def outcome(kind: str, country: str, *, event=OutcomeRecorded) -> OutcomeRecorded | PlacementOutcome:
    return event(outcome_id=uuid.uuid4(), home_country="FR", host_country=country, host_kind=OrganisationKind.NGO,
                 host_sector=Sector.CARE, outcome=OutcomeKind(kind), recorded_month="2027-09", months_after_placement=6)


async def project(host, *items: tuple[object, str]) -> None:
    async with host.sessions() as session, session.begin():
        uow = UnitOfWork(session, host.tables, host.emitter)
        batch = [Incoming(envelope=Envelope.wrap(event, origin=origin), event=event, subject="")
                 for event, origin in items]
        await projections.project_batch(uow, batch)


async def sent(host) -> list[dict]:
    outbox = host.tables.outbox
    async with host.sessions() as session:
        return [json.loads(r.data) for r in await session.execute(select(outbox).order_by(outbox.c.seq))]


async def test_a_home_node_publishes_its_figures_when_they_change(host):
    await project(host, *[(outcome(k, "ES"), "fr") for k in ["employed"] * 6 + ["in_training"] * 5 + ["none"]],
                  (outcome("employed", "IT"), "fr"), (outcome("employed", "ES", event=PlacementOutcome), "it"))
    first = await publish_figures(host, threshold=T, now=NOW)
    assert first is not None and first.host_countries == ["ES"]  # one Italian outcome: held back
    assert [row[0] for row in first.counts] == [6, None, 0, None, 0]
    assert first.total == 12  # the outcome Italy broadcast (older code) is Italy's, not this node's
    [wire] = await sent(host)
    assert wire["type"] == "OutcomeFigures" and wire["signature"] and wire.get("target") is None
    assert wire["payload"]["revision"] == first.revision >= int(NOW.timestamp())

    assert await publish_figures(host, threshold=T, now=NOW + timedelta(minutes=5)) is None  # nothing new: idempotent
    await project(host, *[(outcome("employed", "ES"), "fr") for _ in range(4)])
    assert await publish_figures(host, threshold=T, now=NOW + timedelta(minutes=10)) is None  # 4 new in Spain: held
    await project(host, (outcome("none", "ES"), "fr"))
    second = await publish_figures(host, threshold=T, now=NOW + timedelta(minutes=15))
    assert second.revision > first.revision and second.total == 17 and [row[0] for row in second.counts][0] == 10

    # Unchanged, published again after a month: the latest figures stay in the streams (90 days).
    assert await publish_figures(host, threshold=T, now=NOW + timedelta(days=29)) is None
    again = await publish_figures(host, threshold=T, now=NOW + timedelta(days=31))
    assert again.revision > second.revision and again.counts == second.counts
    assert len(await sent(host)) == 3


async def test_the_indicators_show_the_corridor_from_the_figures_and_the_nodes_own_outcomes_live(host):
    mine = [(outcome(k, "ES"), "fr") for k in ["employed"] * 6 + ["none"] * 5] + [(outcome("employed", "FR"), "fr")]
    older = [(outcome(k, "BE", event=PlacementOutcome), "be")  # a partner on older code
             for k in ["employed"] * 5 + ["none"]]
    it = as_event(suppressed(counts(employed_IT=9, employed_ES=5, none_IT=2), threshold=T), revision=2)
    lower = as_event(suppressed(counts(employed_GR=3), threshold=3), revision=1)  # a node publishing counts of 3
    stale = as_event(suppressed(counts(employed_IT=40), threshold=T), revision=1)
    await project(host, *mine, *older, (it, "it"), (lower, "gr"), (stale, "it"))
    async with host.sessions() as session:
        figures = await compute(session, threshold=T)  # the service's sessions say which node is this one
    own = figures["outcomes_of_this_node_by_outcome_and_host_country"]
    corridor = figures["outcomes_by_outcome_and_host_country"]
    assert own == suppressed(counts(employed_ES=6, none_ES=5, employed_FR=1), threshold=T)
    parts = [own, as_table(it), suppressed(counts(employed_BE=5, none_BE=1), threshold=T)]
    assert corridor["columns"] == ["BE", "ES", "FR", "GR", "IT"] and corridor["nodes"] == ["be", "fr", "gr", "it"]
    greece = {**as_table(lower), "cells": [[None], [0], [0], [0], [0]], "row_totals": [None, 0, 0, 0, 0],
              "column_totals": [None], "total": None}
    expected = corridor_table([*parts, greece], threshold=T)
    assert {k: corridor[k] for k in expected} == expected
    assert corridor["total"] is None  # Greece's figures, suppressed under 3, count as hidden here
    assert all(v is None or v == 0 or v >= T for v in entries(corridor))

    # Once Belgium upgrades, its figures replace its older events.
    belgium = as_event(suppressed(counts(employed_BE=8, none_BE=5), threshold=T), revision=1)
    await project(host, (belgium, "be"))
    async with host.sessions() as session:
        corridor = (await compute(session, threshold=T))["outcomes_by_outcome_and_host_country"]
    assert [row[corridor["columns"].index("BE")] for row in corridor["cells"]] == [8, 0, 0, 5, 0]


async def test_outcomes_projected_before_they_had_their_home_node_are_adopted(host):
    rows = [("fr", "employed", "ES"), ("fr", "none", "ES"), ("it", "employed", "IT")]
    async with host.sessions() as session, session.begin():
        for owner, kind, country in rows:
            outcome_id = str(uuid.uuid4())
            await session.execute(outcomes.insert().values(
                outcome_id=outcome_id, home_country="FR", host_country=country, host_sector="care", outcome=kind,
                recorded_month="2026-07"))
            await session.execute(host.tables.authority.insert().values(datum=f"outcome/{outcome_id}", owner=owner))
    assert await adopt_older_outcomes(host) == 3
    assert await adopt_older_outcomes(host) == 0
    async with host.sessions() as session:
        adopted = [(r.home_node, r.outcome, r.host_country) for r in await session.execute(select(outcome_records))]
    assert sorted(adopted) == sorted(rows)
