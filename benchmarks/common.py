"""What the benchmarks share: the raw consume baseline and where results are written."""

from __future__ import annotations

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


def save(kind: str, results: dict) -> None:
    """Write a run's figures to benchmarks/results/<kind>-<date>.json and say where."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{kind}-{results['date'][:19].replace(':', '')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
