"""The host node alone decides on its slots: no opportunity is ever overbooked.

A hub and four nodes on loopback. Three nodes (fr, it, cy) send many PlacementRequested at once
for the last slots of an opportunity of es; es runs two replicas of its profiles service on one
database. Exactly as many confirmations as slots go out; every other request is declined as full;
each answer reaches the node that asked, and only that node.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import nats
import pytest

from corridor_contracts import Envelope, Signer, events, pseudonym, subjects
from corridor_contracts.values import MatchSummary
from corridor_profiles.bootstrap import build
from corridor_runtime.streams import provision
from harness.ledger import eventually
from profiles_support import SEEDS, opportunity, organisation, profiles_settings
from harness.streams import opened, shared
from harness.access import signed_in_client

pytestmark = pytest.mark.nats
NODES = ("es", "fr", "it", "cy")
REQUESTERS = ("fr", "it", "cy")
SLOTS, REQUESTS_PER_NODE = 3, 10


@pytest.fixture
def corridor(corridor_servers):
    return corridor_servers(NODES)


async def _answers(js):
    count = (await js.stream_info("IN")).state.messages
    found = []
    for seq in range(1, count + 1):
        message = await js.get_msg("IN", seq)
        if message.subject.startswith("corridor.direct."):
            found.append((message.subject, opened(message.data, SEEDS)))
    return found


async def test_concurrent_requests_from_several_nodes_never_overbook(tmp_path, registry_file, database_url, corridor):
    _hub, corridor = corridor
    clients = {node: await nats.connect(server.url) for node, server in corridor.items()}
    replicas = []
    try:
        for node, nc in clients.items():
            await provision(nc.jetstream(), node, peers=[p for p in NODES if p != node])
        for _ in range(2):  # two replicas of es's profiles service, one database
            replica = build(profiles_settings(tmp_path, registry_file, database_url, node="es", nats_url=corridor["es"].url))
            await replica.start()
            replicas.append(replica)

        async with signed_in_client(replicas[0], "http://es") as api:
            org = (await api.post("/organisations", json=organisation())).json()
            opp = (await api.post("/opportunities", json=opportunity(org["organisation_id"], slots_total=SLOTS))).json()

        expires = datetime.now(timezone.utc) + timedelta(days=7)
        secret = os.urandom(32)
        asked: dict[str, set[str]] = {node: set() for node in REQUESTERS}
        outgoing = []
        for node in REQUESTERS:
            for _ in range(REQUESTS_PER_NODE):
                placement_id = uuid.uuid4()
                request = events.PlacementRequested(
                    placement_id=placement_id, opportunity_id=opp["opportunity_id"],
                    volunteer=pseudonym(secret, uuid.uuid4(), "es"), match=MatchSummary(score=0.7), expires_at=expires)
                envelope = shared(Envelope.wrap(request, origin=node, target="es"), SEEDS)
                asked[node].add(str(placement_id))
                outgoing.append((node, envelope))

        async def send(node, envelope):
            await clients[node].jetstream().publish(subjects.for_envelope(envelope, node=node), envelope.encode(),
                                                    headers={"Nats-Msg-Id": str(envelope.event_id)})

        await asyncio.gather(*(send(node, envelope) for node, envelope in outgoing))

        answers = {}
        for node in REQUESTERS:
            async def all_answered(node=node):
                found = await _answers(clients[node].jetstream())
                return found if len(found) >= REQUESTS_PER_NODE else None
            answers[node] = await eventually(all_answered, timeout=90)

        outcome = Counter()
        for node, found in answers.items():
            assert {s for s, _ in found} <= {f"corridor.direct.{node}.es.PlacementConfirmed",
                                             f"corridor.direct.{node}.es.PlacementDeclined"}
            assert {e["payload"]["placement_id"] for _, e in found} == asked[node]  # its own answers, no one else's
            for _, envelope in found:
                outcome[(envelope["type"], envelope["payload"].get("reason"))] += 1
        assert outcome == {("PlacementConfirmed", None): SLOTS,
                           ("PlacementDeclined", "full"): len(REQUESTERS) * REQUESTS_PER_NODE - SLOTS}

        async with signed_in_client(replicas[1], "http://es") as api:
            state = (await api.get(f"/opportunities/{opp['opportunity_id']}")).json()
            assert (state["slots_taken"], state["slots_free"]) == (SLOTS, 0)
            confirmed = (await api.get("/placements?status=confirmed")).json()
            assert confirmed["total"] == SLOTS
            assert (await api.get("/placements?status=declined")).json()["total"] == len(REQUESTERS) * REQUESTS_PER_NODE - SLOTS

            # A withdrawal releases the slot, and the corridor hears the new count.
            first = confirmed["items"][0]
            withdrawn = await api.post(f"/placements/{first['placement_id']}/withdraw", json={"reason": "host_choice"})
            assert withdrawn.status_code == 200, withdrawn.text
            assert (await api.get(f"/opportunities/{opp['opportunity_id']}")).json()["slots_free"] == 1

        async def fr_heard_slot_free():
            js = clients["fr"].jetstream()
            count = (await js.stream_info("IN")).state.messages
            last = [json.loads((await js.get_msg("IN", s)).data) for s in range(1, count + 1)]
            updates = [e for e in last if e["type"] == "OpportunityUpdated"]
            return updates and updates[-1]["payload"]["slots_free"] == 1
        assert await eventually(fr_heard_slot_free, timeout=60)
    finally:
        for replica in replicas:
            await replica.stop()
        for nc in clients.values():
            await nc.close()
