"""The harness starts a hub with leaf nodes; IN streams source across JetStream domains.

The first corridor-level check (federation proper is its own issue): a broadcast reaches every
peer, an addressed event reaches its target only, and node-local subjects stay on their node.
"""

from __future__ import annotations

import asyncio

import nats
import pytest

from corridor_contracts import Envelope, Signer, new_node_seed, subjects
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.samples import SAMPLES

pytestmark = pytest.mark.nats
NODES = ("fr", "es", "it")


@pytest.fixture
def corridor(corridor_servers):
    return corridor_servers(NODES)


async def test_in_streams_get_broadcasts_and_their_own_addressed_events_only(corridor):
    hub, servers = corridor
    clients = {node: await nats.connect(server.url) for node, server in servers.items()}
    try:
        for node, nc in clients.items():
            await provision(nc.jetstream(), node, peers=[p for p in NODES if p != node])
        es = clients["es"].jetstream()
        signer = Signer(new_node_seed())
        bcast = signer.sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es"))
        direct = signer.sign(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="fr"))
        local = Envelope.wrap(SAMPLES["VolunteerErased"], origin="es")
        for envelope in (bcast, direct, local):
            await es.publish(subjects.for_envelope(envelope, node="es"), envelope.encode(),
                             headers={"Nats-Msg-Id": str(envelope.event_id)})

        async def in_subjects(node):
            js = clients[node].jetstream()
            count = (await js.stream_info("IN")).state.messages
            return sorted([(await js.get_msg("IN", seq)).subject for seq in range(1, count + 1)])

        async def fr_has_both():
            found = await in_subjects("fr")
            return found if len(found) == 2 else None

        assert await eventually(fr_has_both, timeout=60) == [
            "corridor.bcast.es.OpportunityPublished", "corridor.direct.fr.es.PlacementConfirmed"]
        assert await eventually(lambda: _equals(in_subjects("it"), ["corridor.bcast.es.OpportunityPublished"]), timeout=60)
        # its own broadcast, for its own readers (sourced from its own OUT, asynchronously too)
        assert await eventually(lambda: _equals(in_subjects("es"), ["corridor.bcast.es.OpportunityPublished"]), timeout=60)

        # Node-local subjects never cross the leafnode link, even to a peer that subscribes to them.
        spy = await clients["fr"].subscribe("node.es.>")
        await clients["es"].flush()
        await asyncio.sleep(0.5)
        await clients["es"].publish("node.es.VolunteerErased", local.encode())
        await clients["es"].flush()
        with pytest.raises(nats.errors.TimeoutError):
            await spy.next_msg(timeout=1.0)
        assert hub.varz("leafz")["leafnodes"] == 3
    finally:
        for nc in clients.values():
            await nc.close()


async def _equals(awaitable, expected):
    return await awaitable == expected
