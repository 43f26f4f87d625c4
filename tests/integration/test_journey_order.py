"""The shared consumer keeps the events of one journey in their order, and takes back at once what a
process of it held when it died, on a real nats-server and database.

A journey is what orders events: the placement (or proposal) an event names, else its correlation
id. Events of other journeys never wait for it.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import nats
import nats.js.errors
import pytest
from sqlalchemy import select

from corridor_contracts import Envelope, subjects
from harness import ledger
from harness.ledger import applied, eventually
from harness.samples import SAMPLES

pytestmark = pytest.mark.nats


async def _publish(js, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode(),
                         headers={"Nats-Msg-Id": str(envelope.event_id)})


async def _order(service) -> list[str]:
    """The event ids in the order their effects were committed (the ledger's rows are numbered)."""
    async with service.sessions() as session:
        return list((await session.execute(select(ledger.effects.c.event_id).order_by(ledger.effects.c.id))).scalars())


async def _all_applied(service, envelopes) -> bool:
    return await applied(service) == {str(e.event_id): 1 for e in envelopes}


async def test_a_later_event_of_a_journey_waits_for_an_earlier_one_that_failed(running, js):
    """The batch fails on its first event; applied one by one, the later event of the same journey
    is left for redelivery instead of being applied (and recorded as done) before it. The earlier
    one fails again on its redeliveries, with a longer backoff: the later one, back first, still
    waits. The other journey goes on."""
    journey, other = uuid.uuid4(), uuid.uuid4()
    first = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE, correlation_id=journey)
    later = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE, correlation_id=journey)
    unrelated = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE, correlation_id=other)
    the_ledger = ledger.Ledger()
    the_ledger.fail_first[str(first.event_id)] = 4  # in the batch, alone, and on two redeliveries
    await _publish(js, first, later, unrelated)
    service = await running(the_ledger, backoff=(0.3, 1.0, 1.0))  # started after publishing: one batch

    assert await eventually(lambda: _all_applied(service, [first, later, unrelated]), timeout=30)
    order = await _order(service)
    assert order.index(str(first.event_id)) < order.index(str(later.event_id)), order
    assert order.index(str(unrelated.event_id)) < order.index(str(first.event_id)), order  # not held up
    assert len(the_ledger.attempts[str(first.event_id)]) == 5
    assert service.consumers[0].counters.held >= 2  # in the batch, then when it came back first


async def test_a_restarted_consumer_takes_back_at_once_what_its_dead_process_held(running, nats_node, js):
    """A process fetched a batch and was killed before acknowledging it: the server would hand the
    batch out again only after the ack wait (60 s in this harness). The restarted consumer gets it
    at once."""
    service = await running()
    assert await eventually(lambda: _consumer_exists(js, "LOCAL", "ledger-local"))
    await service.stop()
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    await _publish(js, envelope)
    nc = await nats.connect(nats_node.url)  # the process that fetched it and died
    try:
        held = await nc.jetstream().pull_subscribe_bind(durable="ledger-local", stream="LOCAL")
        [msg] = await held.fetch(1, timeout=5)
        assert msg.data == envelope.encode()
    finally:
        await nc.close()
    assert (await js.consumer_info("LOCAL", "ledger-local")).num_ack_pending == 1

    began = time.monotonic()
    restarted = await running()
    assert await eventually(lambda: _applied_once(restarted, str(envelope.event_id)), timeout=20)
    assert time.monotonic() - began < 10  # not the ack wait


async def _consumer_exists(js, stream: str, name: str) -> bool:
    try:
        return bool(await js.consumer_info(stream, name))
    except nats.js.errors.NotFoundError:
        return False


async def _applied_once(service, event_id: str) -> bool:
    return (await applied(service)).get(event_id) == 1


class SlowLedger(ledger.Ledger):
    """Its handler takes longer than the consumer's ack wait."""

    async def apply(self, uow, incoming) -> None:
        await asyncio.sleep(2.5)
        await super().apply(uow, incoming)


async def test_a_batch_that_takes_longer_than_the_ack_wait_is_not_handed_out_again(running, js):
    """While a batch is being applied the consumer tells the server it is still working on it, so
    a short ack wait does not make the server deliver it a second time meanwhile."""
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    service = await running(SlowLedger(), ack_wait=1.0)
    await _publish(js, envelope)

    assert await eventually(lambda: _applied_once(service, str(envelope.event_id)), timeout=20)
    await asyncio.sleep(1.5)  # a second delivery would have come by now
    info = await js.consumer_info("LOCAL", "ledger-local")
    assert (info.num_redelivered, service.consumers[0].counters.duplicates) == (0, 0)
