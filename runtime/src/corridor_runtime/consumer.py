"""The one consumer every service uses: pull batches, validate, apply once, dead-letter poison.

For each batch fetched from a durable pull consumer:
1. decode every message; poison (see decoding.py) goes to the dead-letter stream, then is acked;
2. apply the valid ones in ONE database transaction: record their ids in the inbox, skipping those
   it holds already; check the others against the authority ledger (authority.py: an event from a
   node with no authority over what it states is refused, its claim taken back, and dead-lettered
   after the commit; an older version of a datum than the one applied is passed over); run the
   handlers of the rest; write the outbox rows; commit; then ack;
3. if that transaction fails, apply the messages one by one, in order, to find the failing one: a
   handler's PermanentFailure is dead-lettered at once; any other error is retried with backoff (a
   nak with a delay) and dead-lettered after `max_deliver` attempts; an unreachable database is
   retried for as long as it takes and never dead-letters anything.

Order within a journey. An event that failed and will come back holds back the later events of its
journey (the placement or proposal it names, else its correlation id): they are not applied, and
so not recorded in the inbox as done, before it; they are handed back to the server to come again
just after it (`held`), in its batch and in the next ones, until it is applied or dead-lettered.
Events of other journeys go on. A hold lapses if its event does not come back to this process
within its delay and an ack wait (another replica of the service took it). Handlers of a placement
accept its events in any order anyway (corridor_contracts.journey): this keeps the order wherever
a failure is the only reason it would break.

Delivery. A batch is acknowledged within the ack wait (15 s), or the server hands it out again:
while a batch is in hand, the consumer tells the server every third of the ack wait that it is
still working on it, so a slow batch is not delivered twice. When the consumer starts and its
durable consumer has messages delivered and not acknowledged (a batch a killed process held), it
resets the consumer to its ack floor (nats-server 2.14 and later): they come back at once and in
stream order, not after the ack wait behind the events that followed them (the ones acknowledged
above the floor come again too, and the inbox skips them). A consumer that stops hands back what it
holds (nak) for the same reason.

The JetStream consumer itself has no delivery limit: a message is never dropped by the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field

import nats.errors
import structlog
from corridor_contracts import CATALOGUE, Scope, subjects
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .authority import Ledger, Refused
from .dead_letters import DeadLetters
from .decoding import Decoder, Poison
from .inbox import Inbox
from .reading import read
from .tables import DeliveryTables
from .tasks import stop_if_cancelled
from .telemetry import Telemetry
from .unit_of_work import Emitter, Incoming, UnitOfWork

log = structlog.get_logger("corridor.consumer")

Handler = Callable[[UnitOfWork, Incoming], Awaitable[None]]
BatchHandler = Callable[[UnitOfWork, list[Incoming]], Awaitable[None]]

# Errors of the infrastructure, not of the event: retried without limit, never dead-lettered.
INFRASTRUCTURE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, ConnectionError, OSError, TimeoutError)


FOLLOW_UP = 0.005  # seconds a fetch lingers for more once the first message of a batch is in
ACK_WAIT = 15.0  # seconds: a batch not acknowledged by then (its process died) is delivered again
HOLD_LAG = 0.5  # seconds a held event comes back after the event of its journey it waits for


class PermanentFailure(Exception):
    """Raised by a handler for an event that can never be applied; it is dead-lettered at once."""


@dataclass
class Subscription:
    """What one durable consumer of a service reads: a stream and a handler per event type."""

    name: str
    stream: str
    handlers: dict[str, Handler]
    backoff: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
    ack_wait: float = ACK_WAIT  # a batch not acked by then (its process died) is delivered again
    outgoing: bool = False  # on OUT: what this node itself sent to other nodes
    # Optional: event type → a handler of a run of consecutive events of that type (one
    # executemany instead of a statement per event). Used instead of `handlers` for those runs;
    # if a batch fails, the consumer falls back to one event at a time through `handlers`.
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)
    # Optional: a handler of a whole batch, every type in order — a projection that reads the rows
    # a batch touches in one query and writes them back in one statement per table. Events of one
    # journey interleave, so runs of one type are short and `batch_handlers` would not help there.
    # Used for batches of more than one fresh event; the fallback is one event at a time.
    whole_batch: BatchHandler | None = None
    # Event types read for the authority ledger alone, handed to no handler (authority.learn_openings).
    learns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.batch_handlers) - set(self.handlers))
        if unknown:
            raise ValueError(f"{self.name}: batch handlers need a one-event handler too (the fallback): {unknown}")

    def filter_subjects(self, node_id: str) -> list[str]:
        filters = []
        for event_type in sorted(set(self.handlers) | self.learns):
            scope = CATALOGUE.latest(event_type).SCOPE
            if self.outgoing:
                filters.append(subjects.broadcast(node_id, event_type) if scope is Scope.BROADCAST
                               else subjects.direct("*", node_id, event_type))
            elif scope is Scope.LOCAL:
                filters.append(subjects.local(node_id, event_type))
            elif scope is Scope.BROADCAST:
                filters.append(subjects.broadcast("*", event_type))
            else:
                filters.append(subjects.direct(node_id, "*", event_type))
        return filters


@dataclass
class ConsumerCounters:
    processed: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    refused: int = 0  # by the authority rules (authority.py), each also dead-lettered
    superseded: int = 0  # older versions of a datum than the one applied: recorded, not applied
    held: int = 0  # handed back unapplied: an earlier event of their journey is to be retried first
    taken_back: int = 0  # delivered to a stopped process and not acknowledged: taken back at start
    batches: int = 0


@dataclass
class _Hold:
    """A journey waiting for one of its events, which failed and will come back."""

    sequence: int  # the event's sequence in the stream
    due: float  # when it is due back (monotonic clock)
    until: float  # when the hold lapses if it did not come back here


class Consumer:
    def __init__(
        self,
        *,
        js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
        writing: Callable[[], AbstractAsyncContextManager] = nullcontext,
        tables: DeliveryTables,
        emitter: Emitter,
        decoder: Decoder,
        dead_letters: DeadLetters,
        subscription: Subscription,
        node_id: str,
        batch_size: int = 256,
        max_deliver: int = 8,
        fetch_timeout: float = 2.0,
        on_commit: Callable[[], None] = lambda: None,
        scrub: Callable[[], None] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._js = js
        self._sessions = sessions
        self._writing = writing  # the database's turn for writers (Database.writing)
        self._tables = tables
        self._emitter = emitter
        self._decoder = decoder
        self._dead_letters = dead_letters
        self.subscription = subscription
        self._node_id = node_id
        self._batch_size = batch_size
        self._max_deliver = max_deliver
        self._fetch_timeout = fetch_timeout
        self._on_commit = on_commit
        self._scrub = scrub  # after a transaction that erased personal data (UnitOfWork.erased)
        self.inbox = Inbox(tables, subscription.name)
        self._telemetry = telemetry or Telemetry(node_id, subscription.name)  # spans and handler durations
        self._ledger = Ledger(tables.authority, node_id)
        self.counters = ConsumerCounters()
        self._sub = None
        self._holds: dict[str, _Hold] = {}  # journey → the event it waits for
        self._deferrals: dict[str, int] = {}  # event id → times it was held back (deliveries not its own)
        self._in_hand: dict[int, Msg] = {}  # fetched, of a batch not handled yet

    @property
    def name(self) -> str:
        return self.subscription.name

    @property
    def _tracing(self) -> bool:
        return self._telemetry.tracing

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            name=self.name,
            durable_name=self.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.subscription.ack_wait,
            max_deliver=-1,
            max_ack_pending=max(1000, self._batch_size * 4),
            filter_subjects=self.subscription.filter_subjects(self._node_id),
        )

    async def run(self) -> None:
        """Fetch and apply until cancelled; survives NATS and database outages."""
        try:
            await self._loop()
        finally:
            if self._sub is not None:  # a fetch cut short must not leave replies queued behind it
                with contextlib.suppress(Exception):  # the connection may be gone already
                    await self._sub.unsubscribe()
                self._sub = None

    async def _loop(self) -> None:
        while True:
            try:
                if self._sub is None:
                    before = await self._existing()
                    info = await self._js.add_consumer(self.subscription.stream, config=self.config())
                    await self._take_back(info)
                    if before is not None:
                        await self._catch_up(before)
                    self._sub = await self._js.pull_subscribe_bind(durable=self.name, stream=self.subscription.stream)
                await self._pipeline()
            except asyncio.CancelledError:
                raise
            except (nats.errors.Error, *INFRASTRUCTURE_ERRORS) as error:
                stop_if_cancelled()  # a cancellation a NATS request turned into its timeout: stop, do not retry
                log.warning("consumer waiting for NATS or the database", consumer=self.name, error=repr(error))
                await asyncio.sleep(1.0)
            except Exception:
                stop_if_cancelled()
                log.exception("consumer pass failed", consumer=self.name)
                await asyncio.sleep(1.0)

    async def _existing(self) -> ConsumerInfo | None:
        try:
            return await self._js.consumer_info(self.subscription.stream, self.name)
        except NotFoundError:
            return None

    async def _catch_up(self, before: ConsumerInfo) -> None:
        """A new release of the service reads more event types: the durable consumer's filter gains
        their subjects, but JetStream offers it only what comes after its position. Apply, once,
        the events of the gained subjects that the stream already holds (as a dead letter is applied
        again: decoding, handlers, inbox; one that cannot be applied is dead-lettered with why)."""
        had = set(before.config.filter_subjects or ([before.config.filter_subject] if before.config.filter_subject else []))
        gained = [s for s in self.subscription.filter_subjects(self._node_id) if s not in had]
        if not had or not gained:
            return
        # Where the consumer stands on the gained subjects is not told; everything the stream holds
        # now is read. What the consumer is offered after this again, the inbox skips.
        upto = (await self._js.stream_info(self.subscription.stream)).state.last_seq
        applied = poison = 0
        async for msg in read(self._js, self.subscription.stream, subjects=gained):
            if msg.metadata.sequence.stream > upto:
                break  # from here on the consumer itself is offered them
            try:
                applied += await self.apply_again(msg.subject, msg.data)
            except Poison as error:
                await self._dead_letters.put(msg, str(error), consumer=self.name)
                poison += 1
            except Exception as error:  # kept with the reason, to replay once fixed: never skipped
                await self._dead_letters.put(msg, f"could not be applied when catching up: {error!r}", consumer=self.name)
                poison += 1
        log.info("caught up with event types this release reads", consumer=self.name, subjects=gained,
                 applied=applied, dead_lettered=poison, up_to_sequence=upto)

    async def _take_back(self, info: ConsumerInfo) -> None:
        """Messages delivered and not acknowledged when the consumer starts were held by a process
        of it that stopped (killed, or cut off): the server would hand them out again only after the
        ack wait, behind the events that came after them. Reset the consumer to its ack floor, so
        they come back now, in stream order. Needs nats-server 2.14 or later; an older server keeps
        the ack wait. A batch a live replica of the service holds comes again too: the inbox skips
        what it applied."""
        pending = info.num_ack_pending
        if not pending:
            return
        try:
            await self._js.reset_consumer(self.subscription.stream, self.name, timeout=5.0)
        except Exception as error:  # noqa: BLE001 — only sooner than the ack wait: whatever stops it, that still holds
            log.warning("could not take back what a stopped process held; it comes back after the ack wait",
                        consumer=self.name, unacknowledged=pending, error=repr(error))
            return
        self.counters.taken_back += pending
        log.info("took back what a stopped process held", consumer=self.name, unacknowledged=pending)

    async def _pipeline(self) -> None:
        """Apply batch after batch, in order, while the next one is fetched and decoded: the
        database's work on one batch (a thread for SQLite, a server for PostgreSQL) overlaps the
        Python work on the next (the profile in benchmarks/README.md: decoding was most of a batch's time)."""
        receiving = asyncio.ensure_future(self._receive())
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            while True:
                msgs, valid = await receiving
                stop_if_cancelled()
                receiving = asyncio.ensure_future(self._receive())
                try:
                    if valid:
                        await self._handle(valid)
                finally:
                    for msg in msgs:
                        self._in_hand.pop(id(msg), None)
                stop_if_cancelled()
        finally:
            heartbeat.cancel()
            receiving.cancel()
            await asyncio.gather(receiving, heartbeat, return_exceptions=True)
            await self._hand_back()

    async def _receive(self) -> tuple[list[Msg], list[tuple[Msg, Incoming]]]:
        """The next batch, and its valid messages decoded; its poison dead-lettered. Empty when the
        stream stayed quiet."""
        try:
            msgs = await self._fetch()
        except TimeoutError:
            return [], []
        return msgs, await self._decode(msgs)

    async def _heartbeat(self) -> None:
        """Every third of the ack wait, tell the server that the messages in hand (the batch being
        applied, the next one fetched) are being worked on, so that it does not hand them out again."""
        while True:
            await asyncio.sleep(self.subscription.ack_wait / 3)
            for msg in list(self._in_hand.values()):
                if not msg.is_acked:
                    with contextlib.suppress(nats.errors.Error):
                        await msg.in_progress()

    async def _hand_back(self) -> None:
        """On the way out (stopped, or NATS gone): what is still in hand and not settled goes back
        to the server, to be delivered again at once rather than after the ack wait."""
        in_hand, self._in_hand = list(self._in_hand.values()), {}
        for msg in in_hand:
            if not msg.is_acked:
                with contextlib.suppress(Exception):
                    await msg.nak()

    async def _fetch(self) -> list[Msg]:
        """Wait for the first message, then take what is already there up to a batch. A single
        fetch of a whole batch would linger until the batch is full or its timeout passes, holding
        every event of a quiet stream for up to that long (measured: p99 0.9 s at 100 events/s)."""
        msgs = await self._sub.fetch(1, timeout=self._fetch_timeout)
        self._in_hand.update((id(msg), msg) for msg in msgs)
        if self._batch_size > 1:
            try:
                more = await self._sub.fetch(self._batch_size - 1, timeout=FOLLOW_UP)
            except TimeoutError:
                more = []
            self._in_hand.update((id(msg), msg) for msg in more)
            msgs += more
        return msgs

    async def _decode(self, msgs: list[Msg]) -> list[tuple[Msg, Incoming]]:
        self.counters.batches += 1
        valid: list[tuple[Msg, Incoming]] = []
        for msg in msgs:
            try:
                valid.append((msg, self._decoder.decode(msg.subject, msg.data)))
            except Poison as poison:
                await self._dead_letter(msg, str(poison))
        return valid

    async def _handle(self, valid: list[tuple[Msg, Incoming]]) -> None:
        valid = await self._hold_back(valid)
        if not valid:
            return
        try:
            await self._apply(valid)
        except Exception as error:  # noqa: BLE001 — whatever failed, it is found and retried or dead-lettered
            if len(valid) == 1:
                await self._fail(*valid[0], error)
                return
            # One by one, in order, to find the failing one; the others are applied on their own,
            # except the later events of a journey whose event failed: those wait for it.
            for item in valid:
                if self._waits(*item):
                    await self._defer(*item)
                    continue
                try:
                    await self._apply([item])
                except Exception as single_error:  # noqa: BLE001 — retried or dead-lettered
                    await self._fail(*item, single_error)
                else:
                    self._done(*item)
        else:
            for item in valid:
                self._done(*item)

    async def _hold_back(self, valid: list[tuple[Msg, Incoming]]) -> list[tuple[Msg, Incoming]]:
        """The batch without the events that wait for an earlier event of their journey; those are
        handed back. An event that comes after the one it waits for, in the same batch, goes on."""
        if not self._holds:
            return valid
        ready, arrived = [], set()
        for msg, incoming in valid:
            journey = _journey(incoming)
            hold = self._holds.get(journey)
            if hold is not None and msg.metadata.sequence.stream == hold.sequence:
                arrived.add(journey)
            if journey not in arrived and self._waits(msg, incoming):
                await self._defer(msg, incoming)
            else:
                ready.append((msg, incoming))
        return ready

    def _waits(self, msg: Msg, incoming: Incoming) -> bool:
        """Does this event come after one of its journey that failed and will come back?"""
        journey = _journey(incoming)
        hold = self._holds.get(journey)
        if hold is None:
            return False
        if hold.until < time.monotonic():  # it came back elsewhere, or never: the journey goes on
            del self._holds[journey]
            return False
        return msg.metadata.sequence.stream > hold.sequence

    async def _defer(self, msg: Msg, incoming: Incoming) -> None:
        """Hand an event back unapplied, to come again just after the one it waits for."""
        hold = self._holds[_journey(incoming)]
        delay = max(0.0, hold.due - time.monotonic()) + HOLD_LAG
        event_id = str(incoming.envelope.event_id)
        if len(self._deferrals) > 10_000:  # events handed back that another replica took since
            self._deferrals.clear()
        self._deferrals[event_id] = self._deferrals.get(event_id, 0) + 1
        self.counters.held += 1
        with structlog.contextvars.bound_contextvars(**_trace(incoming)):
            log.info("event held back: an earlier event of its journey is retried first", retry_in=round(delay, 2),
                     waits_for=hold.sequence)
        await msg.nak(delay=delay)

    def _done(self, msg: Msg, incoming: Incoming) -> None:
        """The event was applied (or recorded, or dead-lettered): its journey waits no more for it."""
        self._deferrals.pop(str(incoming.envelope.event_id), None)
        journey = _journey(incoming)
        hold = self._holds.get(journey)
        if hold is not None and hold.sequence == msg.metadata.sequence.stream:
            del self._holds[journey]

    async def _fail(self, msg: Msg, incoming: Incoming, error: Exception) -> None:
        delay = await self._failed(msg, incoming, error)
        if delay is None:  # dead-lettered: it will not come back
            self._done(msg, incoming)
            return
        journey, now, sequence = _journey(incoming), time.monotonic(), msg.metadata.sequence.stream
        hold = self._holds.get(journey)
        if hold is not None and hold.sequence < sequence and hold.until >= now:
            return  # the journey already waits for an earlier event
        self._holds[journey] = _Hold(sequence, due=now + delay, until=now + delay + self.subscription.ack_wait)

    async def _apply(self, items: list[tuple[Msg, Incoming]]) -> None:
        async with self._writing(), self._sessions() as session, session.begin():
            by_id: dict[str, Incoming] = {}
            for _, incoming in items:
                by_id.setdefault(str(incoming.envelope.event_id), incoming)
            claimed = await self.inbox.claim(session, by_id)
            fresh = {event_id: incoming for event_id, incoming in by_id.items() if event_id in claimed}
            admission = await self._ledger.admit(session, list(fresh.values()))
            await self.inbox.release(session, [str(i.envelope.event_id) for i, _ in admission.refused])
            handled = [i for i in admission.admitted if i.envelope.type in self.subscription.handlers]
            uow = UnitOfWork(session, self._tables, self._emitter, scrub=self._scrub)
            batched = self.subscription.batch_handlers if len(handled) > 1 else {}
            whole_batch = self.subscription.whole_batch if len(handled) > 1 else None
            # The emitting span of each event (its message's traceparent header), when spans are made.
            headers = {str(i.envelope.event_id): m.headers for m, i in items if m is not None} if self._tracing else {}
            handling, contexts = self._telemetry.handling, uow.trace_contexts
            if whole_batch is not None:
                with handling(self.name, handled, headers, contexts):
                    await whole_batch(uow, handled)
            for event_type, run in _runs(handled) if whole_batch is None else ():
                if event_type in batched:
                    with handling(self.name, run, headers, contexts):
                        await batched[event_type](uow, run)
                    continue
                for incoming in run:
                    with structlog.contextvars.bound_contextvars(**_trace(incoming)), \
                            handling(self.name, (incoming,), headers, contexts):
                        await self.subscription.handlers[event_type](uow, incoming)
            await uow.flush()
            emitted = bool(uow.emitted)
        if emitted:
            self._on_commit()
        for callback in uow.committed:
            callback()
        refused = {str(i.envelope.event_id): reason for i, reason in admission.refused}
        for msg, incoming in items:
            reason = refused.pop(str(incoming.envelope.event_id), None)
            if msg is None:  # a dead letter applied again on an operator's request
                if reason is not None:
                    raise Refused(reason)
            elif reason is not None:
                await self._refuse(msg, incoming, reason)
            else:
                await msg.ack()
        self.counters.processed += len(fresh) - len(admission.refused)
        self.counters.duplicates += len(items) - len(fresh)
        self.counters.superseded += admission.superseded

    async def apply_again(self, subject: str, data: bytes) -> bool:
        """Apply a dead letter of this consumer after a fix, through the same decoding, handlers and
        inbox; True if it was applied now, False if the inbox shows it applied already. Poison and
        handler errors propagate (the letter stays where it is)."""
        incoming = self._decoder.decode(subject, data)
        before = self.counters.processed
        await self._apply([(None, incoming)])
        return self.counters.processed > before

    async def _failed(self, msg: Msg, incoming: Incoming, error: Exception) -> float | None:
        """Dead-letter or retry an event that failed; the delay after which it comes back, or None
        if it will not. Its deliveries count without those in which it was held back."""
        deliveries = max(1, msg.metadata.num_delivered - self._deferrals.get(str(incoming.envelope.event_id), 0))
        with structlog.contextvars.bound_contextvars(**_trace(incoming)):
            if isinstance(error, Refused):
                await self._refuse(msg, incoming, str(error))
            elif isinstance(error, PermanentFailure):
                await self._dead_letter(msg, f"rejected by the handler: {error}")
            elif isinstance(error, INFRASTRUCTURE_ERRORS):
                delay = self._delay(deliveries)
                log.warning("database unavailable; event will be retried", error=repr(error), retry_in=delay)
                await msg.nak(delay=delay)
                return delay
            elif deliveries >= self._max_deliver:
                await self._dead_letter(msg, f"the handler failed {deliveries} times; last error: {error!r}")
            else:
                delay = self._delay(deliveries)
                self.counters.retried += 1
                log.warning("handler failed; event will be retried", error=repr(error),
                            deliveries=deliveries, retry_in=delay)
                await msg.nak(delay=delay)
                return delay
        return None

    async def _refuse(self, msg: Msg, incoming: Incoming, reason: str) -> None:
        with structlog.contextvars.bound_contextvars(**_trace(incoming)):
            self.counters.refused += 1
            log.warning("event refused: its origin has no authority over what it states", reason=reason,
                        origin=incoming.envelope.origin)
            await self._dead_letter(msg, f"refused: {reason}")

    def _delay(self, deliveries: int) -> float:
        backoff = self.subscription.backoff
        return backoff[min(deliveries, len(backoff)) - 1]

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        await self._dead_letters.put(msg, reason, consumer=self.name)
        await msg.ack()
        self.counters.dead_lettered += 1


def _journey(incoming: Incoming) -> str:
    """What orders an event among others: the placement (or proposal) it names, else its correlation
    id (a volunteer's events, an erasure's). An event of no journey has its own id as correlation id."""
    for name in ("placement_id", "proposal_id"):
        value = getattr(incoming.event, name, None)
        if value is not None:
            return f"placement/{value}"
    return f"journey/{incoming.envelope.correlation_id}"


def _trace(incoming: Incoming) -> dict[str, str]:
    fields = {"event_id": str(incoming.envelope.event_id), "correlation_id": str(incoming.envelope.correlation_id),
              "event_type": incoming.envelope.type}
    placement_id = getattr(incoming.event, "placement_id", None) or getattr(incoming.event, "proposal_id", None)
    if placement_id is not None:  # a proposal's id is its placement's
        fields["placement_id"] = str(placement_id)
    return fields


def _runs(items):
    """Consecutive events of the same type, in order: (type, [incoming, ...]) — a batch handler
    never sees events reordered across types."""
    run: list[Incoming] = []
    for incoming in items:
        if run and incoming.envelope.type != run[0].envelope.type:
            yield run[0].envelope.type, run
            run = []
        run.append(incoming)
    if run:
        yield run[0].envelope.type, run
