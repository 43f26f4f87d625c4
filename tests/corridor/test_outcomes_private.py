"""A follow-up outcome never leaves her home node one by one: only the node's suppressed figures do.

A hub and three leaf nodes on loopback. France (fr) is her home node and Spain (es) hosts; both run
this project's services with reporting. Belgium (be) is a partner on older code (written from
outside the project): it still broadcasts each outcome as a `PlacementOutcome` v1, and later
upgrades and broadcasts figures itself.

France records outcomes of its volunteers after placements in Spain and in France. Everything the
other nodes received from France is then searched: no event carries an individual outcome or the
dimensions that describe her (age band, sector, month); what France shares about outcomes is its
`OutcomeFigures`, already suppressed, and Spain's corridor-wide table shows exactly those figures.
"""

from __future__ import annotations

import json
import uuid

import nats
import pytest
from corridor_contracts import Envelope, events, new_node_seed
from corridor_contracts.events.placements import OutcomeKind
from corridor_contracts.types import OrganisationKind, Sector
from corridor_reporting.suppression import suppress
from harness.access import signed_in_client
from harness.ledger import eventually
from harness.partners import Impostor, PartnerNodeUnderTest, admit, publish_accounting_role
from harness.streams import shared, stream_messages

pytestmark = pytest.mark.nats
NODES = {"fr": ("Elan Interculturel", "FR"), "es": ("Cámara de Comercio de Sevilla", "ES"), "be": ("ENoMW", "BE")}
SEEDS = {node: new_node_seed() for node in NODES}
OUTCOMES = ["employed", "in_training", "studying", "none", "unknown"]
TABLE = "outcomes_by_outcome_and_host_country"
OWN_TABLE = "outcomes_of_this_node_by_outcome_and_host_country"
# What describes her, one by one: no event another node receives from her home may carry any of these.
HER_DIMENSIONS = {"age_band", "region_of_origin", "host_sector", "host_kind", "recorded_month",
                  "months_after_placement"}


@pytest.fixture
async def corridor(tmp_path, corridor_servers, monkeypatch):
    # The test runs France's figures once it has recorded every outcome (the loop's first pass, at
    # the start, has nothing to publish): published as outcomes come, a column would be published
    # as it reached 5, 10, ... new outcomes, and its last ones held back.
    monkeypatch.setenv("CORRIDOR_REPORTING_FIGURES_EVERY_SECONDS", "3600")
    hub, servers = corridor_servers(list(NODES))
    registry = await admit(tmp_path, servers, NODES, SEEDS)
    honest = {node: PartnerNodeUnderTest(node, tmp_path, servers[node].url, registry, SEEDS, reporting=True)
              for node in ("fr", "es")}
    try:
        for node in honest.values():
            await node.start()
        yield honest["fr"], honest["es"], Impostor("be", servers["be"].url, SEEDS)
    finally:
        for node in honest.values():
            await node.stop()


