"""FastStream 0.7's NATS subscribers and publishers against nats-py used directly: the figures behind
docs/decisions/0001-delivery-core-on-nats-py.md.

    .venv/bin/python benchmarks/faststream_vs_natspy.py [--messages 20000] [--repeat 3]

Starts its own nats-server (JetStream, a free loopback port, a temporary store) and stops it at the
end, whatever happens. Four measurements, each against nats-py in the same run:

1. consuming `--messages` small messages already in a stream: FastStream's batch pull subscriber
   (`PullSub(batch_size=500, batch=True)`, `AckPolicy.MANUAL`, each message acked) — once as a user
   would write it (FastStream's per-message log lines on, written to /dev/null; the JSON bodies as a `list[dict]`),
   once stripped (`logger=None`, a decoder that hands over the raw list, `NoCast`) — against
   nats-py's `fetch(500)` + `ack`;
2. publishing `--messages` messages with a `Nats-Msg-Id` into a stream: FastStream's publisher awaiting
   each JetStream ack, against nats-py with windows of 500 `js.publish` in flight (`asyncio.gather`)
   and against the outbox relay's own publisher (acks on one subscription, 3 batches in flight);
   nats-py one at a time and FastStream with gathered windows for reference. The two one-at-a-time
   variants send a quarter as many messages (a rate either way; it keeps the run short);
3. what `PullSub(batch_size, timeout=t)` does to one message on a quiet stream: publish-to-handler
   latency at several `t`, and the client's CPU while the stream is idle, against the runtime's fetch
   (wait for one message, then take what is there within 5 ms);
4. whether a built-in `TimeoutError` escapes FastStream's fetch loop: nats-py's `fetch` is wrapped to
   count what each call returned or raised and which messages were fetched and not yet handed to the
   handler when a built-in `TimeoutError` escaped; a message that reaches the handler first with a
   delivery count above 1 was fetched and never handed over (it came back after the consumer's 2 s
   ack wait). Single messages as in 3, then a message every third of a window, so that most windows
   end with messages in hand. Plus what nats-py's `fetch(500, timeout=t)` does on an idle consumer.

Ratios are medians over `--repeat` rounds of the per-round ratios, the variants' order reversed every
other round; the client's CPU time per message is given beside them (steadier on a shared machine).
Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Self

import nats
from common import save
from corridor_runtime.nats_server import NatsServer
from corridor_runtime.outbox import AckedPublisher
from nats.js.api import AckPolicy as ConsumerAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.client import JetStreamContext
from rich.console import Console
from rich.table import Table

try:
    from faststream import AckPolicy
    from faststream.nats import JStream, NatsBroker, PullSub
    from faststream.nats.annotations import NatsMessage, NoCast
except ImportError as missing:
    raise SystemExit(f"this benchmark needs FastStream with its NATS extra ({missing}); install it with\n"
                     "    .venv/bin/pip install 'faststream[nats]'") from None

PAYLOAD = b'{"type": "VolunteerUpdated", "pad": "' + b"x" * 160 + b'"}'  # ~200 bytes
BATCH = 500
WINDOW = 500  # publishes in flight
ACK_WAIT = 2.0  # seconds, for the consumers of measurement 4: a message fetched and dropped comes back then
LATENCY_TIMEOUTS = (0.01, 0.05, 0.2, 1.0)  # PullSub timeouts of measurement 3
BUSY_TIMEOUTS = (0.01, 0.05, 0.2)  # and of measurement 4
BUSY_SECONDS = 5  # of messages for each timeout of measurement 4
IDLE_PROBE_SECONDS = 2  # of nats-py fetches on an idle consumer, per timeout
BUILTIN_TIMEOUT = "built-in TimeoutError"


def median(values: list[float]) -> float:
    return statistics.median(values)


class Stopwatch:
    """Wall time and this process's CPU time between `start()` and `stop()`. On a shared machine the
    CPU time per message is the steadier figure: it counts the client's own work, not its waits."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def quiet_logger() -> logging.Logger:
    """FastStream's access log as it comes by default (INFO, a line per message and batch), written
    to /dev/null so that the terminal does not pay for it."""
    logger = logging.getLogger("bench.faststream")
    if not logger.handlers:
        handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 — lives as long as the process
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s - %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def consumer_config(durable: str, subject: str, ack_wait: float = 30.0) -> ConsumerConfig:
    """The same JetStream consumer for nats-py and FastStream: durable, explicit acks, no delivery limit."""
    return ConsumerConfig(durable_name=durable, deliver_policy=DeliverPolicy.ALL, ack_policy=ConsumerAckPolicy.EXPLICIT,
                          ack_wait=ack_wait, max_deliver=-1, filter_subject=subject)


