"""Malformed and oversized messages on every subject a service consumes: the four services of a
node on a real nats-server, each consumed subject fed garbage; every consumer dead-letters each
message it receives with a reason, none stops, and a valid event afterwards is still applied."""

from __future__ import annotations

import json
import random
import secrets

import nats
import pytest
from corridor_contracts import CATALOGUE, Envelope, PartnerNode, Registry, Scope, new_node_seed
from corridor_matching.bootstrap import build as build_matching
from corridor_notifications.bootstrap import build as build_notifications
from corridor_notifications.settings import NotificationSettings
from corridor_profiles.bootstrap import build as build_profiles
from corridor_reporting.bootstrap import build as build_reporting
from corridor_runtime import dead_letters
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.samples import SAMPLES

pytestmark = pytest.mark.nats
SEED = new_node_seed()


def _matches(subject: str, pattern: str) -> bool:
    s, p = subject.split("."), pattern.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(s) == len(p)


def _subject(event_type: str, outgoing: bool) -> str:
    scope = CATALOGUE.latest(event_type).SCOPE
    if scope is Scope.LOCAL:
        return f"node.fr.{event_type}"
    if scope is Scope.BROADCAST:
        return f"corridor.bcast.fr.{event_type}"
    return f"corridor.direct.{'es' if outgoing else 'fr'}.fr.{event_type}"  # what fr sent / what it received


def _garbage(rng: random.Random, event_type: str, limit: int) -> list[bytes]:
    """Bytes, JSON of the wrong shape, an envelope of another type, one with a broken payload, one
    as large as the server allows."""
    envelope = Envelope.wrap(SAMPLES["VolunteerErased"], origin="fr").to_wire()
    wrong_type = {**envelope, "type": "OpportunityClosed"}
    broken = {**envelope, "type": event_type, "payload": {"unexpected": [1, 2, 3]}}
    return [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))), b"[1, 2, 3]", b'"just a string"',
            json.dumps(wrong_type).encode(), json.dumps(broken).encode(), b"{" + b" " * (limit - 300) + b"}"]


def _node(tmp_path, nats_url):
    """Node fr's settings for a service, with a registry that lists fr and es."""
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR"),
                                  PartnerNode.of_seed(new_node_seed(), id="es", name="Incoma", country="ES")]), registry)

    def settings(service):
        return NodeSettings(node_id="fr", service=service, nats_url=nats_url, data_dir=tmp_path, registry_file=registry,
                            signing_seed=SEED.decode(), pseudonym_secret=secrets.token_hex(32), max_deliver=2)
    return settings


async def test_every_consumed_subject_dead_letters_garbage_and_goes_on(tmp_path, nats_node):
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=["es"])
    settings = _node(tmp_path, nats_node.url)
    hosts = [build_profiles(settings("profiles")), build_matching(settings("matching")),
             build_notifications(settings("notifications"), NotificationSettings(maildir=tmp_path / "maildir")),
             build_reporting(settings("reporting"))]
    try:
        for host in hosts:
            await host.start()
        consumers = [c for host in hosts for c in host.consumers]
        rng = random.Random(7)
        expected = 0
        for subscription in {c.subscription.name: c.subscription for c in consumers}.values():
            for event_type in subscription.handlers:
                subject = _subject(event_type, subscription.outgoing)
                for data in _garbage(rng, event_type, nc.max_payload):
                    await js.publish(subject, data)
                    # each consumer whose filters take the subject (once per consumer) dead-letters it
                    expected += sum(any(_matches(subject, f) for f in c.subscription.filter_subjects("fr")) for c in consumers)

        async def all_dead_lettered():
            info = await js.stream_info(dead_letters.STREAM)
            return info.state.messages >= expected

        assert await eventually(all_dead_lettered, timeout=120)
        letters = await dead_letters.read_all(js, limit=expected + 10)
        assert len(letters) == expected  # nothing dead-lettered twice, nothing dropped
        assert all(letter.reason for letter in letters)
        assert all(not task.done() for host in hosts for task in host._tasks)  # every consumer still runs

        # And a valid event afterwards is applied (matching reads her profile).
        good = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="fr")
        await js.publish("node.fr.VolunteerRegistered", good.encode(), headers={"Nats-Msg-Id": str(good.event_id)})
        matching = hosts[1]

        async def applied():
            consumer = next(c for c in matching.consumers if c.name == "matching-local")
            return consumer.counters.processed >= 1
        assert await eventually(applied, timeout=60)
    finally:
        for host in hosts:
            await host.stop()
        await nc.close()


async def test_an_event_of_a_type_this_release_does_not_know_is_dead_lettered_with_why(tmp_path, nats_node):
    """A partner on a newer release sends a type no service here reads: no consumer's filter takes
    it, so the node's watcher (run by reporting) dead-letters it instead of leaving it in IN unseen."""
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=["es"])
    reporting = build_reporting(_node(tmp_path, nats_node.url)("reporting"))
    try:
        await reporting.start()
        newer = {**Envelope.wrap(SAMPLES["OpportunityClosed"], origin="fr").to_wire(), "type": "BadgeAwarded"}
        await js.publish("corridor.bcast.fr.BadgeAwarded", json.dumps(newer).encode())
        await js.publish("corridor.direct.fr.fr.MentorAssigned", json.dumps({**newer, "type": "MentorAssigned"}).encode())
        known = Envelope.wrap(SAMPLES["OpportunityClosed"], origin="fr")
        await js.publish("corridor.bcast.fr.OpportunityClosed", known.encode())

        async def two_letters():
            return (await js.stream_info(dead_letters.STREAM)).state.messages >= 2

        assert await eventually(two_letters, timeout=60)
        watcher = await js.consumer_info("IN", "unknown-events")
        assert await eventually(lambda: _all_acked(js), timeout=30)  # the known one too: read, not dead-lettered
        letters = await dead_letters.read_all(js)
        assert sorted(letter.original_subject for letter in letters) == [
            "corridor.bcast.fr.BadgeAwarded", "corridor.direct.fr.fr.MentorAssigned"]
        assert all("unknown event type" in letter.reason and "newer release" in letter.reason for letter in letters)
        assert {letter.consumer for letter in letters} == {"unknown-events"}
        assert watcher.config.filter_subjects == ["corridor.bcast.*.*", "corridor.direct.fr.*.*"]
    finally:
        await reporting.stop()
        await nc.close()


async def _all_acked(js) -> bool:
    info = await js.consumer_info("IN", "unknown-events")
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= 3