async def publish_care_role(fr) -> dict:
    """France hosts too: an NGO in Lyon."""
    org = (await fr.profiles.post("/organisations", json={
        "name": "Entraide Lyon", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
        "contact": {"name": "Claire Martin", "email": "claire@entraide.example.fr", "preferred_language": "fr"},
    })).json()
    return (await fr.profiles.post("/opportunities", json={
        "organisation_id": org["organisation_id"], "title": "Accompagnement de personnes âgées",
        "required_skills": [{"code": "care.elderly-care"}], "languages": [{"language": "fr", "level": "B1"}],
        "place": {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon"}, "hours_per_week": 8,
        "starts_on": "2027-02-01", "slots_total": 3})).json()


async def register(fr, i: int) -> str:
    her = await fr.profiles.post("/volunteers", json={
        "given_name": f"Volunteer{i}", "family_name": "Example", "birth_date": f"{1980 + i}-03-0{1 + i % 9}",
        "country_of_origin": "SY", "preferred_language": "fr", "place": {"country": "FR", "city": "Lyon"},
        "languages": [{"language": "fr", "level": "B2"}],
        "availability": {"hours_per_week": 10, "available_from": "2027-01-15"}, "consents": {"processing": True}})
    assert her.status_code == 201, her.text
    return her.json()["volunteer_id"]


async def record(fr, volunteer_id: str, opportunity_id: str, outcome: str, *, follow_up: int) -> None:
    """Her follow-up 6 months (first) or 12 months (second) after her placement."""
    answer = await fr.profiles.post(f"/volunteers/{volunteer_id}/outcomes", json={
        "outcome": outcome, "recorded_on": "2027-09-15" if follow_up == 1 else "2028-03-15",
        "opportunity_id": opportunity_id, "months_after_placement": 6 * follow_up})
    assert answer.status_code == 201, answer.text


async def indicators(node) -> dict:
    async with signed_in_client(node.reporting_host, "http://r") as api:
        answer = await api.get("/indicators")
        assert answer.status_code == 200, answer.text
        return answer.json()


def column(table: dict, country: str) -> dict | None:
    """One host country's column of a table: its cells by outcome, and its total."""
    if country not in table["columns"]:
        return None
    j = table["columns"].index(country)
    return {**{r: row[j] for r, row in zip(table["rows"], table["cells"])}, "total": table["column_totals"][j]}


def entries(table: dict) -> list:
    return [v for row in table["cells"] for v in row] + table["row_totals"] + table["column_totals"] + [table["total"]]


def keys_in(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def counts_in(payload: dict) -> list[int]:
    """Every published count of an OutcomeFigures payload (hidden ones are null)."""
    found = [payload["total"], *payload["outcome_totals"], *payload["host_country_totals"]]
    found += [v for row in payload["counts"] for v in row]
    return [v for v in found if v is not None]


def individual(found: list[tuple[str, dict]]) -> list:
    """The events among those found that carry one outcome, or what describes her."""
    return [(where, wire["type"], sorted(keys_in(wire["payload"]) & HER_DIMENSIONS)) for where, wire in found
            if wire["type"] in ("PlacementOutcome", "OutcomeRecorded") or keys_in(wire["payload"]) & HER_DIMENSIONS]


def older_outcome(outcome: OutcomeKind) -> events.PlacementOutcome:
    """One of Belgium's outcomes, as a partner on older code broadcasts it."""
    return events.PlacementOutcome(outcome_id=uuid.uuid4(), home_country="BE", host_country="BE",
                                   host_kind=OrganisationKind.NGO, host_sector=Sector.CARE, outcome=outcome,
                                   recorded_month="2027-09", months_after_placement=6)


async def test_outcomes_leave_the_home_node_only_as_suppressed_figures(corridor):
    fr, es, be = corridor
    in_spain = (await publish_accounting_role(es, slots_total=5))["opportunity_id"]
    in_france = (await publish_care_role(fr))["opportunity_id"]

    async def known_at_home():
        rows = fr.rows("profiles", "SELECT opportunity_id FROM profiles_corridor_opportunities")
        return {in_spain, in_france} <= {r[0] for r in rows}
    await eventually(known_at_home, timeout=60)

    # Six women placed in Spain, followed up twice each: 6 employed, 5 in training, 1 with no
    # outcome. One woman placed in France, employed at both follow-ups.
    women = [await register(fr, i) for i in range(7)]
    for i, outcome in enumerate(["employed"] * 6 + ["in_training"] * 5 + ["none"]):
        await record(fr, women[i // 2], in_spain, outcome, follow_up=1 + i % 2)
    for follow_up in (1, 2):
        await record(fr, women[6], in_france, "employed", follow_up=follow_up)

    # Belgium is still on older code: it broadcasts each of its outcomes (5 employed, 1 none).
    for outcome in [OutcomeKind.EMPLOYED] * 5 + [OutcomeKind.NONE]:
        await be.send(older_outcome(outcome))

    async def shared_by_france() -> list[tuple[str, dict]]:
        """What Spain and Belgium received from France, and what France shares (its OUT)."""
        received = [("es", json.loads(m.data)) for m in await es.stream("IN")]
        nc = await nats.connect(be.nats_url)
        try:
            received += [("be", json.loads(m.data)) for m in await stream_messages(nc.jetstream(), "IN")]
        finally:
            await nc.close()
        received += [("fr OUT", json.loads(m.data)) for m in await fr.stream("OUT")]
        return [(where, wire) for where, wire in received if wire["origin"] == "fr"]

    # Every broadcast France made so far has reached Spain: no outcome among them.
    async def france_sent_everything():
        return (await fr.profiles_host.status())["outbox_backlog"] == 0
    await eventually(france_sent_everything, timeout=60)
    broadcasts = {json.loads(m.data)["event_id"] for m in await fr.stream("OUT")
                  if m.subject.startswith("corridor.bcast.")}

    async def spain_received_them():
        found = await shared_by_france()
        return found if broadcasts <= {w["event_id"] for where, w in found if where == "es"} else None
    found = await eventually(spain_received_them, timeout=60)
    assert individual(found) == [], f"France let individual outcomes out: {individual(found)[:3]}"

    # France's reporting has every outcome (from LOCAL). Its figures are published by the pass that
    # the loop runs every few minutes: run now.
    async def france_counted_them():
        return fr.rows("reporting", "SELECT count(*) FROM reporting_outcome_records WHERE home_node = 'fr'") == [(14,)]
    await eventually(france_counted_them, timeout=60)
    from corridor_reporting.outcome_figures import publish_figures
    assert await publish_figures(fr.reporting_host, threshold=5) is not None

    async def spain_sees_the_outcomes():
        table = (await indicators(es))[TABLE]
        spain, belgium = column(table, "ES") or {}, column(table, "BE") or {}
        return table if spain.get("total") == 12 and belgium.get("total") == 6 else None
    spain_table = await eventually(spain_sees_the_outcomes, timeout=90)

    # Still nothing individual; about outcomes, France shares only figures, without a small count.
    from_france = await shared_by_france()
    assert {where for where, _ in from_france} == {"es", "be", "fr OUT"}
    assert individual(from_france) == [], f"France let individual outcomes out: {individual(from_france)[:3]}"
    figures = [wire for where, wire in from_france if where == "es" and wire["type"] == "OutcomeFigures"]
    assert figures, "France shared no figures"
    for wire in figures:
        assert all(v == 0 or v >= wire["payload"]["threshold"] for v in counts_in(wire["payload"])), wire["payload"]
    # Her detailed outcome stays on her node, on its LOCAL stream (for its own reporting).
    assert [json.loads(m.data)["type"] for m in await fr.stream("LOCAL")].count("OutcomeRecorded") == 14

    # What France published: its own counts, suppressed. The French column (2 outcomes) is held back
    # until at least 5 outcomes are new in it; the Spanish one is published, small counts hidden.
    latest = max(figures, key=lambda w: w["payload"]["revision"])["payload"]
    assert latest["host_countries"] == ["ES"] and latest["outcomes"] == OUTCOMES
    own_counts = {("employed", "ES"): 6, ("in_training", "ES"): 5, ("none", "ES"): 1}
    expected = suppress(own_counts, rows=OUTCOMES, columns=["ES"]).as_dict()
    assert [row[0] for row in latest["counts"]] == [row[0] for row in expected["cells"]] == [6, None, 0, None, 0]
    assert latest["host_country_totals"] == [12]

    # Spain's corridor-wide table: France's figures as published (its Spanish column), Belgium's
    # outcomes counted from its older events, suppressed by Spain; nothing of France's held column.
    assert column(spain_table, "ES") == {"employed": 6, "in_training": None, "studying": 0, "none": None,
                                         "unknown": 0, "total": 12}
    assert column(spain_table, "BE") == {"employed": None, "in_training": 0, "studying": 0, "none": None,
                                         "unknown": 0, "total": 6}
    assert column(spain_table, "FR") is None
    assert spain_table["total"] == 18
    assert all(v is None or v == 0 or v >= 5 for v in entries(spain_table)), spain_table

    # At home, France's own figures are live and complete (the French column too, hidden).
    own = (await indicators(fr))[OWN_TABLE]
    assert column(own, "FR") == {"employed": None, "in_training": 0, "studying": 0, "none": 0, "unknown": 0,
                                 "total": None}
    assert own["total"] == 14 and own["row_totals"][0] == 8  # 8 employed, 6 of them in Spain

    # Belgium upgrades: its figures replace its older events in Spain's table. A later revision wins;
    # an older one, or figures that publish a small count, change nothing.
    from corridor_contracts.events.outcomes import OutcomeFigures

    def belgian(revision: int, employed: int) -> OutcomeFigures:
        """Its employed published, its one 'none' hidden (and the totals with it)."""
        return OutcomeFigures(revision=revision, threshold=5, outcomes=OUTCOMES, host_countries=["BE"],
                              counts=[[employed], [0], [0], [None], [0]], outcome_totals=[employed, 0, 0, None, 0],
                              host_country_totals=[None], total=None)

    await be.send(belgian(2, 10))

    async def belgium_upgraded():
        return column((await indicators(es))[TABLE], "BE") == {"employed": 10, "in_training": 0, "studying": 0,
                                                                 "none": None, "unknown": 0, "total": None}
    await eventually(belgium_upgraded, timeout=60)
    await be.send(belgian(1, 20))  # older than the figures applied: passed over
    small = json.loads(be.envelope(belgian(3, 10)).encode())
    small["payload"].update(counts=[[10], [0], [0], [2], [0]], outcome_totals=[10, 0, 0, 2, 0],
                            host_country_totals=[12], total=12)  # a count of 2 published: no honest node sends it
    forged = shared(Envelope.model_validate({**small, "signature": None}), SEEDS)
    await be.publish(forged)

    for node in (es, fr):  # the forged figures, refused by each; the older ones passed over
        async def refused():
            return [json.loads(d.data)["event_id"] for d in await node.dead_letters()]
        assert await eventually(refused, timeout=60) == [str(forged.event_id)]
        [letter] = await node.dead_letters()
        assert letter.consumer == "reporting-corridor" and "payload schema violation" in letter.reason
    assert column((await indicators(es))[TABLE], "BE")["employed"] == 10  # neither the older nor the forged one