# 1. Consuming


async def fill(nc, js, count: int) -> None:
    await js.add_stream(StreamConfig(name="CONSUME", subjects=["consume.>"]))
    for _ in range(count):
        await nc.publish("consume.event", PAYLOAD)
    await nc.flush(timeout=60)
    while (await js.stream_info("CONSUME")).state.messages < count:
        await asyncio.sleep(0.05)


async def natspy_consume(js, durable: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds to create a durable pull consumer and fetch(500) + ack `count` messages with nats-py."""
    watch = Stopwatch()
    watch.start()
    sub = await js.pull_subscribe("consume.>", durable=durable, stream="CONSUME", config=consumer_config(durable, "consume.>"))
    seen = 0
    while seen < count:
        msgs = await sub.fetch(BATCH, timeout=5)
        for msg in msgs:
            await msg.ack()
        seen += len(msgs)
    elapsed = watch.stop()
    await sub.unsubscribe()
    await js.delete_consumer("CONSUME", durable)
    return elapsed


async def faststream_consume(url: str, js, durable: str, count: int, *, lean: bool) -> tuple[float, float]:
    """Wall and CPU seconds for FastStream's batch pull subscriber to take and ack `count` messages (from the broker's
    start, which creates the consumer, to the last ack)."""
    broker = NatsBroker(url, logger=None) if lean else NatsBroker(url, logger=quiet_logger())
    done, seen = asyncio.Event(), 0
    subscriber = broker.subscriber(
        "consume.>", stream=JStream("CONSUME", declare=False), durable=durable, config=consumer_config(durable, "consume.>"),
        pull_sub=PullSub(batch_size=BATCH, timeout=5.0, batch=True), ack_policy=AckPolicy.MANUAL,
        **({"decoder": raw_batch} if lean else {}))

    if lean:
        @subscriber
        async def handle_lean(msgs: NoCast[list]) -> None:
            nonlocal seen
            for msg in msgs:
                await msg.ack()
            seen += len(msgs)
            if seen >= count:
                done.set()
    else:
        @subscriber
        async def handle(body: list[dict], message: NatsMessage) -> None:
            nonlocal seen
            for msg in message.raw_message:
                await msg.ack()
            seen += len(body)
            if seen >= count:
                done.set()

    await broker.connect()
    watch = Stopwatch()
    watch.start()
    await broker.start()
    await asyncio.wait_for(done.wait(), timeout=60)
    elapsed = watch.stop()
    await broker.stop()
    await js.delete_consumer("CONSUME", durable)
    return elapsed


async def raw_batch(message) -> list:
    """A decoder that hands the handler nats-py's messages as they are."""
    return message.raw_message


async def consuming(url: str, js, count: int, repeat: int, console: Console) -> dict:
    runs: dict[str, list[float]] = {"natspy": [], "faststream": [], "faststream_lean": []}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    await natspy_consume(js, "warm-up", count)  # the first reader of a stream pays for loading it: not measured
    for round_ in range(repeat):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for variant in order:
            durable = f"c{round_}-{variant.replace('_', '-')}"
            if variant == "natspy":
                seconds, cpu_seconds = await natspy_consume(js, durable, count)
            else:
                seconds, cpu_seconds = await faststream_consume(url, js, durable, count, lean=variant == "faststream_lean")
            runs[variant].append(count / seconds)
            cpu[variant].append(cpu_seconds / count)
        console.print(f"  consuming, round {round_ + 1}: " + ", ".join(f"{v} {r[-1]:,.0f}/s" for v, r in runs.items()))
    return figures(runs, cpu, "natspy")


