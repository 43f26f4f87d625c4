"""Throughput of the runtime's delivery pipeline against raw nats-py, in the same run.

    .venv/bin/python benchmarks/pipeline.py [--events 200000] [--postgres-url URL]

Measures, on a nats-server started for the run (loopback, JetStream domain 'bench'):
- raw publish: nats-py fire-and-forget into the LOCAL stream (the relay's ceiling);
- relay: the outbox relay publishing the same number of committed outbox rows, with acks;
- raw consume: nats-py pull fetch(500) + ack of the same messages (the consumer's ceiling);
- consumer: the runtime's consumer on a service (decode, validate, inbox, effect, commit, ack).
Each baseline is measured just before and just after the figure it bounds, and the ratio is
against their mean: the machines are shared, and their speed drifts within a run. Results go to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nats
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, Integer, MetaData, String, Table as SqlTable, delete, func, insert, select, text

from corridor_contracts import Envelope, events, subjects
from corridor_contracts.types import CEFRLevel
from corridor_contracts.values import Availability, Consents, LanguageSkill, VolunteerPlace
from corridor_runtime.consumer import Subscription
from corridor_runtime.entrypoint import tune_collector
from corridor_runtime.nats_server import NatsServer
from corridor_runtime.outbox import OutboxRelay
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision

from common import raw_consume, save

NODE = "bench"


def sample_event() -> events.VolunteerUpdated:
    from datetime import date
    from uuid import uuid4

    profile = events.volunteers.VolunteerProfile(
        given_name="Amina", family_name="Haddad", email="amina@example.org", country_of_origin="SY",
        preferred_language="fr", place=VolunteerPlace(country="FR", city="Lyon"),
        languages=[LanguageSkill(language="fr", level=CEFRLevel.B2), LanguageSkill(language="ar", level=CEFRLevel.C2)],
        skills=["care.elderly-care", "hospitality.food-service"], availability=Availability(hours_per_week=10, available_from=date(2027, 1, 1)),
        consents=Consents(),
    )
    return events.VolunteerUpdated(volunteer_id=uuid4(), profile=profile)


async def raw_publish(js, nc, payloads: list[bytes]) -> float:
    subject = subjects.local(NODE, "VolunteerUpdated")
    start = time.perf_counter()
    for data in payloads:
        await nc.publish(subject, data)
    await nc.flush(timeout=120)
    # Fire-and-forget has no ack: under this load the server may drop some (seen: 2,637 of 200,000
    # on PostgreSQL's run). The rate is of what the stream stored, timed until it stopped growing.
    stored, last_growth = 0, time.perf_counter()
    while stored < len(payloads) and time.perf_counter() - last_growth < 1.0:
        now_stored = (await js.stream_info("LOCAL")).state.messages
        if now_stored > stored:
            stored, last_growth = now_stored, time.perf_counter()
        await asyncio.sleep(0.01)
    return stored / (last_growth - start)


async def run(events_count: int, database_url: str, root: Path, batched: bool = True) -> dict:
    server = NatsServer(name=NODE, store_dir=root / "nats", domain=NODE).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=30)
        await provision(js, NODE, peers=[])
        payloads = [Envelope.wrap(sample_event(), origin=NODE).encode() for _ in range(events_count)]

        metadata = MetaData()
        effects = SqlTable("bench_effects", metadata, Column("id", Integer, primary_key=True), Column("event_id", String(36)))

        async def apply(uow, incoming):
            await uow.session.execute(insert(effects).values(event_id=str(incoming.envelope.event_id)))

        async def apply_all(uow, incomings):  # the batch handler: one executemany per run of events
            await uow.session.execute(insert(effects), [{"event_id": str(i.envelope.event_id)} for i in incomings])

        settings = NodeSettings(node_id=NODE, service="bench", nats_url=server.url, database_url=database_url,
                                data_dir=root, batch_size=500)
        host = ServiceHost(settings, metadata=metadata, versioned_schema=False,
                           subscriptions=[Subscription("bench-local", "LOCAL", {"VolunteerUpdated": apply},
                                                       batch_handlers={"VolunteerUpdated": apply_all} if batched else {})])
        await host.db.create_tables(metadata)
        tune_collector()  # as a service's process does once it is built (entrypoint.run_service)
        async with host.db.transaction() as conn:  # a database given by URL may hold an earlier run's rows
            if host.db.is_sqlite:
                for table in (effects, host.tables.outbox, host.tables.inbox):
                    await conn.execute(delete(table))
            else:  # TRUNCATE, not DELETE: a server without autovacuum kept every earlier run's dead rows
                await conn.execute(text(f"TRUNCATE {effects.name}, {host.tables.outbox.name}, {host.tables.inbox.name}"))
        async with host.unit_of_work() as uow:  # the relay's backlog: the same events as committed outbox rows
            for event in (sample_event() for _ in range(events_count)):
                uow.emit(event)

        figures = {"raw_publish_before": await raw_publish(js, nc, payloads)}
        await js.purge_stream("LOCAL")
        relay = OutboxRelay(host.db, host.tables, nc, batch_size=1000)
        start = time.perf_counter()
        await relay.publish_pending()
        figures["relay"] = events_count / (time.perf_counter() - start)
        assert (await js.stream_info("LOCAL")).state.messages == events_count

        # The consumers read the backlog the relay just published (LOCAL keeps it for each of them).
        figures["raw_consume_before"] = events_count / await raw_consume(js, "LOCAL", events_count)
        await host.start()
        start = time.perf_counter()
        # The consumer's own count of committed events: counting the effects' rows every 50 ms cost
        # PostgreSQL a scan each time, which grew with the table (200,000 events: 4% instead of 29%).
        while host.consumers[0].counters.processed < events_count:
            await asyncio.sleep(0.01)
        figures["consumer"] = events_count / (time.perf_counter() - start)
        await host.stop()
        async with host.db.reading() as conn:
            applied = (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
        assert applied == events_count, f"{applied} effects for {events_count} events"
        figures["raw_consume_after"] = events_count / await raw_consume(js, "LOCAL", events_count)

        await js.purge_stream("LOCAL")
        figures["raw_publish_after"] = await raw_publish(js, nc, payloads)
        figures["raw_publish"] = (figures["raw_publish_before"] + figures["raw_publish_after"]) / 2
        figures["raw_consume"] = (figures["raw_consume_before"] + figures["raw_consume_after"]) / 2
        await nc.close()
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--postgres-url", help="also measure on PostgreSQL (a database that may be written to)")
    parser.add_argument("--skip-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="the effect as a one-event handler only (no batch handler): what batching buys")
    args = parser.parse_args()

    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
               "cpus": __import__("os").cpu_count(), "events": args.events, "runs": {}}
    targets = {"sqlite": None, "postgresql": args.postgres_url}
    if args.skip_sqlite:
        del targets["sqlite"]
    for name, url in targets.items():
        if name == "postgresql" and not url:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            url = url or f"sqlite+aiosqlite:///{tmp}/bench.sqlite"
            results["runs"][name] = asyncio.run(run(args.events, url, Path(tmp), batched=not args.one_at_a_time))

    table = Table(title=f"delivery pipeline, {args.events} events, {results['date']}")
    for column in ("database", "figure", "events/s", "baseline", "baseline events/s (before / after)", "ratio", "goal"):
        table.add_column(column)
    goals = {"sqlite": "50%", "postgresql": "25%"}
    for name, f in results["runs"].items():
        table.add_row(name, "relay (outbox → JetStream, acked)", f"{f['relay']:,.0f}", "raw fire-and-forget publish",
                      f"{f['raw_publish_before']:,.0f} / {f['raw_publish_after']:,.0f}",
                      f"{f['relay'] / f['raw_publish']:.0%}", "25%")
        table.add_row(name, "consumer (decode, inbox, effect, commit, ack)", f"{f['consumer']:,.0f}", "raw fetch(500) + ack",
                      f"{f['raw_consume_before']:,.0f} / {f['raw_consume_after']:,.0f}",
                      f"{f['consumer'] / f['raw_consume']:.0%}", goals[name] if not args.one_at_a_time else "")
    Console(width=200).print(table)
    save("pipeline", results)


if __name__ == "__main__":
    main()
