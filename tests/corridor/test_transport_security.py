"""What a partner node can do to the others through the hub, and what it gets for it.

A hub and three leaf nodes on loopback, each node with its own account on the hub (harness.servers).
`it` plays the curious or dishonest partner: it tries to read what France addresses to Spain, and to
publish under France's name. The hub also has an observer on `>`, as a hub operator could.
"""

from __future__ import annotations

import asyncio
import json
import secrets

import nats
import pytest

from corridor_contracts import Envelope, Sealer, Signer, new_node_seed, sealing_key_of, subjects
from corridor_contracts.sealing import SealingError
from corridor_runtime import dead_letters
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from corridor_contracts import PartnerNode, Registry
from corridor_runtime.registry_file import save_registry
from harness import ledger
from harness.ledger import eventually
from harness.samples import SAMPLES
from harness.servers import observer_url
from harness.streams import shared, stream_messages

pytestmark = pytest.mark.nats
NODES = ("fr", "es", "it")
SEEDS = {node: new_node_seed() for node in NODES}
CONTACT = SAMPLES["ContactDisclosed"].contact
PERSONAL = [CONTACT.given_name, CONTACT.family_name, CONTACT.email]


@pytest.fixture
async def corridor(corridor_servers):
    hub, servers = corridor_servers(NODES)
    clients = {node: await nats.connect(server.url) for node, server in servers.items()}
    observer = await nats.connect(observer_url(hub))
    captured: list[nats.aio.msg.Msg] = []

    async def capture(msg):
        captured.append(msg)
    await observer.subscribe(">", cb=capture)
    await observer.flush()
    try:
        for node, nc in clients.items():
            await provision(nc.jetstream(), node, peers=[p for p in NODES if p != node])
        yield servers, clients, captured
    finally:
        await observer.close()
        for nc in clients.values():
            await nc.close()


async def _ask(nc, subject: str, body: dict | None = None, timeout: float = 2.0) -> dict | None:
    """A JetStream API request as a node's server makes it across the hub (answers on `$JSC.R.`);
    None when nothing answers: the hub did not let the request through."""
    inbox = f"$JSC.R.{secrets.token_hex(8)}"
    answers = await nc.subscribe(inbox)
    await nc.publish(subject, json.dumps(body or {}).encode(), reply=inbox)
    try:
        msg = await answers.next_msg(timeout=timeout)
    except (nats.errors.TimeoutError, asyncio.TimeoutError):
        return None
    finally:
        await answers.unsubscribe()
    if msg.headers and msg.headers.get("Status") == "503" or not msg.data:
        return None  # no responders: the request went nowhere
    return json.loads(msg.data)


def _consumer(name: str, filter_subject: str, deliver: str) -> dict:
    return {"stream_name": "OUT", "config": {"name": name, "filter_subject": filter_subject, "deliver_subject": deliver,
                                             "ack_policy": "none", "deliver_policy": "all"}}