def figures(runs: dict[str, list[float]], cpu: dict[str, list[float]], baseline: str) -> dict:
    """Per variant: the rates of each round, their median, the median of the per-round ratios to the
    baseline (each ratio from the same round, with their range), and the client's CPU per message."""
    out = {}
    for variant, rates in runs.items():
        ratios = [rate / base for rate, base in zip(rates, runs[baseline])]
        out[variant] = {"per_second": [round(r) for r in rates], "median_per_second": round(median(rates)),
                        "ratio_to_baseline": round(median(ratios), 3),
                        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                        "cpu_us_per_message": [round(c * 1e6, 1) for c in cpu[variant]],
                        "median_cpu_us_per_message": round(median(cpu[variant]) * 1e6, 1)}
    return out


# 2. Publishing


def message_ids(label: str, count: int) -> list[str]:
    return [f"{label}-{i}" for i in range(count)]


async def publishing(url: str, nc, js, count: int, repeat: int, console: Console) -> dict:
    await js.add_stream(StreamConfig(name="PUBLISH", subjects=["publish.>"]))
    broker = NatsBroker(url, logger=None)
    publisher = broker.publisher("publish.event", stream=JStream("PUBLISH", declare=False), timeout=10.0)
    await broker.start()
    relay = AckedPublisher(nc)

    async def faststream_one_by_one(ids):
        for msg_id in ids:
            await publisher.publish(PAYLOAD, headers={"Nats-Msg-Id": msg_id})

    async def faststream_gathered(ids):
        for i in range(0, len(ids), WINDOW):
            await asyncio.gather(*(publisher.publish(PAYLOAD, headers={"Nats-Msg-Id": m}) for m in ids[i:i + WINDOW]))

    async def natspy_one_by_one(ids):
        for msg_id in ids:
            await js.publish("publish.event", PAYLOAD, headers={"Nats-Msg-Id": msg_id})

    async def natspy_pipelined(ids):
        for i in range(0, len(ids), WINDOW):
            await asyncio.gather(*(js.publish("publish.event", PAYLOAD, headers={"Nats-Msg-Id": m}, timeout=10)
                                   for m in ids[i:i + WINDOW]))

    async def relay_publisher(ids):
        in_flight = []
        for i in range(0, len(ids), WINDOW):
            in_flight.append(await relay.send([("publish.event", PAYLOAD, m, None) for m in ids[i:i + WINDOW]]))
            if len(in_flight) >= 3:
                assert not any(await in_flight.pop(0).outcome(timeout=10))
        for batch in in_flight:
            assert not any(await batch.outcome(timeout=10))

    # The one-at-a-time variants send a quarter as many (at most): a rate, and the run stays short.
    slow = max(1, count // 4)
    variants = {"natspy_pipelined": (natspy_pipelined, count), "relay_publisher": (relay_publisher, count),
                "faststream_one_by_one": (faststream_one_by_one, slow), "natspy_one_by_one": (natspy_one_by_one, slow),
                "faststream_gathered": (faststream_gathered, count)}
    runs: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    watch = Stopwatch()
    try:
        await natspy_pipelined(message_ids("warm-up", WINDOW))  # not measured
        for round_ in range(repeat):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                send, n = variants[name]
                await js.purge_stream("PUBLISH")
                ids = message_ids(f"{name}-{round_}", n)
                watch.start()
                await send(ids)
                elapsed, cpu_seconds = watch.stop()
                stored = (await js.stream_info("PUBLISH")).state.messages
                if stored != n:
                    raise SystemExit(f"{name}: the stream holds {stored} messages, not {n}")
                runs[name].append(n / elapsed)
                cpu[name].append(cpu_seconds / n)
            console.print(f"  publishing, round {round_ + 1}: " + ", ".join(f"{v} {r[-1]:,.0f}/s" for v, r in runs.items()))
    finally:
        await broker.stop()
    out = figures(runs, cpu, "natspy_pipelined")
    for name, rates in runs.items():  # the same, against the relay's publisher
        out[name]["ratio_to_relay_publisher"] = round(median([r / b for r, b in zip(rates, runs["relay_publisher"])]), 3)
    return out


# 3 and 4. Single messages on a quiet stream; what escapes the fetch loop


class FetchOutcomes:
    """Wraps nats-py's `PullSubscription.fetch` (every pull subscription of the process, while
    installed) and counts how each call ended: messages, an empty list, nats-py's TimeoutError
    (`nats.errors.TimeoutError`, which FastStream's loop catches) or Python's built-in one (which it
    does not). It also follows the messages fetched and not yet handed to the handler (`handed`
    removes them): those in hand when a built-in TimeoutError escapes are the ones the loop drops."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.in_hand: set[int] = set()  # stream sequences fetched, not yet in a handler
        self.escapes: list[int] = []  # per built-in TimeoutError: how many messages were in hand
        self.dropped: set[int] = set()
        self._original = JetStreamContext.PullSubscription.fetch

    def outcome(self, result=None, error: BaseException | None = None) -> str:
        if error is None:
            return "messages" if result else "[]"
        if type(error) is TimeoutError:
            return BUILTIN_TIMEOUT
        if isinstance(error, nats.errors.TimeoutError):
            return "nats TimeoutError"
        return type(error).__name__  # ConnectionClosedError or CancelledError: the broker stopping

    def count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def handed(self, sequences) -> None:
        self.in_hand.difference_update(sequences)

    def __enter__(self) -> Self:
        original, outcomes = self._original, self

        async def fetch(sub, *args, **kwargs):
            try:
                result = await original(sub, *args, **kwargs)
            except BaseException as error:
                key = outcomes.outcome(error=error)
                outcomes.count(key)
                if key == BUILTIN_TIMEOUT:
                    outcomes.escapes.append(len(outcomes.in_hand))
                    outcomes.dropped |= outcomes.in_hand
                    outcomes.in_hand = set()
                raise
            outcomes.count(outcomes.outcome(result))
            outcomes.in_hand.update(msg.metadata.sequence.stream for msg in result)
            return result

        JetStreamContext.PullSubscription.fetch = fetch
        return self

    def __exit__(self, *exc) -> None:
        JetStreamContext.PullSubscription.fetch = self._original


def cpu_share(before_cpu: float, before_wall: float) -> float:
    """This process's CPU time since `before_cpu`, in percent of one core over the wall time since `before_wall`."""
    return round(100 * (time.process_time() - before_cpu) / (time.perf_counter() - before_wall), 1)


def latency_summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"n": 0}
    ordered = sorted(latencies)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"n": len(ordered), "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


