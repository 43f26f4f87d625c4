"""On a real nats-server: what each operator action emits, where, and that nothing personal leaves."""

from __future__ import annotations

import json

import httpx
import nats
import pytest
from sqlalchemy import select

from corridor_contracts import Verifier, public_key_of
from corridor_profiles.bootstrap import build
from corridor_profiles.tables import corridor_opportunities
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.streams import stream_messages
from profiles_support import SEEDS, opportunity, organisation, profiles_settings, volunteer
from harness.access import signed_in_client

pytestmark = pytest.mark.nats
PERSONAL = ("Amina", "Haddad", "amina.haddad@example.org", "+33 6 12 34 56 78", "1991-04-03", "FR-2026-0042",
            "Lucía Romero", "lucia@abrazo.example.es")


async def test_each_action_emits_its_events_with_the_right_subject_and_scope(tmp_path, registry_file, database_url, nats_node):
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=[])
    host = build(profiles_settings(tmp_path, registry_file, database_url, nats_url=nats_node.url))
    await host.start()
    try:
        async with signed_in_client(host, "http://profiles") as api:
            her = (await api.post("/volunteers", json=volunteer())).json()
            details = {k: v for k, v in volunteer(skills=["care.elderly-care"]).items() if k not in ("reference", "consents")}
            assert (await api.put(f"/volunteers/{her['volunteer_id']}", json=details)).status_code == 200
            await api.post(f"/volunteers/{her['volunteer_id']}/consents", json={"consent": "share_match_profile", "granted": False})
            org = (await api.post("/organisations", json=organisation(country="FR", city="Lyon"))).json()
            opp = (await api.post("/opportunities", json=opportunity(org["organisation_id"], place={"country": "FR", "city": "Lyon"}))).json()
            body = {k: v for k, v in opportunity(org["organisation_id"], slots_total=4, place={"country": "FR", "city": "Lyon"}).items()
                    if k != "organisation_id"}
            assert (await api.put(f"/opportunities/{opp['opportunity_id']}", json=body)).status_code == 200
            await api.post(f"/opportunities/{opp['opportunity_id']}/close", json={"reason": "withdrawn"})
            # Erasure deletes her events still waiting in the outbox (they carry her data): let them go first.
            before = await eventually(lambda: _at_least(stream_messages(js, "LOCAL"), 4))
            assert [m.subject for m in before] == [
                "node.fr.VolunteerRegistered", "node.fr.VolunteerUpdated", "node.fr.VolunteerConsentChanged",
                "node.fr.OrganisationRegistered"]
            assert "Amina" in before[0].data.decode()  # personal data goes to LOCAL, which never leaves the node
            await api.delete(f"/volunteers/{her['volunteer_id']}")

        async def erased_from_local():  # her events are erased from the stream too, only the erasure stays
            found = await stream_messages(js, "LOCAL")
            return found if [m.subject for m in found] == ["node.fr.OrganisationRegistered", "node.fr.VolunteerErased"] else None
        local = await eventually(erased_from_local)
        assert not [v for m in local for v in PERSONAL[:6] if v in m.data.decode()]  # hers (the organisation's contact stays)
        shared = await eventually(lambda: _at_least(stream_messages(js, "OUT"), 3))
        assert [m.subject for m in shared] == [
            "corridor.bcast.fr.OpportunityPublished", "corridor.bcast.fr.OpportunityUpdated", "corridor.bcast.fr.OpportunityClosed"]

        verifier = Verifier({"fr": public_key_of(SEEDS["fr"])})
        for message in shared:
            wire = json.loads(message.data)
            verifier.verify(wire)  # signed by the node's key
            assert message.headers["Nats-Msg-Id"] == wire["event_id"]
            leaked = [value for value in PERSONAL if value in message.data.decode()]
            assert leaked == [], (message.subject, leaked)
        assert json.loads(shared[1].data)["payload"]["slots_free"] == 4
        assert json.loads(shared[2].data)["payload"] == {"opportunity_id": opp["opportunity_id"], "reason": "withdrawn", "slots_free": 4,
                                                         "revision": 3}
        # Each version of the opportunity is numbered above the last: receivers order them by it.
        assert [json.loads(m.data)["payload"]["revision"] for m in shared] == [1, 2, 3]

        async def remembered():  # its own broadcasts come back through IN, as a peer's would
            async with host.sessions() as session:
                return (await session.execute(select(corridor_opportunities))).all()
        rows = await eventually(remembered)
        assert [(r.host_country, r.host_kind, r.host_sector) for r in rows] == [("FR", "ngo", "care")]
    finally:
        await host.stop()
        await nc.close()


async def _at_least(awaitable, count):
    found = await awaitable
    return found if len(found) >= count else None
