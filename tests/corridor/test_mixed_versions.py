"""Partners upgrade at different times: a node that still speaks an older contract version
interoperates. The new node writes to it in the version it reads (downcast, by the registry's
`reads`), and reads what it sends by upcasting on receipt."""

from __future__ import annotations

import json
from typing import ClassVar

import nats
import pytest

from corridor_contracts import CATALOGUE, Envelope, Event, PartnerNode, Registry, Scope, Signer, new_node_seed
from corridor_runtime import dead_letters
from corridor_runtime.consumer import Subscription
from corridor_runtime.registry_file import save_registry
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness import ledger
from harness.ledger import eventually
from harness.streams import stream_messages

pytestmark = pytest.mark.nats
SEEDS = {node: new_node_seed() for node in ("fr", "es")}


@pytest.fixture
def notice_versions():
    """A test-only shared event in v1 and v2 (defining them registers them), with its upcaster and
    downcaster; all gone after the test."""

    class NoticeV1(Event):
        TYPE: ClassVar[str] = "NoticePosted"
        VERSION: ClassVar[int] = 1
        SCOPE: ClassVar[Scope] = Scope.BROADCAST
        text: str

    class NoticeV2(Event):
        TYPE: ClassVar[str] = "NoticePosted"
        VERSION: ClassVar[int] = 2
        SCOPE: ClassVar[Scope] = Scope.BROADCAST
        title: str
        text: str

    CATALOGUE.upcaster("NoticePosted", from_version=1)(
        lambda p: {"title": p["text"].split(": ", 1)[0], "text": p["text"].split(": ", 1)[-1]})
    CATALOGUE.downcaster("NoticePosted", from_version=2)(lambda p: {"text": f"{p['title']}: {p['text']}"})
    try:
        yield NoticeV1, NoticeV2
    finally:
        CATALOGUE.unregister("NoticePosted", 2)
        CATALOGUE.unregister("NoticePosted", 1)


async def test_a_node_on_the_older_version_and_a_node_on_the_newer_one_understand_each_other(
        notice_versions, corridor_servers, tmp_path):
    NoticeV1, NoticeV2 = notice_versions
    _hub, servers = corridor_servers(["fr", "es"])
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[
        PartnerNode.of_seed(SEEDS["fr"], id="fr", name="Elan", country="FR"),
        PartnerNode.of_seed(SEEDS["es"], id="es", name="Incoma", country="ES", reads={"NoticePosted": 1}),  # not upgraded yet
    ]), registry)
    clients = {node: await nats.connect(server.url) for node, server in servers.items()}
    books, hosts = {}, {}
    try:
        for node in ("fr", "es"):
            await provision(clients[node].jetstream(), node, [p for p in ("fr", "es") if p != node])
            books[node] = ledger.Ledger()
            settings = NodeSettings(node_id=node, service="ledger", nats_url=servers[node].url, data_dir=tmp_path / node,
                                    registry_file=registry, signing_seed=SEEDS[node].decode())
            hosts[node] = ServiceHost(settings, metadata=ledger.metadata, versioned_schema=False, subscriptions=[
                Subscription("ledger-corridor", "IN", {"NoticePosted": books[node].apply})])
            await hosts[node].start()

        # France (v2) posts a notice; Spain reads v1, so that is what France writes.
        async with hosts["fr"].unit_of_work() as uow:
            sent = uow.emit(NoticeV2(title="Training", text="Friday at ten"))

        async def spain_got_it():
            found = [m for m in await stream_messages(clients["es"].jetstream(), "IN") if m.subject.endswith("NoticePosted")]
            return found or None
        [on_the_wire] = await eventually(spain_got_it, timeout=60)
        wire = json.loads(on_the_wire.data)
        assert (wire["version"], wire["payload"]) == (1, {"text": "Training: Friday at ten"})
        assert await eventually(lambda: _applied(hosts["es"], str(sent.event_id)), timeout=60)

        # Spain (v1) posts one; France, on v2, upcasts it on receipt and applies it.
        old = Signer(SEEDS["es"]).sign(Envelope.wrap(NoticeV1(text="Visit: Monday"), origin="es"))
        await clients["es"].jetstream().publish("corridor.bcast.es.NoticePosted", old.encode(),
                                                headers={"Nats-Msg-Id": str(old.event_id)})
        assert await eventually(lambda: _applied(hosts["fr"], str(old.event_id)), timeout=60)
        for node in ("fr", "es"):
            assert await dead_letters.read_all(clients[node].jetstream()) == [], node
    finally:
        for host in hosts.values():
            await host.stop()
        for nc in clients.values():
            await nc.close()


async def _applied(host, event_id):
    return (await ledger.applied(host)).get(event_id) == 1
