"""Store-and-forward across the corridor: the hub, or the host node's nats-server, goes down while
events are on their way; when it comes back everything arrives, nothing twice, no operator action."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from corridor_contracts import Envelope, PartnerNode, Registry, events, new_node_seed
from corridor_runtime.consumer import Subscription
from corridor_runtime.registry_file import save_registry
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness import ledger
from harness.ledger import eventually
from harness.samples import OPPORTUNITY_FIELDS
from harness.streams import shared

pytestmark = pytest.mark.nats
NODES = ("fr", "es")
SEEDS = {node: new_node_seed() for node in NODES}


async def _in_subjects(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        count = (await js.stream_info("IN")).state.messages
        return [(await js.get_msg("IN", s)).subject for s in range(1, count + 1)]
    finally:
        await nc.close()


async def _publish_from(url: str, node: str, event, target=None) -> Envelope:
    envelope = shared(Envelope.wrap(event, origin=node, target=target), SEEDS)
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(f"corridor.bcast.{node}.{event.TYPE}" if target is None
                                     else f"corridor.direct.{target}.{node}.{event.TYPE}",
                                     envelope.encode(), headers={"Nats-Msg-Id": str(envelope.event_id)})
    finally:
        await nc.close()
    return envelope


def _receiving_service(tmp_path, nats_url) -> ServiceHost:
    """A service of Spain's that applies every event it receives from France (a ledger row each)."""
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=n, country=n.upper()) for n in NODES]), registry)
    settings = NodeSettings(node_id="es", service="ledger", nats_url=nats_url, data_dir=tmp_path, registry_file=registry,
                            signing_seed=SEEDS["es"].decode())
    book = ledger.Ledger()
    handlers = {t: book.apply for t in ("OpportunityPublished", "OpportunityUpdated", "PlacementConfirmed")}
    return ServiceHost(settings, metadata=ledger.metadata, versioned_schema=False, subscriptions=[Subscription("ledger-corridor", "IN", handlers)])


@pytest.mark.parametrize("outage", ["hub", "host node"])
async def test_events_sent_during_an_outage_arrive_once_when_it_ends(corridor_servers, outage, tmp_path):
    hub, servers = corridor_servers(list(NODES))
    for node, server in servers.items():
        nc = await nats.connect(server.url)
        await provision(nc.jetstream(), node, peers=[p for p in NODES if p != node])
        await nc.close()
    spain = _receiving_service(tmp_path, servers["es"].url)  # keeps running through the outage
    await spain.start()
    try:
        await _outage(hub, servers, outage, spain)
    finally:
        await spain.stop()


async def _outage(hub, servers, outage, spain):
    before = await _publish_from(servers["fr"].url, "fr", events.OpportunityPublished(**OPPORTUNITY_FIELDS))
    assert await eventually(lambda: _equals(_in_subjects(servers["es"].url), ["corridor.bcast.fr.OpportunityPublished"]),
                            timeout=60)

    down = hub if outage == "hub" else servers["es"]
    down.kill()  # SIGKILL, as a crash
    sent = []
    for _ in range(5):  # fr goes on working: its events wait in its own OUT stream
        sent.append(await _publish_from(servers["fr"].url, "fr", events.OpportunityUpdated(**OPPORTUNITY_FIELDS)))
    sent.append(await _publish_from(servers["fr"].url, "fr", events.PlacementConfirmed(
        placement_id=OPPORTUNITY_FIELDS["opportunity_id"], opportunity_id=OPPORTUNITY_FIELDS["opportunity_id"], slots_free=0),
        target="es"))
    await asyncio.sleep(1.0)
    down.start()  # same ports, same store

    async def caught_up():
        found = await _in_subjects(servers["es"].url)
        return found if len(found) >= 7 else None
    await eventually(caught_up, timeout=120)
    await asyncio.sleep(2.0)  # and nothing more arrives
    found = await _in_subjects(servers["es"].url)
    assert found.count("corridor.bcast.fr.OpportunityUpdated") == 5 and found.count("corridor.direct.es.fr.PlacementConfirmed") == 1
    assert len(found) == 7  # nothing twice
    nc = await nats.connect(servers["es"].url)
    try:
        js = nc.jetstream()
        ids = [json.loads((await js.get_msg("IN", s)).data)["event_id"] for s in range(1, 8)]
    finally:
        await nc.close()
    assert sorted(ids) == sorted(str(e.event_id) for e in [before, *sent])

    # Spain's state is what it would be without the outage: every event applied, each once.
    expected = {str(e.event_id): 1 for e in [before, *sent]}

    async def applied():
        found = await ledger.applied(spain)
        return found if found == expected else None
    assert await eventually(applied, timeout=120) == expected


async def _equals(awaitable, expected):
    return await awaitable == expected


async def test_corridor_status_shows_services_and_where_events_come_from(corridor_servers):
    import os
    import subprocess
    import sys
    from pathlib import Path

    _hub, servers = corridor_servers(list(NODES))
    for node, server in servers.items():
        nc = await nats.connect(server.url)
        await provision(nc.jetstream(), node, peers=[p for p in NODES if p != node])
        await nc.close()
    await _publish_from(servers["fr"].url, "fr", events.OpportunityPublished(**OPPORTUNITY_FIELDS))
    await eventually(lambda: _equals(_in_subjects(servers["es"].url), ["corridor.bcast.fr.OpportunityPublished"]), timeout=60)
    done = await asyncio.to_thread(subprocess.run, [str(Path(sys.executable).parent / "corridor"), "status", "--node-id", "es",
                                                    "--nats-url", servers["es"].url],
                                   capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "node es: services" in done.stdout and "down" in done.stdout  # no service runs in this test
    peer_rows = [line for line in done.stdout.splitlines() if line.startswith("│ fr ")]
    assert any("corridor.bcast.fr.>" in row and "s ago" in row for row in peer_rows), done.stdout