async def trickle(nc, subject: str, count: int, spacing: tuple[float, float], sent: dict[int, float]) -> None:
    """`count` single messages on `subject`, each after a random pause (so they land anywhere in a
    batch window); `sent` gets each one's publish time."""
    for i in range(count):
        await asyncio.sleep(random.uniform(*spacing))
        sent[i] = time.perf_counter()
        await nc.publish(subject, str(i).encode())
        await nc.flush()


async def faststream_windows(url: str, nc, js, timeout: float, count: int, spacing: tuple[float, float], *,
                             idle: float, label: str) -> dict:
    """A FastStream batch subscriber, `PullSub(500, timeout, batch=True)` with manual acks, on a subject
    of its own: the client's CPU while nothing comes (for `idle` seconds), then `count` single messages
    `spacing` apart: their latency from publish to handler, and what each fetch of the loop did."""
    key = f"{label}.{timeout * 1000:g}".replace(".", "-")
    subject, durable = f"quiet.{key.replace('-', '.')}", f"quiet-{key}"
    broker = NatsBroker(url, logger=None)
    sent: dict[int, float] = {}
    arrived: dict[int, tuple[float, int, int]] = {}  # message → (first time in a handler, delivery count, stream seq)
    everything = asyncio.Event()
    outcomes = FetchOutcomes()

    @broker.subscriber(subject, stream=JStream("QUIET", declare=False), durable=durable,
                       config=consumer_config(durable, subject, ack_wait=ACK_WAIT),
                       pull_sub=PullSub(batch_size=BATCH, timeout=timeout, batch=True), ack_policy=AckPolicy.MANUAL,
                       decoder=raw_batch)
    async def handle(msgs: NoCast[list]) -> None:
        now = time.perf_counter()
        outcomes.handed(msg.metadata.sequence.stream for msg in msgs)
        for msg in msgs:
            arrived.setdefault(int(msg.data), (now, msg.metadata.num_delivered, msg.metadata.sequence.stream))
            await msg.ack()
        if len(arrived) >= count:
            everything.set()

    with outcomes:
        await broker.start()
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.sleep(idle)
            idle_cpu = cpu_share(cpu, wall) if idle else None
            began = time.perf_counter()
            await trickle(nc, subject, count, spacing, sent)
            active = time.perf_counter() - began
            try:  # a message dropped by the loop comes back after the ack wait
                await asyncio.wait_for(everything.wait(), timeout=timeout + ACK_WAIT + 2.0)
            except TimeoutError:
                pass
        finally:
            await broker.stop()
            await js.delete_consumer("QUIET", durable)
    redelivered = sorted(i for i, (_, deliveries, _) in arrived.items() if deliveries > 1)
    dropped_back = sorted(i for i, (_, deliveries, seq) in arrived.items() if seq in outcomes.dropped and deliveries > 1)
    return {"timeout_s": timeout, "idle_cpu_percent": idle_cpu,
            "latency": latency_summary([arrived[i][0] - sent[i] for i in arrived]), "sent": count, "arrived": len(arrived),
            "fetch_outcomes": outcomes.counts, "seconds_of_messages": round(active, 2),
            "windows_of_messages_about": round(active / timeout), "builtin_timeout_escapes": len(outcomes.escapes),
            "escapes_with_messages_in_hand": sum(1 for n in outcomes.escapes if n), "messages_dropped": len(outcomes.dropped),
            "dropped_came_back_redelivered": len(dropped_back),
            "first_seen_on_redelivery": len(redelivered),
            "redelivered_latency_ms": [round((arrived[i][0] - sent[i]) * 1000) for i in redelivered]}


