"""A registered partner that misbehaves, and what the honest nodes do with what it sends.

A hub and three leaf nodes on loopback. France (fr) and Spain (es) run this project's services;
Belgium (be) is a node written from outside the project: it is in the registry, so what it signs
verifies, and it sends whatever the test tells it to. Every move below is refused by every honest
service that reads it: dead-lettered with the reason, counted, and nothing changes on fr or es.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import nats
import pytest
from corridor_contracts import events, new_node_seed
from corridor_contracts.events.opportunities import ClosingReason
from corridor_contracts.events.placements import DisclosedContact, Side, WithdrawalReason
from corridor_contracts.values import HostSummary, MatchSummary
from harness.access import signed_in_client
from harness.ledger import eventually
from harness.partners import Impostor, PartnerNodeUnderTest, admit, placement_of, publish_accounting_role
from harness.streams import stream_messages

pytestmark = pytest.mark.nats
NODES = {"fr": ("Elan Interculturel", "FR"), "es": ("Cámara de Comercio de Sevilla", "ES"), "be": ("ENoMW", "BE")}
SEEDS = {node: new_node_seed() for node in NODES}
MALLORY = DisclosedContact(given_name="Mallory", family_name="Forger", email="mallory@forger.example", preferred_language="en")


@pytest.fixture
async def corridor(tmp_path, corridor_servers):
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


async def register_accountant(fr, name: str = "Lucía") -> dict:
    return (await fr.profiles.post("/volunteers", json={
        "given_name": name, "family_name": "Pérez", "email": f"{name.lower()}.perez@example.org", "phone": "+33 6 11 22 33 44",
        "country_of_origin": "VE", "preferred_language": "es",
        "place": {"country": "FR", "city": "Toulouse", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C2"}], "skills": ["accounting.bookkeeping"],
        "availability": {"hours_per_week": 20, "available_from": "2027-01-15"}, "sector_preferences": ["accounting"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()


def matching_view(node, opportunity_id: str):
    """(host node, open, title) of an opportunity as the node's matching holds it."""
    rows = node.rows("matching", "SELECT host_node, open, details FROM matching_opportunities WHERE opportunity_id = ?",
                     opportunity_id)
    return [(host, bool(is_open), json.loads(details)["title"] if details else None) for host, is_open, details in rows]


async def refused(node, sent: list, *, reason: str, by: set[str] | None = None, but: frozenset[str] = frozenset()) -> list:
    """Wait until every consumer of `node` that reads each event in `sent` (or those in `by`; not
    those in `but`) has dead-lettered it with a reason containing `reason`; returns those letters."""
    wanted = {(str(e.event_id), consumer) for e in sent for consumer in (by or node.consumers_of(e.type)) - but}
    assert wanted, "none of the node's consumers reads these events"
    found: list = []

    async def letters():
        found[:] = [d for d in await node.dead_letters() if reason in d.reason]
        return found if wanted <= {(json.loads(d.data)["event_id"], d.consumer) for d in found} else None
    try:
        return await eventually(letters, timeout=60)
    except AssertionError:
        every = [(d.consumer, json.loads(d.data)["type"], d.reason) for d in await node.dead_letters()]
        missing = wanted - {(json.loads(d.data)["event_id"], d.consumer) for d in found}
        raise AssertionError(f"{node.node}: not refused {missing}; its dead letters: {every}") from None


def refused_count(node) -> int:
    return sum(c.counters.refused for host in node.hosts for c in host.consumers)


