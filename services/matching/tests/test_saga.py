"""The placement saga on a real nats-server and database, one node playing both home and host.

Profiles (volunteers, opportunities, slot authority) and matching (proposals, the home side) run as
they do on a node; every step is asserted from the events in the streams and from both services'
state: register, publish, propose, accept, confirm (with the consented contact disclosure),
decline-and-rematch, expire, and a late confirmation compensated.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

import httpx
import nats
import pytest
from sqlalchemy import select, update

from corridor_contracts import PartnerNode, Registry, new_node_seed, public_key_of
from corridor_matching.bootstrap import build as build_matching
from corridor_matching.saga import Deadlines
from corridor_matching.tables import opportunities, placements, volunteers
from corridor_profiles.bootstrap import build as build_profiles
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.streams import opened
from harness.access import signed_in_client

pytestmark = pytest.mark.nats
SEED = new_node_seed()


def settings(tmp_path, nats_url, database_url, service) -> NodeSettings:
    registry = tmp_path / "corridor.yaml"
    if not registry.exists():
        save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR")]), registry)
    return NodeSettings(node_id="fr", service=service, nats_url=nats_url, database_url=database_url, data_dir=tmp_path,
                        registry_file=registry, signing_seed=SEED.decode(), pseudonym_secret=secrets.token_hex(32))


def volunteer(reference, given_name, skills, *, french="B2", disclose=True) -> dict:
    return {"reference": reference, "given_name": given_name, "family_name": "Test", "email": f"{reference.lower()}@example.org",
            "country_of_origin": "SY", "preferred_language": "fr", "place": {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon"},
            "languages": [{"language": "fr", "level": french}, {"language": "ar", "level": "C2"}], "skills": skills,
            "availability": {"hours_per_week": 15, "available_from": "2026-12-01"}, "sector_preferences": ["care"],
            "consents": {"processing": True, "share_match_profile": True, "disclose_contact": disclose}}


def opportunity(organisation_id, title, skills, slots=1) -> dict:
    return {"organisation_id": organisation_id, "title": title, "required_skills": [{"code": c} for c in skills],
            "languages": [{"language": "fr", "level": "B1"}], "place": {"country": "FR", "region": "Auvergne-Rhône-Alpes", "city": "Lyon"},
            "hours_per_week": 8, "starts_on": "2027-01-11", "slots_total": slots}


class Node:
    def __init__(self, profiles, matching, js):
        self.profiles_host, self.matching_host, self.js = profiles, matching, js
        self.profiles = signed_in_client(profiles, "http://profiles")
        self.matching = signed_in_client(matching, "http://matching")

    async def subjects(self, stream) -> list[str]:
        count = (await self.js.stream_info(stream)).state.messages
        return [(await self.js.get_msg(stream, s)).subject for s in range(1, count + 1)]

    async def events(self, stream, event_type) -> list[dict]:
        count = (await self.js.stream_info(stream)).state.messages
        found = []
        for s in range(1, count + 1):
            message = await self.js.get_msg(stream, s)
            if message.subject.endswith(f".{event_type}"):
                found.append(opened(message.data, {"fr": SEED}))
        return found

    async def publish_opportunity(self, organisation_id, title, skills) -> dict:
        """Posted at profiles, and known to matching before the test goes on: it reaches matching
        through OUT and IN (sourced asynchronously), while a volunteer registered next comes through
        LOCAL, so the round could run before the opportunity is there."""
        created = (await self.profiles.post("/opportunities", json=opportunity(organisation_id, title, skills))).json()

        async def known():
            async with self.matching_host.sessions() as session:
                return (await session.execute(select(opportunities.c.opportunity_id).where(
                    opportunities.c.opportunity_id == created["opportunity_id"]))).first()
        assert await eventually(known, timeout=30)
        return created

    async def retire(self, volunteer_id) -> None:
        """She withdraws her consent to processing: matching leaves her out of every later round.
        Rounds run as soon as something changes, so a volunteer who is free again (after a decline
        or an expiry) would otherwise be proposed the next opportunity before the one meant for it
        registers."""
        response = await self.profiles.post(f"/volunteers/{volunteer_id}/consents",
                                            json={"consent": "processing", "granted": False})
        assert response.status_code == 200, response.text

        async def inactive():
            async with self.matching_host.sessions() as session:
                return (await session.execute(select(volunteers.c.active).where(
                    volunteers.c.volunteer_id == volunteer_id))).scalar_one() is False
        assert await eventually(inactive, timeout=30)

    async def placements(self, **filters) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return (await self.matching.get(f"/placements?limit=500&{query}")).json()["items"]

    async def placement_with(self, volunteer_id, status):
        async def found():
            return [p for p in await self.placements(volunteer_id=volunteer_id) if p["status"] == status]
        return (await eventually(found, timeout=30))[0]


@pytest.fixture
async def node(tmp_path, nats_node, database_url):
    nc = await nats.connect(nats_node.url)
    await provision(nc.jetstream(), "fr", peers=[])
    deadlines = Deadlines(proposal=timedelta(days=7), request=timedelta(days=5))
    profiles = build_profiles(settings(tmp_path, nats_node.url, database_url, "profiles"))
    matching = build_matching(settings(tmp_path, nats_node.url, database_url, "matching"), deadlines=deadlines, round_every=0.3)
    await profiles.start()
    await matching.start()
    the_node = Node(profiles, matching, nc.jetstream())
    the_node.deadlines = deadlines
    try:
        yield the_node
    finally:
        await the_node.profiles.aclose()
        await the_node.matching.aclose()
        await matching.stop()
        if profiles.nc is not None:
            await profiles.stop()
        await nc.close()


async def test_the_placement_saga_on_one_node(node):
    org = (await node.profiles.post("/organisations", json={
        "name": "Maison des aînés", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
        "contact": {"name": "Claire Martin", "email": "claire@aines.example.fr", "preferred_language": "fr"}})).json()
    elderly = await node.publish_opportunity(org["organisation_id"], "Companion", ["care.elderly-care"])
    amina = (await node.profiles.post("/volunteers", json=volunteer("V1", "Amina", ["care.elderly-care"]))).json()

    # Proposed: the round runs on the events, and tells her (a local event for notifications).
    proposal = await node.placement_with(amina["volunteer_id"], "proposed")
    assert proposal["opportunity_id"] == elderly["opportunity_id"]
    assert {r["code"] for r in proposal["match"]["reasons"]} >= {"skill_covered", "language_fit", "same_city"}
    in_french = (await node.matching.get(f"/placements/{proposal['placement_id']}")).json()["explanation"]
    assert "Habite la même ville" in in_french and any(line.startswith("A la compétence demandée : ") for line in in_french)
    proposed_events = await eventually(lambda: node.events("LOCAL", "PlacementProposed"))  # published after the commit
    assert [e["payload"]["proposal_id"] for e in proposed_events] == [proposal["placement_id"]]
    assert "Vous habitez la même ville" in proposed_events[0]["payload"]["explanation"]  # her letter: in her language, to her

    # Unanswered close to its deadline: one reminder (a local event notifications turns into a message).
    node.deadlines.reminder = timedelta(days=30)

    async def reminded():
        return await node.events("LOCAL", "PlacementProposalExpiring")
    [reminder] = await eventually(reminded, timeout=30)
    assert reminder["payload"]["proposal_id"] == proposal["placement_id"]
    await node.matching.post("/rounds")
    assert len(await node.events("LOCAL", "PlacementProposalExpiring")) == 1  # once
    node.deadlines.reminder = timedelta(days=1)

    # Accepted → requested from the host (here the node itself) → confirmed → her contact disclosed.
    accepted = await node.matching.post(f"/placements/{proposal['placement_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "requested"
    await node.placement_with(amina["volunteer_id"], "confirmed")
    [request] = await node.events("IN", "PlacementRequested")
    assert request["payload"]["volunteer"] != amina["volunteer_id"] and "Amina" not in json.dumps(request)
    [confirmation] = await node.events("IN", "PlacementConfirmed")
    assert confirmation["correlation_id"] == request["correlation_id"] == proposal["placement_id"]

    async def disclosed():
        return (await node.profiles.get(f"/placements/{proposal['placement_id']}")).json()["contact_disclosed"]
    assert await eventually(disclosed)
    [contact] = await node.events("IN", "ContactDisclosed")
    assert contact["payload"]["contact"]["given_name"] == "Amina" and contact["target"] == "fr"
    assert (await node.profiles.get(f"/opportunities/{elderly['opportunity_id']}")).json()["slots_free"] == 0

    # Declined by the host, then rematched: the opportunity closes before the host sees her request.
    child = await node.publish_opportunity(org["organisation_id"], "Crèche", ["care.childcare"])
    fatou = (await node.profiles.post("/volunteers", json=volunteer("V2", "Fatou", ["care.childcare"]))).json()
    first = await node.placement_with(fatou["volunteer_id"], "proposed")
    assert first["opportunity_id"] == child["opportunity_id"]
    # The host closed it, and its broadcast has not reached matching yet (a closure that matching
    # learns ends the proposal at once: test_proposals_for_a_full_or_closed_opportunity_...):
    # closed in the host's own table alone.
    from corridor_profiles.tables import opportunities as host_opportunities
    async with node.profiles_host.unit_of_work() as uow:
        await uow.session.execute(host_opportunities.update().where(
            host_opportunities.c.opportunity_id == child["opportunity_id"]).values(status="closed", closing_reason="withdrawn"))
    await node.publish_opportunity(org["organisation_id"], "Garderie", ["care.childcare"])
    assert (await node.matching.post(f"/placements/{first['placement_id']}/accept")).status_code == 200
    declined = await node.placement_with(fatou["volunteer_id"], "declined_by_host")
    assert declined["decline_reason"] == "closed"
    second = await node.placement_with(fatou["volunteer_id"], "proposed")
    assert second["opportunity_id"] != child["opportunity_id"]  # the next best, never the declined one
    assert (await node.matching.post(f"/placements/{second['placement_id']}/decline")).json()["status"] == "declined"
    await node.retire(fatou["volunteer_id"])

    # Expired: nobody answers a proposal before its deadline.
    node.deadlines.proposal = timedelta(seconds=1)
    late = await node.publish_opportunity(org["organisation_id"], "Atelier", ["crafts.sewing"])
    mariam = (await node.profiles.post("/volunteers", json=volunteer("V3", "Mariam", ["crafts.sewing"]))).json()
    expired = await node.placement_with(mariam["volunteer_id"], "expired")
    assert expired["opportunity_id"] == late["opportunity_id"]
    assert (await node.matching.post(f"/placements/{expired['placement_id']}/accept")).status_code == 409
    lapsed = await eventually(lambda: node.events("LOCAL", "PlacementExpired"))  # published after the commit
    assert [(e["payload"]["placement_id"], e["payload"]["stage"]) for e in lapsed] == [(expired["placement_id"], "proposal")]
    node.deadlines.proposal = timedelta(days=7)
    await node.retire(mariam["volunteer_id"])

    # A confirmation that arrives after the request expired is compensated: the host gets its slot back.
    garden = await node.publish_opportunity(org["organisation_id"], "Jardin", ["agriculture.horticulture"])
    hiba = (await node.profiles.post("/volunteers", json=volunteer("V4", "Hiba", ["agriculture.horticulture"]))).json()
    offer = await node.placement_with(hiba["volunteer_id"], "proposed")
    assert offer["opportunity_id"] == garden["opportunity_id"]
    await node.profiles_host.stop()  # the host goes offline
    assert (await node.matching.post(f"/placements/{offer['placement_id']}/accept")).json()["status"] == "requested"
    async with node.matching_host.unit_of_work() as uow:  # the home's deadline passes while the host is away
        await uow.session.execute(update(placements).where(placements.c.placement_id == offer["placement_id"])
                                  .values(request_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    await node.placement_with(hiba["volunteer_id"], "expired")
    async def request_lapsed():  # the event goes out after the commit that set the status
        return [e for e in await node.events("LOCAL", "PlacementExpired") if e["payload"]["stage"] == "request"]
    [lapsed_request] = await eventually(request_lapsed)
    assert lapsed_request["payload"]["placement_id"] == offer["placement_id"]
    await node.profiles_host.start()  # back: it confirms the request it finds waiting...
    compensated = await node.placement_with(hiba["volunteer_id"], "compensated")
    assert compensated["placement_id"] == offer["placement_id"]

    async def slot_released():  # ...and releases the slot when the compensation arrives
        host_side = (await node.profiles.get(f"/placements/{offer['placement_id']}")).json()
        opp = (await node.profiles.get(f"/opportunities/{garden['opportunity_id']}")).json()
        return host_side["status"] == "withdrawn" and opp["slots_free"] == 1
    assert await eventually(slot_released, timeout=30)
    [giveback] = [e for e in await node.events("IN", "PlacementWithdrawn") if e["payload"]["placement_id"] == offer["placement_id"]]
    assert (giveback["origin"], giveback["payload"]["by"], giveback["payload"]["reason"]) == ("fr", "home", "expired")

    # Nothing personal ever went to the corridor subjects, and every proposal carried its reasons.
    for envelope in await node.events("OUT", "PlacementRequested"):
        assert all(name not in json.dumps(envelope) for name in ("Amina", "Fatou", "Mariam", "Hiba"))
    assert all(e["payload"]["match"]["reasons"] for e in await node.events("LOCAL", "PlacementProposed"))


async def test_proposals_for_a_full_or_closed_opportunity_end_as_soon_as_the_node_learns_it(node):
    org = (await node.profiles.post("/organisations", json={
        "name": "Maison des aînés", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
        "contact": {"name": "Claire Martin", "email": "claire@aines.example.fr", "preferred_language": "fr"}})).json()
    body = opportunity(org["organisation_id"], "Companion", ["care.elderly-care"], slots=2)
    two_slots = (await node.profiles.post("/opportunities", json=body)).json()
    amina = (await node.profiles.post("/volunteers", json=volunteer("F1", "Amina", ["care.elderly-care"]))).json()
    hala = (await node.profiles.post("/volunteers", json=volunteer("F2", "Hala", ["care.elderly-care"]))).json()
    first = await node.placement_with(amina["volunteer_id"], "proposed")
    second = await node.placement_with(hala["volunteer_id"], "proposed")
    assert first["opportunity_id"] == second["opportunity_id"] == two_slots["opportunity_id"]

    # Amina takes a slot; then the host reduces the role to one slot: it is full, and Hala's
    # proposal, which could no longer be confirmed, ends now rather than at its deadline.
    assert (await node.matching.post(f"/placements/{first['placement_id']}/accept")).status_code == 200
    await node.placement_with(amina["volunteer_id"], "confirmed")
    one_slot = {k: v for k, v in body.items() if k != "organisation_id"} | {"slots_total": 1}
    assert (await node.profiles.put(f"/opportunities/{two_slots['opportunity_id']}", json=one_slot)).status_code == 200
    ended = await node.placement_with(hala["volunteer_id"], "expired")
    assert ended["placement_id"] == second["placement_id"]

    async def told():
        found = [e for e in await node.events("LOCAL", "PlacementExpired") if e["payload"]["placement_id"] == ended["placement_id"]]
        return found or None
    [expired] = await eventually(told, timeout=30)  # for notifications: she is told why
    assert (expired["payload"]["stage"], expired["payload"]["reason"]) == ("proposal", "full")

    # She is free again: the next opportunity that suits her is proposed to her.
    other = await node.publish_opportunity(org["organisation_id"], "Reading aloud", ["care.elderly-care"])
    assert (await node.placement_with(hala["volunteer_id"], "proposed"))["opportunity_id"] == other["opportunity_id"]

    # Closing an opportunity ends its open proposals too.
    assert (await node.profiles.post(f"/opportunities/{other['opportunity_id']}/close", json={"reason": "withdrawn"})).status_code == 200
    async def told_closed():
        found = [e["payload"]["reason"] for e in await node.events("LOCAL", "PlacementExpired")
                 if e["payload"]["opportunity_id"] == other["opportunity_id"]]
        return found or None
    assert await eventually(told_closed, timeout=30) == ["closed"]
