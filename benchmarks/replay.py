"""Replay: rebuilding the reporting projections from a node's streams, against raw fetch + ack.

    .venv/bin/python benchmarks/replay.py [--events 1000000] [--postgres-url URL]

On a nats-server started for the run (loopback, JetStream domain 'bench'), the node's streams are
filled with placement journeys as they would be after months of work: per journey her
registration, an update and the proposal on LOCAL; the host's confirmation, start and two hours
entries addressed to the node (sealed, signed, through OUT into IN); an opportunity broadcast
every ten journeys. Then, in the same run:
- baseline: nats-py pull fetch(500) + ack of every event of LOCAL and IN, nothing else;
- replay: `corridor-reporting rebuild` in its own process (decode, verify, open, project, inbox,
  commit, ack), timed from start to exit; its peak RSS is the kernel's (wait4's ru_maxrss).
The projections are checked against what was sent (one volunteer and one placement per journey),
so the figure is of a replay that really happened. Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import nats
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from corridor_contracts import PartnerNode, Registry, Sealer, Signer, events, new_node_seed
from corridor_contracts.types import CEFRLevel, OrganisationKind, Sector, SkillLevel
from corridor_contracts.values import (Availability, Consents, HostSummary, LanguageSkill, MatchSummary, OpportunityPlace,
                                       SkillRequirement, VolunteerPlace)
from corridor_runtime.database import Database
from corridor_runtime.nats_server import NatsServer
from corridor_runtime.registry_file import save_registry
from corridor_runtime.streams import provision
from corridor_runtime.unit_of_work import Emitter

from common import raw_consume, save, write_events

NODE = "bench"
EVENTS_PER_JOURNEY = 7.1  # 3 local + 4 addressed + a tenth of a broadcast


def journeys(count: int):
    """The events of `count` journeys, as (event, target) in the order a node would see them."""
    now = datetime.now(timezone.utc)
    profile = events.volunteers.VolunteerProfile(
        given_name="Amina", family_name="Haddad", email="amina@example.org", country_of_origin="SY",
        preferred_language="fr", place=VolunteerPlace(country="FR", city="Lyon"),
        languages=[LanguageSkill(language="fr", level=CEFRLevel.B2), LanguageSkill(language="ar", level=CEFRLevel.C2)],
        skills=["care.elderly-care"], availability=Availability(hours_per_week=10, available_from=date(2027, 1, 1)),
        consents=Consents(processing=now, share_match_profile=now, disclose_contact=now))
    host = HostSummary(organisation_id=uuid4(), organisation_name="Fundación Abrazo", kind=OrganisationKind.NGO,
                       sector=Sector.CARE, country="ES")
    match = MatchSummary(score=0.8, reasons=[], languages=[], skills=["care.elderly-care"])
    opportunity = None
    for j in range(count):
        if j % 10 == 0:
            opportunity = uuid4()
            yield events.OpportunityPublished(
                opportunity_id=opportunity, host=host, title="Companion for elderly residents", description="Afternoons.",
                required_skills=[SkillRequirement(code="care.elderly-care", level=SkillLevel.BASIC)],
                languages=[LanguageSkill(language="es", level=CEFRLevel.B1)], place=OpportunityPlace(country="ES", city="Sevilla"),
                hours_per_week=10, starts_on=date(2027, 1, 11), ends_on=date(2027, 6, 30),
                application_deadline=date(2026, 12, 20), slots_total=10, slots_free=10), None
        volunteer, placement = uuid4(), uuid4()
        yield events.VolunteerRegistered(volunteer_id=volunteer, registered_at=now, profile=profile), None
        yield events.VolunteerUpdated(volunteer_id=volunteer, profile=profile), None
        yield events.PlacementProposed(proposal_id=placement, volunteer_id=volunteer, opportunity_id=opportunity,
                                       host_node=NODE, match=match, expires_at=now + timedelta(days=7)), None
        yield events.PlacementConfirmed(placement_id=placement, opportunity_id=opportunity, slots_free=5), NODE
        yield events.PlacementStarted(placement_id=placement, started_on=date(2027, 1, 11)), NODE
        for day in (12, 13):
            yield events.HoursLogged(placement_id=placement, entry_id=uuid4(), worked_on=date(2027, 1, day),
                                     hours=Decimal("3.5")), NODE


def rebuild(env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of `corridor-reporting rebuild` in its own process."""
    command = [str(Path(sys.executable).with_name("corridor-reporting")), "rebuild"]
    if env.get("BENCH_PY_SPY"):  # where the time goes: py-spy's raw profile of the rebuild
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "-r", "200", "-f", "raw", "--threads", "--idle",
                   "-o", env["BENCH_PY_SPY"], "--", *command]
    start = time.perf_counter()
    shown = None if env.get("BENCH_SHOW") else subprocess.DEVNULL  # BENCH_SHOW=1: the service's own output
    process = subprocess.Popen(command, env=env, stdout=shown, stderr=subprocess.PIPE if shown else None)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"rebuild failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024


