"""An erasure whose receipt does not come is asked again, later and later, until it comes: a host on
a release that could not act on the request acts once it has upgraded; a lost request is replaced.
On a real nats-server and database; the request is read as the host would read it, from OUT."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta, timezone

import nats
import pytest
from sqlalchemy import update

from corridor_contracts import PartnerNode, Registry, new_node_seed, pseudonym
from corridor_matching import erasure
from corridor_matching.bootstrap import build as build_matching
from corridor_matching.tables import erasures
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.ledger import eventually
from harness.streams import opened, stream_messages

pytestmark = pytest.mark.nats
SEEDS = {"fr": new_node_seed(), "es": new_node_seed()}
SECRET = secrets.token_hex(32)


def test_the_wait_doubles_from_an_hour_up_to_a_week():
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    waits = [erasure.next_ask(start, n) - start for n in range(1, 11)]
    assert waits[:4] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=4), timedelta(hours=8)]
    assert waits[-1] == timedelta(days=7) and max(waits) == timedelta(days=7)


async def test_a_request_without_receipt_is_sent_again_until_the_receipt_comes(tmp_path, nats_node, database_url):
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=n, country=n.upper()) for n in SEEDS]),
                  registry)
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=["es"])
    host = build_matching(NodeSettings(node_id="fr", service="matching", nats_url=nats_node.url,
                                       database_url=database_url, data_dir=tmp_path, registry_file=registry,
                                       signing_seed=SEEDS["fr"].decode(), pseudonym_secret=SECRET))
    asked = datetime.now(timezone.utc) - timedelta(hours=3)
    volunteer, erasure_id, placement = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        await host.start()
        async with host.unit_of_work() as uow:
            await uow.session.execute(erasures.insert().values(
                erasure_id=str(erasure_id), volunteer_id=str(volunteer), host_node="es",
                placement_ids=[str(placement)], requested_at=asked))
        erasures_of = erasure.Erasures(bytes.fromhex(SECRET))  # as the service's own loop does

        async def ask(at):
            async with host.unit_of_work() as uow:
                return await erasures_of.ask_again(uow, at)

        def gauge(g):
            return g.collect()[0].samples[0].value

        now = datetime.now(timezone.utc)
        assert await ask(now) == 1  # an hour has passed since the request: asked again
        assert gauge(erasures_of.waiting) == 1 and gauge(erasures_of.oldest_waiting) >= 3 * 3600
        assert await ask(now + timedelta(minutes=90)) == 0  # the next wait is two hours
        assert await ask(now + timedelta(hours=2, minutes=1)) == 1
        async with host.unit_of_work() as uow:  # the receipt comes
            await uow.session.execute(update(erasures).where(erasures.c.erasure_id == str(erasure_id))
                                      .values(receipt_at=now))
        assert await ask(now + timedelta(days=30)) == 0
        assert gauge(erasures_of.waiting) == 0 and gauge(erasures_of.oldest_waiting) == 0

        async def sent_twice():
            found = [opened(m.data, SEEDS) for m in await stream_messages(js, "OUT")
                     if m.subject == "corridor.direct.es.fr.ErasureRequested"]
            return found if len(found) >= 2 else None

        sent = await eventually(sent_twice, timeout=30)
        assert len(sent) == 2
        assert {w["payload"]["erasure_id"] for w in sent} == {str(erasure_id)}
        assert all(w["payload"]["placement_ids"] == [str(placement)] for w in sent)
        assert all(w["payload"]["volunteer"] == pseudonym(bytes.fromhex(SECRET), volunteer, "es") for w in sent)
        assert len({w["event_id"] for w in sent}) == 2  # new events: the host's inbox does not drop them
        async with host.db.reading() as connection:
            row = (await connection.execute(erasures.select())).one()
        assert row.times_asked == 3
    finally:
        await host.stop()
        await nc.close()
