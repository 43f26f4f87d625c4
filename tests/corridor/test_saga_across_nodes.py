"""The whole placement saga across two partner nodes, each with its own nats-server (JetStream
domain), database and services, joined through a hub: an opportunity published in Spain is matched
to a volunteer whose home node is France; request, confirmation, consented contact, start, hours and
completion flow between the nodes, each through its own services."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import nats
import pytest

from corridor_contracts import PartnerNode, Registry, new_node_seed, public_key_of
from corridor_runtime.registry_file import save_registry
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.partners import PartnerNodeUnderTest, placement_of, publish_accounting_role
from harness.servers import observer_url
from harness.streams import opened, stream_messages

pytestmark = pytest.mark.nats
NODES = {"fr": ("Elan Interculturel", "FR"), "es": ("Cámara de Comercio de Sevilla", "ES")}
THIRD = "it"  # a third partner on the hub, with its own streams, that takes no part in this placement
SEEDS = {node: new_node_seed() for node in [*NODES, THIRD]}


@pytest.fixture
async def corridor(tmp_path, corridor_servers):
    hub, servers = corridor_servers([*NODES, THIRD])
    # What crosses the hub, as its operator could see it: a subscriber on '>'.
    observer = await nats.connect(observer_url(hub))
    crossed: list = []

    async def capture(msg):
        crossed.append(msg)
    await observer.subscribe(">", cb=capture)
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=name, country=country)
                                  for n, (name, country) in {**NODES, THIRD: ("MateraHub", "IT")}.items()]), registry)
    for node, server in servers.items():
        nc = await nats.connect(server.url)
        await provision(nc.jetstream(), node, peers=[p for p in servers if p != node])
        await nc.close()
    nodes = {node: PartnerNodeUnderTest(node, tmp_path, servers[node].url, registry, SEEDS) for node in NODES}
    try:
        for node in nodes.values():
            await node.start()
        yield nodes, servers, crossed
    finally:
        await observer.close()
        for node in nodes.values():
            await node.stop()


async def test_a_volunteer_of_france_volunteers_with_a_host_in_spain(corridor):
    nodes, servers, crossed = corridor
    fr, es = nodes["fr"], nodes["es"]

    # Spain: a business in Seville (Spanish law lets companies host) publishes an opportunity.
    role = await publish_accounting_role(es)

    # France: a Venezuelan accountant, willing to move, who agreed to share her profile and contact.
    lucia = (await fr.profiles.post("/volunteers", json={
        "given_name": "Lucía", "family_name": "Pérez", "email": "lucia.perez@example.org", "phone": "+33 6 11 22 33 44",
        "country_of_origin": "VE", "preferred_language": "es",
        "place": {"country": "FR", "region": "Occitanie", "city": "Toulouse", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C2"}, {"language": "fr", "level": "B1"}], "skills": ["accounting.bookkeeping"],
        "availability": {"hours_per_week": 20, "available_from": "2027-01-15"}, "sector_preferences": ["accounting"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()

    def placement(status):
        return placement_of(fr, lucia["volunteer_id"], status)

    proposal = await eventually(lambda: placement("proposed"), timeout=90)  # the broadcast crossed the hub
    assert proposal["opportunity_id"] == role["opportunity_id"] and proposal["host_node"] == "es"
    assert (await fr.matching.post(f"/placements/{proposal['placement_id']}/accept")).status_code == 200
    await eventually(lambda: placement("confirmed"), timeout=90)

    # Spain holds her consented contact for this placement, under a pseudonym it cannot link back.
    async def host_side():
        found = (await es.profiles.get(f"/placements/{proposal['placement_id']}")).json()
        return found if found.get("contact_disclosed") else None
    hosted = await eventually(host_side, timeout=60)
    assert hosted["home_node"] == "fr" and hosted["volunteer"] != lucia["volunteer_id"]
    assert (await es.profiles.get(f"/opportunities/{role['opportunity_id']}")).json()["slots_free"] == 0

    # The host runs the placement; every step reaches her home node.
    pid = proposal["placement_id"]
    assert (await es.profiles.post(f"/placements/{pid}/start", json={"started_on": "2027-02-01"})).status_code == 200
    entry = (await es.profiles.post(f"/placements/{pid}/hours", json={"worked_on": "2027-02-03", "hours": "4"})).json()
    await es.profiles.post(f"/placements/{pid}/hours/{entry['entry_id']}/approve", json={"approved_by": "Carmen Ruiz"})
    await es.profiles.post(f"/placements/{pid}/complete", json={"completed_on": "2027-05-31", "skills_practised": ["accounting.bookkeeping"]})
    done = await eventually(lambda: placement("completed"), timeout=60)
    assert done["hours"] == "4.00" and done["completed_on"] == "2027-05-31"

    # Each side told its own people, in their language: her in Spanish (home), the host's contact (host).
    async def her_mail():
        subjects = sorted(str(m["Subject"]) for m in fr.mail())
        return subjects if len(subjects) >= 4 else None
    assert len(await eventually(her_mail, timeout=60)) >= 4  # proposal, confirmed, started, completed
    assert {m["Content-Language"] for m in fr.mail()} == {"es"} and {m["To"] for m in fr.mail()} == {"lucia.perez@example.org"}
    async def host_mail():
        return [m for m in es.mail() if "lucia.perez@example.org" in m.get_payload()[0].get_payload(decode=True).decode()]
    assert await eventually(host_mail, timeout=60)

    # Spain never received France's node-internal events, and the only personal data it got is the
    # consented contact disclosure.
    nc = await nats.connect(servers["es"].url)
    try:
        js = nc.jetstream()
        count = (await js.stream_info("IN")).state.messages
        received = [await js.get_msg("IN", s) for s in range(1, count + 1)]
        assert all(m.subject.startswith("corridor.") for m in received)
        from_fr = [m for m in received if json.loads(m.data)["origin"] == "fr"]
        assert {json.loads(m.data)["type"] for m in from_fr} == {"PlacementRequested", "ContactDisclosed"}
        assert not any("Luc" in m.data.decode() for m in from_fr)  # as stored and as it crossed the hub: sealed
        opened_here = [opened(m.data, SEEDS) for m in from_fr]  # as Spain's services read them
        assert [e["type"] for e in opened_here if "Lucía" in json.dumps(e, ensure_ascii=False)] == ["ContactDisclosed"]
    finally:
        await nc.close()

    # Everything that crossed the hub during the saga: her personal data appears in none of it —
    # not even the contact disclosure, which is sealed between France and Spain — and Spain opens
    # that disclosure to exactly her consented contact.
    personal = ["Lucía", "Pérez", "lucia.perez@example.org", "+33 6 11 22 33 44", "Toulouse", lucia["volunteer_id"]]
    events = [m for m in crossed if m.data.startswith(b"{") and b'"event_id"' in m.data]
    assert {json.loads(m.data)["type"] for m in events} >= {"OpportunityPublished", "PlacementRequested", "PlacementConfirmed",
                                                            "ContactDisclosed", "PlacementCompleted"}
    for msg in crossed:
        text = msg.data.decode("utf-8", errors="replace")
        assert not any(value in text for value in personal), (msg.subject, text[:200])
    [disclosure] = {m.data for m in events if json.loads(m.data)["type"] == "ContactDisclosed"}
    contact = opened(disclosure, SEEDS)["payload"]["contact"]
    assert (contact["given_name"], contact["family_name"], contact["email"]) == ("Lucía", "Pérez", "lucia.perez@example.org")

    # The third partner got the opportunity's broadcasts and nothing of the placement between
    # France and Spain: no addressed event reached its streams.
    nc = await nats.connect(servers[THIRD].url)
    try:
        third = [m.subject for m in await stream_messages(nc.jetstream(), "IN")]
        assert "corridor.bcast.es.OpportunityPublished" in third
        assert not [s for s in third if s.startswith("corridor.direct.")], third
    finally:
        await nc.close()


async def test_corridor_trace_follows_the_placement_across_both_nodes(corridor):
    """The operator's view of one journey: `corridor trace <placement id>` asked of both nodes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    nodes, servers, _crossed = corridor
    fr, es = nodes["fr"], nodes["es"]
    await publish_accounting_role(es)
    amina = (await fr.profiles.post("/volunteers", json={
        "given_name": "Amina", "family_name": "Haddad", "email": "amina@example.org", "country_of_origin": "MA",
        "preferred_language": "fr", "place": {"country": "FR", "city": "Toulouse", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C1"}], "skills": ["accounting.bookkeeping"],
        "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()

    def placement(status):
        return placement_of(fr, amina["volunteer_id"], status)
    proposal = await eventually(lambda: placement("proposed"), timeout=90)
    await fr.matching.post(f"/placements/{proposal['placement_id']}/accept")
    await eventually(lambda: placement("confirmed"), timeout=90)

    async def disclosed():
        return (await es.profiles.get(f"/placements/{proposal['placement_id']}")).json().get("contact_disclosed")
    await eventually(disclosed, timeout=60)

    command = [str(Path(sys.executable).parent / "corridor"), "trace", proposal["placement_id"],
               "--nats-url", servers["fr"].url, "--nats-url", servers["es"].url]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60,
                                   env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stderr + done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("│ 20")]
    order = [next(w for w in ("PlacementProposed", "PlacementRequested", "PlacementConfirmed", "ContactDisclosed") if w in row)
             for row in rows if any(w in row for w in ("PlacementProposed", "PlacementRequested", "PlacementConfirmed", "ContactDisclosed"))]
    first = [order.index(w) for w in ("PlacementProposed", "PlacementRequested", "PlacementConfirmed", "ContactDisclosed")]
    assert first == sorted(first), order  # the journey in the order it happened
    assert any("PlacementRequested" in row and "│ fr " in row and "OUT" in row for row in rows), done.stdout
    assert any("PlacementRequested" in row and "│ es " in row and "IN" in row for row in rows), done.stdout
    assert "Amina" not in done.stdout and "amina@example.org" not in done.stdout


async def test_erasure_at_home_reaches_the_host_and_leaves_her_nowhere(corridor, tmp_path):
    """Her home node erases her; the host that received her contact erases it and sends a receipt;
    afterwards no database of either node holds her name or contact."""
    import sqlite3

    nodes, servers, _crossed = corridor
    fr, es = nodes["fr"], nodes["es"]
    await publish_accounting_role(es)
    personal = {"given_name": "Yasmina", "family_name": "Benali", "email": "yasmina.benali@example.org", "phone": "+33 7 98 76 54 32"}
    her = (await fr.profiles.post("/volunteers", json={
        **personal, "country_of_origin": "DZ", "preferred_language": "fr",
        "place": {"country": "FR", "city": "Marseille", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C1"}], "skills": ["accounting.bookkeeping"],
        "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()

    def placement(status):
        return placement_of(fr, her["volunteer_id"], status)
    proposal = await eventually(lambda: placement("proposed"), timeout=90)
    await fr.matching.post(f"/placements/{proposal['placement_id']}/accept")

    async def host_mailed():  # the host organisation got her contact: it is in es's delivery log
        return [m for m in es.mail() if personal["email"] in m.get_payload()[0].get_payload(decode=True).decode()]
    assert await eventually(host_mailed, timeout=90)

    erased = await fr.profiles.delete(f"/volunteers/{her['volunteer_id']}")
    assert erased.status_code == 200, erased.text

    async def receipts():
        found = (await fr.matching.get(f"/erasures?volunteer_id={her['volunteer_id']}")).json()
        return found if found and all(e["receipt_at"] for e in found) else None
    [receipt] = await eventually(receipts, timeout=90)
    assert receipt["host_node"] == "es" and receipt["records_erased"] == 1
    assert receipt["placement_ids"] == [proposal["placement_id"]]
    assert (await fr.matching.get("/erasures?missing=true")).json() == []
    assert (await es.profiles.get(f"/placements/{proposal['placement_id']}")).json()["status"] == "withdrawn"

    # Every stream of both nodes: her local events are erased from LOCAL, the disclosure (sealed)
    # from France's OUT and Spain's IN.
    async def streams_clean():
        leftovers = []
        for node in ("fr", "es"):
            nc = await nats.connect(servers[node].url)
            try:
                for stream in ("LOCAL", "OUT", "IN", "DEADLETTER"):
                    for m in await stream_messages(nc.jetstream(), stream):
                        text = m.data.decode("utf-8", errors="replace")
                        if any(v in text for v in personal.values()) or (
                                m.subject.endswith("ContactDisclosed") and proposal["placement_id"] in text):
                            leftovers.append((node, stream, m.subject))
            finally:
                await nc.close()
        return leftovers
    assert await eventually(lambda: _empty(streams_clean()), timeout=60), await streams_clean()

    # Every table of every service database of both nodes: none of her personal data.
    databases = sorted(tmp_path.glob("*/*.sqlite"))
    assert {d.parent.name for d in databases} == {"fr", "es"} and len(databases) == 8  # 3 services and access, each
    for database in databases:
        with sqlite3.connect(database) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                for row in db.execute(f'SELECT * FROM "{table}"'):
                    text = " ".join(str(v) for v in row)
                    found = [v for v in personal.values() if v in text]
                    assert not found, (database.name, table, found)

    # Had the receipt been lost, the home node would ask again later; the host answers a repeated
    # request with a receipt again, and refuses nothing.
    from sqlalchemy import update
    from corridor_matching.erasure import Erasures
    from corridor_matching.tables import erasure_receipts, erasures
    async with fr.matching_host.unit_of_work() as uow:
        await uow.session.execute(update(erasures).values(receipt_at=None, records_erased=None))
        await uow.session.execute(erasure_receipts.delete())
        asking = Erasures(fr.matching_host.settings.pseudonym_key())  # as the service's own loop does
        assert await asking.ask_again(uow, datetime.now(timezone.utc) + timedelta(hours=2)) == 1
    [again] = await eventually(receipts, timeout=90)
    assert again["records_erased"] == 1 and again["times_asked"] == 2
    nc = await nats.connect(servers["es"].url)
    try:
        assert (await nc.jetstream().stream_info("DEADLETTER")).state.messages == 0
    finally:
        await nc.close()


async def _empty(awaitable):
    return not await awaitable