async def runtime_quiet(nc, js, idle: float) -> dict:
    """The runtime's fetch (consumer.py): wait for the first message, then take what is already
    there within 5 ms — on the same kind of quiet subject, with the same single messages."""
    subject, durable = "quiet.runtime", "quiet-runtime"
    sub = await js.pull_subscribe(subject, durable=durable, stream="QUIET", config=consumer_config(durable, subject))
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    count = 30
    stop = asyncio.Event()

    async def consume():
        while not stop.is_set():
            try:
                msgs = await sub.fetch(1, timeout=2.0)
            except TimeoutError:  # nats-py's and the built-in one alike
                continue
            try:
                msgs += await sub.fetch(BATCH - 1, timeout=0.005)
            except TimeoutError:
                pass
            now = time.perf_counter()
            for msg in msgs:
                arrived.setdefault(int(msg.data), now)
                await msg.ack()

    task = asyncio.ensure_future(consume())
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(idle)
        idle_cpu = cpu_share(cpu, wall)
        await trickle(nc, subject, count, (0.02, 0.3), sent)
        deadline = time.monotonic() + 5
        while len(arrived) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sub.unsubscribe()
        await js.delete_consumer("QUIET", durable)
    return {"idle_cpu_percent": idle_cpu, "latency": latency_summary([arrived[i] - sent[i] for i in arrived]),
            "sent": count, "arrived": len(arrived)}


async def natspy_idle_fetches(js, timeout: float, calls: int) -> dict[str, int]:
    """What nats-py's fetch(500, timeout) returns or raises on a consumer with nothing to deliver."""
    key = f"{timeout * 1000:g}".replace(".", "-")
    durable, subject = f"idle-{key}", f"idle.{key.replace('-', '.')}"
    sub = await js.pull_subscribe(subject, durable=durable, stream="QUIET", config=consumer_config(durable, subject))
    outcomes = FetchOutcomes()
    for _ in range(calls):
        try:
            result = await sub.fetch(BATCH, timeout=timeout)
        except (TimeoutError, nats.errors.Error) as error:
            outcomes.count(outcomes.outcome(error=error))
        else:
            outcomes.count(outcomes.outcome(result))
    await sub.unsubscribe()
    await js.delete_consumer("QUIET", durable)
    return {"calls": calls, **outcomes.counts}