async def test_a_partner_cannot_take_over_another_partners_opportunity(corridor):
    fr, es, be = corridor
    role = await publish_accounting_role(es)
    x = role["opportunity_id"]
    await eventually(lambda: _now(matching_view(fr, x)), timeout=60)
    [announcement] = [m for m in await es.stream("OUT") if m.subject.endswith("OpportunityPublished")]
    genuine = json.loads(announcement.data)

    # be claims Spain's opportunity as its own, copies Spain's announcement under its name (dated
    # later, so that "the latest wins" would let it), then updates and closes it.
    host = HostSummary(organisation_id=uuid.uuid4(), organisation_name="Front BV", kind="business", sector="accounting",
                       country="BE")
    published = events.OpportunityPublished.model_validate({**genuine["payload"], "host": host.model_dump(mode="json"),
                                                            "revision": 50})
    sent = [await be.send(published),
            await be.resign(genuine, occurred_at=(datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()),
            await be.send(events.OpportunityUpdated.model_validate({**published.model_dump(mode="json"), "slots_free": 0,
                                                                    "revision": 51})),
            await be.send(events.OpportunityClosed(opportunity_id=x, reason=ClosingReason.WITHDRAWN, slots_free=0, revision=52))]

    for node in (fr, es):
        letters = await refused(node, sent, reason=f"opportunity/{x} was not made by be: its id names another node")
        assert {d.consumer for d in letters} >= {"matching-corridor", "profiles-corridor", "notifications-corridor",
                                                 "reporting-corridor"}
    assert refused_count(fr) >= 4 * 3 and refused_count(es) >= 4 * 3

    # The operator sees them counted, per consumer, in the node's Prometheus metrics.
    async def counted():
        async with signed_in_client(fr.reporting_host, "http://r") as api:
            text = (await api.get("/metrics")).text
        line = next((l for l in text.splitlines() if l.startswith("corridor_events_refused{")
                     and 'consumer="matching-corridor"' in l), "")
        return line if line.endswith(" 4.0") else None
    assert await eventually(counted, timeout=30)

    # Nothing changed on either honest node: Spain hosts it, it is open, with its own title.
    assert matching_view(fr, x) == [("es", True, "Auxiliar contable")]
    assert matching_view(es, x) == [("es", True, "Auxiliar contable")]
    assert (await es.profiles.get(f"/opportunities/{x}")).json()["status"] == "open"
    for node in (fr, es):
        assert node.rows("reporting", "SELECT host_country FROM reporting_opportunities WHERE opportunity_id = ?", x) == [("ES",)]
        assert node.rows("profiles", "SELECT host_country FROM profiles_corridor_opportunities WHERE opportunity_id = ?", x) == [("ES",)]

    # A volunteer of France accepts her proposal: the request goes to Spain, Spain confirms, and her
    # contact goes to Spain — never to be.
    lucia = await register_accountant(fr)
    proposal = await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "proposed"), timeout=90)
    assert proposal["opportunity_id"] == x and proposal["host_node"] == "es"
    assert (await fr.matching.post(f"/placements/{proposal['placement_id']}/accept")).status_code == 200
    await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "confirmed"), timeout=90)

    async def disclosed():
        return (await es.profiles.get(f"/placements/{proposal['placement_id']}")).json().get("contact_disclosed")
    assert await eventually(disclosed, timeout=60)
    assert not [m.subject for m in await fr.stream("OUT") if m.subject.startswith("corridor.direct.be.")]
    assert not [m.subject for m in await be_stream(be, "IN") if m.subject.startswith("corridor.direct.")]