async def test_a_third_node_gets_nothing_it_can_read_of_what_two_others_exchange(corridor):
    servers, clients, captured = corridor
    fr, it = clients["fr"], clients["it"]
    disclosure = shared(Envelope.wrap(SAMPLES["ContactDisclosed"], origin="fr", target="es"), SEEDS)
    await fr.jetstream().publish(subjects.for_envelope(disclosure, node="fr"), disclosure.encode(),
                                 headers={"Nats-Msg-Id": str(disclosure.event_id)})

    async def spain_has_it():
        return [m for m in await stream_messages(clients["es"].jetstream(), "IN") if m.subject.endswith("ContactDisclosed")]
    [received] = await eventually(spain_has_it, timeout=60)
    opened = Sealer("es", SEEDS["es"], {n: sealing_key_of(s) for n, s in SEEDS.items()}).open(Envelope.model_validate_json(received.data))
    assert opened.payload["contact"]["email"] == CONTACT.email  # Spain, the target, reads it

    # Italy's own streams never get it, and nothing on its server shows it, whatever it listens to.
    spied = []

    async def spy(msg):
        spied.append(msg)
    for subject in ("corridor.>", "deliver.es.>", "deliver.fr.>", "$JS.S.>", "_INBOX.>"):
        await it.subscribe(subject, cb=spy)
    assert not [m for m in await stream_messages(it.jetstream(), "IN") if m.subject.startswith("corridor.direct.es.")]

    # It asks France's JetStream for the events addressed to Spain: the hub does not pass the request.
    steal = _consumer("steal1", "corridor.direct.es.fr.>", "deliver.it.steal1")
    assert await _ask(it, "$JS.fr.API.CONSUMER.CREATE.OUT.steal1.corridor.direct.es.fr.>", steal) is None
    # Nor a consumer whose filter is hidden in the request body, nor a direct read of the stream.
    assert await _ask(it, "$JS.fr.API.CONSUMER.CREATE.OUT.steal2", {**steal, "config": {**steal["config"], "name": "steal2"}}) is None
    assert await _ask(it, "$JS.fr.API.CONSUMER.CREATE.OUT", steal) is None
    assert await _ask(it, "$JS.fr.API.STREAM.MSG.GET.OUT", {"seq": 1}) is None
    assert await _ask(it, "$JS.fr.API.DIRECT.GET.OUT", {"seq": 1}) is None
    assert await _ask(it, "$JS.fr.API.STREAM.INFO.OUT") is None

    # A wildcard in the filter slips past subject permissions (a token '*' is not a node id to
    # them); what it then receives is sealed between France and Spain, so Italy cannot open it.
    wildcard = _consumer("steal3", "corridor.direct.*.fr.>", "deliver.it.S.steal3")
    stolen = await it.subscribe("deliver.it.S.steal3")
    await _ask(it, "$JS.fr.API.CONSUMER.CREATE.OUT.steal3.corridor.direct.*.fr.>", wildcard)
    got = []
    try:
        while True:
            got.append(await stolen.next_msg(timeout=3))
    except (nats.errors.TimeoutError, asyncio.TimeoutError):
        pass
    italy = Sealer("it", SEEDS["it"], {n: sealing_key_of(s) for n, s in SEEDS.items()})
    for msg in (m for m in got if m.data):
        envelope = Envelope.model_validate_json(msg.data)
        assert envelope.sealed and envelope.payload == {}
        with pytest.raises(SealingError):
            italy.open(envelope)
        with pytest.raises(SealingError):  # even with Spain's name on its own key
            Sealer("es", SEEDS["it"], italy.sealing_keys).open(envelope)
    for msg in spied + got:
        assert not any(value in msg.data.decode(errors="replace") for value in PERSONAL), msg.subject

    # What crossed the hub (an operator watching '>'): France's disclosure, as ciphertext only.
    assert any(m.data and json.loads(m.data).get("event_id") == str(disclosure.event_id) for m in captured)
    for msg in captured:
        assert not any(value in msg.data.decode(errors="replace") for value in PERSONAL), msg.subject


def _registry(tmp_path):
    path = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=f"Partner {n}", country=c)
                                  for n, c in (("fr", "FR"), ("es", "ES"), ("it", "IT"))]), path)
    return path


async def test_a_node_publishing_under_another_node_s_name_is_refused_or_dead_lettered(corridor, tmp_path, database_url):
    servers, clients, captured = corridor
    registry = _registry(tmp_path)
    books = {}
    for node in ("fr", "es"):
        settings = NodeSettings(node_id=node, service="ledger", nats_url=servers[node].url,
                                database_url=database_url if node == "fr" else None, data_dir=tmp_path / node,
                                registry_file=registry, signing_seed=SEEDS[node].decode())
        books[node] = ledger.host(settings, ledger.Ledger())
        await books[node].start()
    try:
        it = clients["it"]
        # 1. Into its own OUT, an event that says it comes from France, signed with Italy's key.
        forged = Signer(SEEDS["it"]).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="fr"))
        await it.jetstream().publish("corridor.bcast.it.OpportunityPublished", forged.encode(),
                                     headers={"Nats-Msg-Id": str(forged.event_id)})
        # 2. The same, under France's subject too: its OUT does not take it, nor does the hub.
        with pytest.raises(nats.js.errors.NoStreamResponseError):
            await it.jetstream().publish("corridor.bcast.fr.OpportunityPublished", forged.encode(), timeout=2)
        await it.publish("corridor.bcast.fr.OpportunityPublished", forged.encode())
        # 3. And a genuine broadcast of its own, which everyone applies.
        genuine = Signer(SEEDS["it"]).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="it"))
        await it.jetstream().publish("corridor.bcast.it.OpportunityPublished", genuine.encode(),
                                     headers={"Nats-Msg-Id": str(genuine.event_id)})

        for node, book in books.items():
            assert await eventually(lambda: _applied(book, str(genuine.event_id)), timeout=60), node
            letters = await eventually(lambda: dead_letters.read_all(clients[node].jetstream()), timeout=30)
            assert [letter.reason for letter in letters] == ["subject origin 'it' differs from envelope origin 'fr'"], node
            assert letters[0].data == forged.encode()
            assert await ledger.applied(book) == {str(genuine.event_id): 1}, node
        assert not [m for m in captured if m.subject == "corridor.bcast.fr.OpportunityPublished"]  # refused at the hub
    finally:
        for book in books.values():
            await book.stop()


async def _applied(book, event_id):
    return (await ledger.applied(book)).get(event_id) == 1