async def quiet_streams(url: str, nc, js, console: Console) -> dict:
    await js.add_stream(StreamConfig(name="QUIET", subjects=["quiet.>", "idle.>"]))
    out = {"runtime_fetch": await runtime_quiet(nc, js, idle=1.5), "latency": [], "busy_windows": [], "natspy_idle_fetch": {}}
    console.print(f"  runtime's fetch: {out['runtime_fetch']['latency']}")
    for timeout in LATENCY_TIMEOUTS:  # 3. one message at a time, most windows holding one
        count = 30 if timeout <= 0.2 else 8
        result = await faststream_windows(url, nc, js, timeout, count, (0.3 * timeout, 1.7 * timeout + 0.02),
                                          idle=1.5, label="single")
        out["latency"].append(result)
        console.print(f"  PullSub timeout {timeout:g} s, single messages: {result['latency']}, "
                      f"built-in TimeoutError escapes {result['builtin_timeout_escapes']}, fetches {result['fetch_outcomes']}")
    for timeout in BUSY_TIMEOUTS:  # 4. a message every third of a window: each window ends with messages in hand
        count = int(BUSY_SECONDS / (timeout / 3))
        result = await faststream_windows(url, nc, js, timeout, count, (0.1 * timeout / 3, 1.9 * timeout / 3),
                                          idle=0, label="busy")
        out["busy_windows"].append(result)
        console.print(f"  PullSub timeout {timeout:g} s, {count} messages over ~{BUSY_SECONDS} s: built-in TimeoutError "
                      f"escapes {result['builtin_timeout_escapes']} ({result['escapes_with_messages_in_hand']} with "
                      f"messages in hand, {result['messages_dropped']} dropped, {result['dropped_came_back_redelivered']} "
                      f"came back redelivered), fetches {result['fetch_outcomes']}")
    for timeout in LATENCY_TIMEOUTS:
        calls = max(4, min(300, round(IDLE_PROBE_SECONDS / timeout)))
        out["natspy_idle_fetch"][str(timeout)] = await natspy_idle_fetches(js, timeout, calls)
    console.print(f"  nats-py fetch(500) on an idle consumer: {out['natspy_idle_fetch']}")
    return out


async def run(url: str, count: int, repeat: int, console: Console) -> dict:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await fill(nc, js, count)
        console.print(f"{count:,} messages in CONSUME; 1. consuming")
        results = {"consuming": await consuming(url, js, count, repeat, console)}
        console.print("2. publishing")
        results["publishing"] = await publishing(url, nc, js, count, repeat, console)
        console.print("3 and 4. one message on a quiet stream")
        results["quiet"] = await quiet_streams(url, nc, js, console)
        return results
    finally:
        await nc.close()


