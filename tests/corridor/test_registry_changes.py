"""Adding a partner is a registry change that every node picks up, without a restart."""

from __future__ import annotations

import asyncio

import nats
import pytest

from corridor_contracts import Envelope, PartnerNode, Registry, Signer, new_node_seed
from corridor_runtime import dead_letters
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness import ledger
from harness.ledger import eventually
from harness.samples import SAMPLES

pytestmark = pytest.mark.nats
SEEDS = {node: new_node_seed() for node in ("fr", "es", "it")}
COUNTRIES = {"fr": "FR", "es": "ES", "it": "IT"}


def _save(path, nodes):
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=f"Partner {n}", country=COUNTRIES[n],
                                                      leafnode_user=n) for n in nodes]), path)


async def test_a_partner_added_to_the_registry_is_heard_from_without_a_restart(corridor_servers, tmp_path):
    _hub, servers = corridor_servers(["fr", "es", "it"])  # the hub already has an account for it
    registry = tmp_path / "corridor.yaml"
    _save(registry, ["fr", "es"])
    clients = {node: await nats.connect(server.url) for node, server in servers.items()}
    settings = NodeSettings(node_id="es", service="ledger", nats_url=servers["es"].url, data_dir=tmp_path,
                            registry_file=registry, signing_seed=SEEDS["es"].decode(), registry_poll_seconds=0.2)
    book = ledger.host(settings, ledger.Ledger())
    try:
        await provision(clients["es"].jetstream(), "es", ["fr"])
        await provision(clients["it"].jetstream(), "it", ["fr", "es"])
        await book.start()
        news = Signer(SEEDS["it"]).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="it"))
        await clients["it"].jetstream().publish("corridor.bcast.it.OpportunityPublished", news.encode(),
                                                headers={"Nats-Msg-Id": str(news.event_id)})
        await asyncio.sleep(2)
        assert await ledger.applied(book) == {}  # Italy is not in Spain's registry: not sourced, not trusted

        _save(registry, ["fr", "es", "it"])  # the operator gives Spain the new registry

        async def applied():
            return (await ledger.applied(book)).get(str(news.event_id)) == 1
        assert await eventually(applied, timeout=60)
        sources = {s.external.api for s in (await clients["es"].jetstream().stream_info("IN")).config.sources if s.external}
        assert sources == {"$JS.fr.API", "$JS.it.API"}
        assert await dead_letters.read_all(clients["es"].jetstream()) == []

        _save(registry, ["fr", "es", "it"])
        registry.write_text("nodes: [")  # a broken registry is refused, and the one in use stays
        await asyncio.sleep(1)
        assert book.verifier is not None and book.sealer.sealing_keys.keys() == {"fr", "es", "it"}
    finally:
        await book.stop()
        for nc in clients.values():
            await nc.close()


async def test_a_new_partners_first_event_is_applied_even_before_the_next_look_at_the_registry(
        corridor_servers, tmp_path):
    """Several services of a node each look at the registry file now and then; the first to see a new
    partner sources its events into IN. Another service that has not looked yet reads the file again
    when an event comes from a node it does not know, instead of dead-lettering it."""
    _hub, servers = corridor_servers(["fr", "es", "it"])
    registry = tmp_path / "corridor.yaml"
    _save(registry, ["fr", "es"])
    clients = {node: await nats.connect(server.url) for node, server in servers.items()}
    settings = NodeSettings(node_id="es", service="ledger", nats_url=servers["es"].url, data_dir=tmp_path,
                            registry_file=registry, signing_seed=SEEDS["es"].decode(), registry_poll_seconds=3600)
    book = ledger.host(settings, ledger.Ledger())
    try:
        await provision(clients["es"].jetstream(), "es", ["fr"])
        await provision(clients["it"].jetstream(), "it", ["fr", "es"])
        await book.start()
        _save(registry, ["fr", "es", "it"])
        await provision(clients["es"].jetstream(), "es", ["fr", "it"])  # as a sibling service that looked first
        news = Signer(SEEDS["it"]).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="it"))
        await clients["it"].jetstream().publish("corridor.bcast.it.OpportunityPublished", news.encode(),
                                                headers={"Nats-Msg-Id": str(news.event_id)})

        async def applied():
            return (await ledger.applied(book)).get(str(news.event_id)) == 1
        assert await eventually(applied, timeout=60)
        assert await dead_letters.read_all(clients["es"].jetstream()) == []
    finally:
        await book.stop()
        for client in clients.values():
            await client.close()
