"""Delivery guarantees of the shared runtime on a real nats-server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from corridor_contracts import Envelope, Signer, subjects
from corridor_runtime import dead_letters
from harness import ledger
from harness.ledger import applied, eventually
from harness.samples import SAMPLES

pytestmark = pytest.mark.nats
TESTS = Path(__file__).parents[1]


def _env(settings) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "CORRIDOR_NODE_ID": settings.node_id,
        "CORRIDOR_SERVICE": settings.service,
        "CORRIDOR_NATS_URL": settings.nats_url,
        "CORRIDOR_DATABASE_URL": settings.database_url,
        "CORRIDOR_REGISTRY_FILE": str(settings.registry_file),
        "CORRIDOR_SIGNING_SEED": settings.signing_seed.get_secret_value(),
        "CORRIDOR_DATA_DIR": str(settings.data_dir),
    }


def _crash(settings, mode: str) -> str:
    """Run a service process that dies by SIGKILL at `mode`; return the id of the event it wrote."""
    done = subprocess.run([sys.executable, "-m", "harness.crash_writer", mode], env=_env(settings),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip()


async def _pending_rows(service) -> list[str]:
    outbox = service.tables.outbox
    async with service.sessions() as session:
        return [r[0] for r in await session.execute(select(outbox.c.event_id).where(outbox.c.published_at.is_(None)))]


async def _stream_messages(js, stream: str) -> int:
    return (await js.stream_info(stream)).state.messages


async def test_committed_event_is_published_and_applied_once(running, js):
    service = await running()
    async with service.unit_of_work() as uow:
        envelope = uow.emit(SAMPLES["VolunteerRegistered"])
    event_id = str(envelope.event_id)

    assert await eventually(lambda: _applied_once(service, event_id))
    assert await _pending_rows(service) == []
    assert await _stream_messages(js, "LOCAL") == 1


async def _applied_once(service, event_id):
    return (await applied(service)).get(event_id) == 1


async def test_killed_after_commit_before_publishing_then_published_once(running, node_settings, js):
    event_id = _crash(node_settings, "after-commit")
    assert await _stream_messages(js, "LOCAL") == 0  # it really died before publishing

    service = await running()  # the restarted service: its relay finds the committed row
    assert await eventually(lambda: _applied_once(service, event_id))
    assert await _pending_rows(service) == []
    assert await _stream_messages(js, "LOCAL") == 1
    await asyncio.sleep(0.5)
    assert (await applied(service))[event_id] == 1


async def test_killed_after_publishing_before_marking_sent_then_not_duplicated(running, node_settings, js):
    event_id = _crash(node_settings, "after-publish")
    assert await _stream_messages(js, "LOCAL") == 1  # published and acked, not marked sent

    service = await running()
    assert await eventually(lambda: _no_pending(service))  # the relay published it again...
    assert await eventually(lambda: _applied_once(service, event_id))
    await asyncio.sleep(0.5)
    assert await _stream_messages(js, "LOCAL") == 1  # ...and the stream dropped the duplicate
    assert (await applied(service))[event_id] == 1


async def _no_pending(service):
    return await _pending_rows(service) == []


async def test_redelivered_and_replayed_event_changes_state_once(running, js):
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    subject = subjects.for_envelope(envelope, node=ledger.NODE)
    event_id = str(envelope.event_id)
    # The same event twice in the stream, past the duplicate window's reach (different Nats-Msg-Id),
    # as after a relay retry more than two minutes later.
    await js.publish(subject, envelope.encode(), headers={"Nats-Msg-Id": event_id})
    await js.publish(subject, envelope.encode(), headers={"Nats-Msg-Id": f"{event_id}-again"})

    service = await running()
    assert await eventually(lambda: _consumed(service, "ledger-local", 2))
    assert (await applied(service)) == {event_id: 1}
    await service.stop()

    # Replay from the stream start: a new consumer reads both copies again.
    await js.delete_consumer("LOCAL", "ledger-local")
    replayed = await running()
    assert await eventually(lambda: _consumed(replayed, "ledger-local", 2))
    counters = replayed.consumers[0].counters
    assert (counters.processed, counters.duplicates) == (0, 2)
    assert (await applied(replayed)) == {event_id: 1}


async def _consumed(service, consumer_name, count):
    consumer = next(c for c in service.consumers if c.name == consumer_name)
    return consumer.counters.processed + consumer.counters.duplicates >= count


async def test_poison_messages_are_dead_lettered_with_their_reason_and_the_consumer_goes_on(running, js):
    service = await running()
    registered = SAMPLES["VolunteerRegistered"]
    local = subjects.local(ledger.NODE, "VolunteerRegistered")

    await js.publish(local, b'{"event_id": "not json')
    wire = Envelope.wrap(registered, origin=ledger.NODE).to_wire()
    del wire["payload"]["profile"]
    await js.publish(local, Envelope.model_validate(wire).encode())
    unknown = Envelope.wrap(registered, origin=ledger.NODE).model_copy(update={"version": 99})
    await js.publish(local, unknown.encode())
    forged = Signer(ledger.OTHER_SEED).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin=ledger.NODE))
    await js.publish(subjects.for_envelope(forged, node=ledger.NODE), forged.encode())
    good = Envelope.wrap(registered, origin=ledger.NODE)
    await js.publish(local, good.encode())

    assert await eventually(lambda: _applied_once(service, str(good.event_id)))
    letters = await eventually(lambda: _dead_letters(js, 4))
    reasons = sorted(letter.reason for letter in letters)
    assert any(r.startswith("invalid JSON") for r in reasons), reasons
    assert any(r.startswith("payload schema violation") and "profile" in r for r in reasons), reasons
    assert any(r.startswith("unknown event VolunteerRegistered v99") for r in reasons), reasons
    assert any(r.startswith("bad signature") for r in reasons), reasons
    forged_letter = next(letter for letter in letters if letter.reason.startswith("bad signature"))
    assert forged_letter.original_subject == "corridor.bcast.fr.OpportunityPublished"
    assert forged_letter.original_stream == "IN"
    assert forged_letter.data == forged.encode()  # kept byte for byte, for inspection and replay
    assert (await applied(service)) == {str(good.event_id): 1}
    assert await js.consumer_info("LOCAL", "ledger-local")  # and nothing is left unacked behind
    assert (await js.consumer_info("LOCAL", "ledger-local")).num_ack_pending == 0


async def test_a_message_as_large_as_the_server_allows_is_dead_lettered_and_the_consumer_goes_on(running, js):
    """No room for the dead letter's headers under the server's max payload: the letter keeps the
    start, says how large the original was, and the whole message stays findable in its stream."""
    service = await running()
    local = subjects.local(ledger.NODE, "VolunteerRegistered")
    huge = b'{"event_id": "' + b"x" * (js._nc.max_payload - 200) + b'"}'
    ack = await js.publish(local, huge)
    good = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    await js.publish(local, good.encode())

    assert await eventually(lambda: _applied_once(service, str(good.event_id)))
    [letter] = await eventually(lambda: _dead_letters(js, 1))
    assert letter.reason.startswith("envelope schema violation") or letter.reason.startswith("invalid")
    stored = await js.get_msg(dead_letters.STREAM, letter.sequence)
    assert stored.headers[dead_letters.TRUNCATED] == str(len(huge)) and len(stored.data) < len(huge)
    assert (await dead_letters.fetch(js, letter.sequence)).data == huge  # the whole of it, from LOCAL seq {ack.seq}
    assert letter.original_sequence == ack.seq


async def _dead_letters(js, count):
    letters = await dead_letters.read_all(js)
    return letters if len(letters) >= count else None


async def test_transient_failure_is_retried_with_backoff_then_succeeds(running, js):
    the_ledger = ledger.Ledger()
    envelope = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    event_id = str(envelope.event_id)
    the_ledger.fail_first[event_id] = 2
    service = await running(the_ledger, backoff=(0.3, 0.6, 1.2))
    await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode())

    assert await eventually(lambda: _applied_once(service, event_id))
    attempts = the_ledger.attempts[event_id]
    assert len(attempts) == 3
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.3 * 0.9 and gaps[1] >= 0.6 * 0.9, gaps  # the backoff grows; lower bounds only
    assert await dead_letters.read_all(js) == []


async def test_event_failing_every_time_is_dead_lettered_after_max_deliver(running, node_settings, js):
    the_ledger = ledger.Ledger()
    envelope = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    the_ledger.always_fail.add(str(envelope.event_id))
    service = await running(the_ledger, settings=node_settings.model_copy(update={"max_deliver": 3}),
                            backoff=(0.1, 0.1, 0.1))
    await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode())

    letters = await eventually(lambda: _dead_letters(js, 1))
    assert letters[0].reason.startswith("the handler failed 3 times; last error: RuntimeError('a downstream hiccup')")
    assert letters[0].deliveries == 3
    assert len(the_ledger.attempts[str(envelope.event_id)]) == 3
    assert await applied(service) == {}


async def test_permanent_failure_is_dead_lettered_at_once_and_the_batch_goes_on(running, js):
    the_ledger = ledger.Ledger()
    rejected = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    accepted = [Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE) for _ in range(5)]
    the_ledger.reject.add(str(rejected.event_id))
    for envelope in [accepted[0], accepted[1], rejected, *accepted[2:]]:
        await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode())
    service = await running(the_ledger)  # started after publishing: all seven arrive in one batch

    letters = await eventually(lambda: _dead_letters(js, 1))
    assert letters[0].reason == "rejected by the handler: this ledger refuses the event"
    assert len(the_ledger.attempts[str(rejected.event_id)]) == 2  # in the batch, then alone
    assert await eventually(lambda: _all_applied(service, accepted))


async def _all_applied(service, envelopes):
    return await applied(service) == {str(e.event_id): 1 for e in envelopes}


async def test_a_restarted_nats_server_is_reconnected_and_nothing_is_lost(running, nats_node, js):
    service = await running()
    before = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    async with service.unit_of_work() as uow:
        first = uow.emit(SAMPLES["VolunteerRegistered"])
    assert await eventually(lambda: _applied_once(service, str(first.event_id)))

    nats_node.kill()  # SIGKILL: the service loses its connection mid-flight
    async with service.unit_of_work() as uow:  # committed while the server is down
        second = uow.emit(SAMPLES["VolunteerUpdated"])
    await asyncio.sleep(1.0)
    nats_node.start()  # same ports, same store

    assert await eventually(lambda: _all_applied(service, [first, second]), timeout=60)
    assert await _pending_rows(service) == []
    assert before.event_id not in {e for e in await applied(service)}


async def test_the_relay_is_woken_by_the_commit_not_by_its_poll(running, js):
    service = await running()
    service.relay._poll_interval = 3600.0  # from now on only a wake-up can publish
    await asyncio.sleep(0.1)  # let the relay enter its (now hour-long) wait
    service.relay.wake()
    await asyncio.sleep(0.1)
    async with service.unit_of_work() as uow:
        envelope = uow.emit(SAMPLES["VolunteerRegistered"])
    assert await eventually(lambda: _applied_once(service, str(envelope.event_id)), timeout=20)


async def test_a_row_the_server_refuses_stays_pending_with_its_reason_and_the_rest_of_its_batch_goes(running, js):
    service = await running()
    async with service.unit_of_work() as uow:
        before = uow.emit(SAMPLES["VolunteerRegistered"])
        uow._rows.append({**uow._rows[-1], "event_id": "no-stream", "subject": "nowhere.x"})  # no stream takes it
        oversized = uow.emit(SAMPLES["VolunteerUpdated"])
        uow._rows[-1] = {**uow._rows[-1], "event_id": "oversized", "data": b"x" * (2 * 1024 * 1024)}  # > max_payload
        after = uow.emit(SAMPLES["VolunteerUpdated"])
    assert oversized

    assert await eventually(lambda: _all_applied(service, [before, after]))
    outbox = service.tables.outbox
    async with service.sessions() as session:
        rows = {r.event_id: r for r in await session.execute(
            select(outbox.c.event_id, outbox.c.attempts, outbox.c.last_error).where(outbox.c.published_at.is_(None)))}
    assert set(rows) == {"no-stream", "oversized"}
    assert rows["no-stream"].attempts >= 1 and "no stream takes this subject" in rows["no-stream"].last_error
    assert rows["oversized"].attempts >= 1 and "maximum payload" in rows["oversized"].last_error.lower(), rows
    assert await _stream_messages(js, "LOCAL") == 2


@pytest.mark.parametrize("stream", ["LOCAL", "IN"])
async def test_an_operator_replays_a_dead_letter_after_the_fix(running, nats_node, js, stream):
    """The service that dead-lettered the event applies it again on request: a letter from LOCAL,
    and one that came through IN (whose subject no local stream would take again)."""
    the_ledger = ledger.Ledger()
    if stream == "LOCAL":
        envelope = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    else:
        envelope = Signer(ledger.SEED).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin=ledger.NODE))
    the_ledger.reject.add(str(envelope.event_id))
    service = await running(the_ledger)
    await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode())
    letter = (await eventually(lambda: _dead_letters(js, 1)))[0]
    assert letter.original_stream == stream

    corridor = [str(Path(sys.executable).parent / "corridor"), "dead-letters"]

    async def run(*args):  # the service under test answers in this event loop: do not block it
        return await asyncio.to_thread(subprocess.run, [*corridor, *args, "--nats-url", nats_node.url],
                                       capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "250"})
    listed = await run("list")
    assert listed.returncode == 0, listed.stderr
    assert "1 dead letters" in listed.stdout and "rejected by the handler: this ledger refuses the event" in listed.stdout

    refused = await run("replay", str(letter.sequence))  # not fixed yet: refused again, and kept
    assert refused.returncode == 1 and "this ledger refuses the event" in refused.stdout and "stays" in refused.stdout
    assert len(await dead_letters.read_all(js)) == 1

    the_ledger.reject.clear()  # the fix
    replayed = await run("replay", str(letter.sequence))
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    assert f"dead letter {letter.sequence}: applied by ledger" in replayed.stdout
    assert (await applied(service)) == {str(envelope.event_id): 1}
    assert await dead_letters.read_all(js) == []


async def test_an_event_whose_ack_was_lost_is_redelivered_and_skipped(running, js, monkeypatch):
    from nats.aio.msg import Msg

    real_ack, lost = Msg.ack, []

    async def ack_lost_once(self):
        if not lost:  # the process "dies" between its commit and its ack
            lost.append(self.metadata.sequence.stream)
            return
        await real_ack(self)

    monkeypatch.setattr(Msg, "ack", ack_lost_once)
    the_ledger = ledger.Ledger()
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    service = await running(the_ledger, ack_wait=1.0)  # redeliver soon
    await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode())

    assert await eventually(lambda: _consumed(service, "ledger-local", 2))  # delivered twice...
    assert len(the_ledger.attempts[str(envelope.event_id)]) == 1  # ...the handler ran once
    assert (await applied(service)) == {str(envelope.event_id): 1}
    assert service.consumers[0].counters.duplicates == 1


async def test_a_batch_handler_applies_runs_of_events_once_and_falls_back_to_one_at_a_time(tmp_path, nats_node, js, database_url):
    """Runs of consecutive events of one type go to the batch handler in one statement; a run that
    fails is applied one event at a time, so only the bad event is dead-lettered."""
    from sqlalchemy import insert as sql_insert

    from corridor_runtime.consumer import Subscription
    from corridor_runtime.service import ServiceHost

    the_ledger, runs = ledger.Ledger(), []

    async def apply_all(uow, incomings):
        runs.append(len(incomings))
        if any(str(i.envelope.event_id) in the_ledger.reject for i in incomings):
            raise RuntimeError("one of these cannot be applied")
        await uow.session.execute(sql_insert(ledger.effects), [
            {"event_id": str(i.envelope.event_id), "event_type": i.envelope.type} for i in incomings])

    host = ServiceHost(ledger.settings(tmp_path, nats_node.url, database_url), metadata=ledger.metadata, versioned_schema=False, subscriptions=[
        Subscription("ledger-local", "LOCAL", {"VolunteerUpdated": the_ledger.apply, "VolunteerRegistered": the_ledger.apply},
                     batch_handlers={"VolunteerUpdated": apply_all}, backoff=(0.2,))])
    sent = [Envelope.wrap(SAMPLES["VolunteerUpdated" if i % 10 else "VolunteerRegistered"], origin=ledger.NODE)
            for i in range(60)]
    bad = sent[33]
    the_ledger.reject.add(str(bad.event_id))
    for envelope in sent:
        await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode(),
                         headers={"Nats-Msg-Id": str(envelope.event_id)})
    await host.start()
    try:
        expected = {str(e.event_id): 1 for e in sent if e is not bad}
        assert await eventually(lambda: _equals(applied(host), expected), timeout=30)
        assert max(runs) > 1  # runs of events went in one statement
        [letter] = await eventually(lambda: _dead_letters(js, 1))
        assert letter.data == bad.encode() and "this ledger refuses the event" in letter.reason
    finally:
        await host.stop()


async def _equals(awaitable, expected):
    return await awaitable == expected


async def test_a_release_that_reads_a_new_event_type_applies_what_the_stream_already_held(
        tmp_path, nats_node, js, database_url):
    """A service upgraded to read one more event type keeps its durable consumer; the events of that
    type that came before the upgrade are applied too, once, not only those that come after."""
    from corridor_runtime.consumer import Subscription
    from corridor_runtime.service import ServiceHost

    settings = ledger.settings(tmp_path, nats_node.url, database_url)

    def release(the_ledger, types):
        return ServiceHost(settings, metadata=ledger.metadata, versioned_schema=False, subscriptions=[
            Subscription("ledger-local", "LOCAL", dict.fromkeys(types, the_ledger.apply), backoff=(0.2,))])

    registered = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin=ledger.NODE)
    updated = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
    older = release(ledger.Ledger(), ["VolunteerRegistered"])
    await older.start()
    try:
        for envelope in (registered, updated):
            await js.publish(subjects.for_envelope(envelope, node=ledger.NODE), envelope.encode(),
                             headers={"Nats-Msg-Id": str(envelope.event_id)})
        assert await eventually(lambda: _equals(applied(older), {str(registered.event_id): 1}), timeout=30)
    finally:
        await older.stop()

    newer = release(ledger.Ledger(), ["VolunteerRegistered", "VolunteerUpdated"])
    await newer.start()
    try:
        expected = {str(registered.event_id): 1, str(updated.event_id): 1}
        assert await eventually(lambda: _equals(applied(newer), expected), timeout=30)
        later = Envelope.wrap(SAMPLES["VolunteerUpdated"], origin=ledger.NODE)
        await js.publish(subjects.for_envelope(later, node=ledger.NODE), later.encode(),
                         headers={"Nats-Msg-Id": str(later.event_id)})
        expected[str(later.event_id)] = 1
        assert await eventually(lambda: _equals(applied(newer), expected), timeout=30)
        assert await dead_letters.read_all(js) == []
    finally:
        await newer.stop()
    restarted = release(ledger.Ledger(), ["VolunteerRegistered", "VolunteerUpdated"])
    await restarted.start()  # nothing gained this time: nothing applied twice
    try:
        await asyncio.sleep(1)
        assert await applied(restarted) == expected
    finally:
        await restarted.stop()