async def run(journey_count: int, database_url: str, root: Path, console: Console) -> dict:
    seed = new_node_seed()
    registry = Registry(nodes=[PartnerNode.of_seed(seed, id=NODE, name="Bench", country="FR")])
    save_registry(registry, root / "registry.json")
    server = NatsServer(name=NODE, store_dir=root / "nats", domain=NODE).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=60)
        await provision(js, NODE, peers=[])
        emitter = Emitter(NODE, Signer(seed), Sealer(NODE, seed, registry.sealing_keys()), registry)
        console.print(f"writing {journey_count:,} journeys")
        sent = await write_events(nc, js, emitter, journeys(journey_count), console, report_every=50_000)
        total = sum(sent.values())

        raw = sum([await raw_consume(js, stream, count) for stream, count in sent.items()])
        env = {**os.environ, "CORRIDOR_NODE_ID": NODE, "CORRIDOR_NATS_URL": server.url, "CORRIDOR_DATABASE_URL": database_url,
               "CORRIDOR_REGISTRY_FILE": str(root / "registry.json"), "CORRIDOR_SIGNING_SEED": seed.decode(),
               "CORRIDOR_DATA_DIR": str(root), "CORRIDOR_LOG_LEVEL": "WARNING"}
        console.print(f"replaying {total:,} events")
        seconds, peak_rss = rebuild(env)
        raw_after = sum([await raw_consume(js, stream, count) for stream, count in sent.items()])
        await nc.close()
    finally:
        server.stop()

    from corridor_reporting.tables import placements, volunteers
    db = Database(database_url)
    try:
        async with db.reading() as conn:
            projected = {name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
                         for name, t in (("volunteers", volunteers), ("placements", placements))}
            started = (await conn.execute(select(func.count()).select_from(placements)
                                          .where(placements.c.status == "started", placements.c.hours == 7))).scalar_one()
    finally:
        await db.dispose()
    if projected != {"volunteers": journey_count, "placements": journey_count} or started != journey_count:
        raise SystemExit(f"the projections do not hold what was sent: {projected}, {started} started with 7 hours")
    return {"events": total, "by_stream": sent, "replay_seconds": seconds, "replay": total / seconds,
            "raw_seconds_before": raw, "raw_seconds_after": raw_after, "raw": 2 * total / (raw + raw_after),
            "peak_rss_bytes": peak_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="about this many events (whole journeys)")
    parser.add_argument("--postgres-url", help="replay into PostgreSQL (a database that may be written to) instead of SQLite")
    args = parser.parse_args()
    console = Console(width=160)
    journey_count = max(1, round(args.events / EVENTS_PER_JOURNEY))
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
               "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres_url or f"sqlite+aiosqlite:///{tmp}/reporting.sqlite"
        results["database"] = "postgresql" if args.postgres_url else "sqlite"
        results.update(asyncio.run(run(journey_count, url, Path(tmp), console)))

    table = Table(title=f"replay of the reporting projections, {results['events']:,} events, {results['date']}")
    for column in ("database", "figure", "value", "baseline", "baseline value", "ratio", "goal"):
        table.add_column(column)
    table.add_row(results["database"], "replay (rebuild), events/s", f"{results['replay']:,.0f}",
                  "raw fetch(500) + ack, mean of before/after", f"{results['raw']:,.0f}",
                  f"{results['replay'] / results['raw']:.0%}", "")
    table.add_row(results["database"], "reporting's peak RSS", f"{results['peak_rss_bytes'] / 2**20:,.0f} MB",
                  "", "", "", "< 150 MB")
    console.print(table)
    save("replay", results)


if __name__ == "__main__":
    main()