def versions(server: NatsServer) -> dict:
    return {"python": platform.python_version(), "faststream": version("faststream"), "nats-py": version("nats-py"),
            "nats-server": server.varz().get("version"), "machine": platform.node(), "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def report(results: dict, console: Console) -> None:
    table = Table(title=f"1. consuming {results['messages']:,} messages (medians of {results['repeat']} rounds)")
    for column in ("variant", "msg/s per round", "median msg/s", "ratio to nats-py (same round): median, range",
                   "client CPU µs/msg (median)"):
        table.add_column(column)
    labels = {"natspy": "nats-py fetch(500) + ack", "faststream": "FastStream batch PullSub, as written by a user",
              "faststream_lean": "FastStream batch PullSub, logger=None, raw decoder, NoCast"}
    for variant, f in results["consuming"].items():
        table.add_row(labels[variant], ", ".join(f"{r:,}" for r in f["per_second"]), f"{f['median_per_second']:,}",
                      f"{f['ratio_to_baseline']:.0%} ({f['ratio_range'][0]:.0%}–{f['ratio_range'][1]:.0%})",
                      str(f["median_cpu_us_per_message"]))
    console.print(table)

    table = Table(title=f"2. publishing {results['messages']:,} messages with a Nats-Msg-Id (a quarter as many one at a time), "
                        "each acked by the stream")
    for column in ("variant", "msg/s per round", "median msg/s", "ratio to nats-py pipelined: median, range",
                   "ratio to relay publisher", "client CPU µs/msg (median)"):
        table.add_column(column)
    labels = {"natspy_pipelined": f"nats-py js.publish, {WINDOW} in flight (gather)",
              "relay_publisher": f"runtime AckedPublisher, batches of {WINDOW}, 3 in flight",
              "faststream_one_by_one": "FastStream publisher, each ack awaited",
              "natspy_one_by_one": "nats-py js.publish, each ack awaited",
              "faststream_gathered": f"FastStream publisher, {WINDOW} in flight (gather)"}
    for variant, f in results["publishing"].items():
        table.add_row(labels[variant], ", ".join(f"{r:,}" for r in f["per_second"]), f"{f['median_per_second']:,}",
                      f"{f['ratio_to_baseline']:.1%} ({f['ratio_range'][0]:.0%}–{f['ratio_range'][1]:.0%})",
                      f"{f['ratio_to_relay_publisher']:.1%}", str(f["median_cpu_us_per_message"]))
    console.print(table)

    quiet = results["quiet"]
    table = Table(title="3. single messages on a quiet subject: PullSub(500, timeout, batch=True) vs the runtime's fetch")
    for column in ("consumer", "idle CPU % of a core", "arrived", "p50 ms", "p99 ms", "max ms", "first seen on redelivery"):
        table.add_column(column)
    r = quiet["runtime_fetch"]
    table.add_row("runtime: fetch(1, 2 s) then fetch(499, 5 ms)", str(r["idle_cpu_percent"]), f"{r['arrived']}/{r['sent']}",
                  str(r["latency"]["p50_ms"]), str(r["latency"]["p99_ms"]), str(r["latency"]["max_ms"]), "")
    for f in quiet["latency"]:
        lat = f["latency"]
        table.add_row(f"FastStream timeout={f['timeout_s']:g} s", str(f["idle_cpu_percent"]), f"{f['arrived']}/{f['sent']}",
                      str(lat.get("p50_ms")), str(lat.get("p99_ms")), str(lat.get("max_ms")), str(f["first_seen_on_redelivery"]))
    console.print(table)

    table = Table(title="4. what FastStream's batch fetch loop met: built-in TimeoutErrors that escaped it, and what they dropped")
    for column in ("run", "fetches: outcome count", "windows (about)", "built-in escapes", "… with messages in hand",
                   "messages dropped", "… back on redelivery", "their latency ms"):
        table.add_column(column)
    for kind, runs in (("single messages", quiet["latency"]), ("a message every t/3", quiet["busy_windows"])):
        for f in runs:
            table.add_row(f"timeout={f['timeout_s']:g} s, {kind} ({f['sent']})",
                          ", ".join(f"{k} {v}" for k, v in f["fetch_outcomes"].items()), str(f["windows_of_messages_about"]),
                          str(f["builtin_timeout_escapes"]),
                          str(f["escapes_with_messages_in_hand"]), str(f["messages_dropped"]),
                          str(f["dropped_came_back_redelivered"]), ", ".join(map(str, f["redelivered_latency_ms"][:6])))
    console.print(table)
    table = Table(title="4. nats-py fetch(500, timeout) on a consumer with nothing to deliver")
    table.add_column("timeout s")
    table.add_column("outcomes")
    for timeout, counts in quiet["natspy_idle_fetch"].items():
        table.add_row(timeout, ", ".join(f"{k} {v}" for k, v in counts.items()))
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="messages consumed and published per variant and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of measurements 1 and 2 (medians are reported)")
    args = parser.parse_args()
    console = Console(width=180)
    # A SIGTERM must also reach the `finally` below, so that the server does not outlive the script.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(name="bench", store_dir=Path(tmp) / "nats")
        try:
            server.start()
            started = time.perf_counter()
            results = {"date": datetime.now(UTC).isoformat(timespec="seconds"), **versions(server),
                       "messages": args.messages, "repeat": args.repeat}
            console.print(f"nats-server {results['nats-server']} on {server.url}; faststream {results['faststream']}, "
                          f"nats-py {results['nats-py']}, Python {results['python']}")
            results.update(asyncio.run(run(server.url, args.messages, args.repeat, console)))
            results["seconds"] = round(time.perf_counter() - started, 1)
        finally:
            server.stop()
    report(results, console)
    save("faststream-vs-natspy", results)


if __name__ == "__main__":
    main()