async def test_a_partner_cannot_speak_for_a_placement_it_is_not_part_of(corridor):
    fr, es, be = corridor
    role = await publish_accounting_role(es)
    x = role["opportunity_id"]
    lucia = await register_accountant(fr)
    proposal = await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "proposed"), timeout=90)
    pid = uuid.UUID(proposal["placement_id"])

    # Before she answers, be tells France that the host confirmed her placement.
    early = [await be.send(events.PlacementConfirmed(placement_id=pid, opportunity_id=x, slots_free=0), target="fr")]
    await refused(fr, early, reason="be", by=fr.consumers_of("PlacementConfirmed"))
    assert (await fr.matching.get(f"/placements/{pid}")).json()["status"] == "proposed"

    assert (await fr.matching.post(f"/placements/{pid}/accept")).status_code == 200
    await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "confirmed"), timeout=90)

    async def disclosed():
        return (await es.profiles.get(f"/placements/{pid}")).json().get("contact_disclosed")
    assert await eventually(disclosed, timeout=60)
    mail_before = {"fr": len(fr.mail()), "es": len(es.mail())}

    # To France (her home): the host's steps, spoken by be.
    to_fr = [await be.send(events.PlacementStarted(placement_id=pid, started_on=date(2027, 2, 1)), target="fr"),
             await be.send(events.HoursLogged(placement_id=pid, entry_id=uuid.uuid4(), worked_on=date(2027, 2, 2),
                                              hours=8), target="fr"),
             await be.send(events.PlacementCompleted(placement_id=pid, completed_on=date(2027, 3, 1), total_hours=8,
                                                     skills_practised=[]), target="fr"),
             await be.send(events.PlacementWithdrawn(placement_id=pid, by=Side.HOST, reason=WithdrawalReason.HOST_CHOICE),
                           target="fr")]
    # To Spain (the host): her home's steps spoken by be, a request to France for Spain's opportunity
    # sent to France, and erasure requests for a volunteer be never sent.
    to_es = [await be.send(events.ContactDisclosed(placement_id=pid, volunteer="x" * 43, contact=MALLORY,
                                                   consented_at=datetime.now(timezone.utc)), target="es"),
             await be.send(events.PlacementWithdrawn(placement_id=pid, by=Side.HOME, reason=WithdrawalReason.OTHER),
                           target="es"),
             await be.send(events.ErasureRequested(erasure_id=uuid.uuid4(), volunteer="x" * 43, placement_ids=[pid]),
                           target="es")]
    unknown_erasure = [await be.send(events.ErasureRequested(erasure_id=uuid.uuid4(), volunteer="y" * 43,
                                                             placement_ids=[uuid.uuid4()]), target="es")]
    request_elsewhere = [await be.send(events.PlacementRequested(
        placement_id=uuid.uuid4(), opportunity_id=x, volunteer="z" * 43, match=MatchSummary(score=0.9),
        expires_at=datetime.now(timezone.utc) + timedelta(days=5)), target="fr")]

    # (France's profiles is the host side of France's own opportunities: this placement is none of
    # them, so it has never heard of it and its handler leaves it alone.)
    letters = await refused(fr, to_fr, reason=f"placement/{pid} is ", but=frozenset({"profiles-corridor"}))
    letters += await refused(es, to_es, reason=f"placement/{pid} is ")
    assert all("not by be" in d.reason or "be may not speak" in d.reason for d in letters), [d.reason for d in letters]
    await refused(es, unknown_erasure, reason="this node holds no placement from be", by={"profiles-corridor"})
    await refused(fr, request_elsewhere, reason=f"opportunity/{x} was not made by fr", by=fr.consumers_of("PlacementRequested"))
    # ...and a receipt for an erasure France never asked of it.
    receipt = [await be.send(events.ErasureCompleted(erasure_id=uuid.uuid4(), volunteer="x" * 43,
                                                     erased_at=datetime.now(timezone.utc), records_erased=1), target="fr")]
    await refused(fr, receipt, reason="was not asked of be", by={"matching-corridor"})

    # Nothing changed: the placement is confirmed on both sides, Spain holds her contact, not
    # Mallory's, and the slot stays taken; nobody was mailed about any of it; be got no answer.
    assert (await fr.matching.get(f"/placements/{pid}")).json()["status"] == "confirmed"
    hosted = (await es.profiles.get(f"/placements/{pid}")).json()
    assert hosted["status"] == "confirmed" and hosted["contact_disclosed"] and hosted["home_node"] == "fr"
    [(contact,)] = es.rows("profiles", "SELECT contact FROM profiles_host_placements WHERE placement_id = ?", str(pid))
    assert json.loads(contact)["given_name"] == "Lucía"
    assert (await es.profiles.get(f"/opportunities/{x}")).json()["slots_free"] == 0
    assert not fr.rows("profiles", "SELECT * FROM profiles_host_placements")
    assert {"fr": len(fr.mail()), "es": len(es.mail())} == mail_before
    assert "Mallory" not in es.mail_text() and "Mallory" not in fr.mail_text()
    assert not [m.subject for m in await be_stream(be, "IN") if m.subject.startswith("corridor.direct.")]


async def test_a_partners_clock_and_order_of_sending_do_not_decide(corridor):
    fr, es, be = corridor
    host = HostSummary(organisation_id=uuid.uuid4(), organisation_name="Atelier Bruxelles", kind="ngo", sector="care",
                       country="BE")
    y = uuid.uuid4()
    details = dict(opportunity_id=y, host=host, place={"country": "BE", "city": "Bruxelles"}, hours_per_week=8,
                   starts_on=date(2027, 3, 1), slots_total=2, slots_free=2)

    # Dated a day ahead: refused by every reader, on both nodes.
    future = [await be.send(events.OpportunityPublished(title="From the future", revision=1, **details),
                            occurred_at=datetime.now(timezone.utc) + timedelta(days=1))]
    for node in (fr, es):
        await refused(node, future, reason="from the future")
    assert matching_view(fr, str(y)) == []

    # Its own opportunity, in two versions that arrive in the wrong order, the older one dated
    # later: the revision decides, not the time the sender wrote.
    await be.send(events.OpportunityPublished(title="Second version", revision=2, **details))
    await be.send(events.OpportunityUpdated(title="First version", revision=1, **details),
                  occurred_at=datetime.now(timezone.utc) + timedelta(seconds=30))
    assert await eventually(lambda: _superseded(fr, "matching-corridor"), timeout=60)
    assert matching_view(fr, str(y)) == [("be", True, "Second version")]
    summary = fr.rows("notifications", "SELECT summary FROM notifications_opportunities WHERE opportunity_id = ?", str(y))
    assert [json.loads(s)["title"] for (s,) in summary] == ["Second version"]


async def be_stream(be: Impostor, name: str) -> list:
    nc = await nats.connect(be.nats_url)
    try:
        return await stream_messages(nc.jetstream(), name)
    finally:
        await nc.close()


async def _now(value):
    return value


async def _superseded(node, consumer: str) -> bool:
    return any(c.counters.superseded for host in node.hosts for c in host.consumers if c.name == consumer)

