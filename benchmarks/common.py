"""What the benchmarks share: the raw consume baseline and where results are written."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


async def raw_consume(js, stream: str, count: int, *, subject: str = "") -> float:
    """Seconds to fetch(500) and ack `count` messages of `stream` from its start with nats-py alone,
    on a durable consumer of its own (removed after)."""
    durable = f"raw-{stream.lower()}"
    sub = await js.pull_subscribe(subject, durable=durable, stream=stream)
    start, seen = time.perf_counter(), 0
    while seen < count:
        msgs = await sub.fetch(500, timeout=10)
        for msg in msgs:
            await msg.ack()
        seen += len(msgs)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    await js.delete_consumer(stream, durable)
    return elapsed


async def write_events(nc, js, emitter, events, console, *, report_every: int = 100_000) -> dict[str, int]:
    """Publish (event, target) pairs as the node itself would (its emitter signs and seals), then
    wait until LOCAL and IN hold them all (IN sources OUT asynchronously); returns how many each got."""
    sent = {"LOCAL": 0, "IN": 0}
    for n, (event, target) in enumerate(events, 1):
        subject, envelope = emitter.envelope(event, target=target)
        await nc.publish(subject, envelope.encode(), headers={"Nats-Msg-Id": str(envelope.event_id)})
        sent["LOCAL" if subject.startswith("node.") else "IN"] += 1
        if n % report_every == 0:
            await nc.flush(timeout=120)
            console.print(f"  {n:,} events written")
    await nc.flush(timeout=120)
    for stream, expected in sent.items():
        while (await js.stream_info(stream)).state.messages < expected:
            await asyncio.sleep(0.2)
    return sent


def save(kind: str, results: dict) -> None:
    """Write a run's figures to benchmarks/results/<kind>-<date>.json and say where."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{kind}-{results['date'][:19].replace(':', '')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
