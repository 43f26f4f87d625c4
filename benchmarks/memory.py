"""Memory: each service's peak RSS after processing a long history of events.

    .venv/bin/python benchmarks/memory.py [--events 1000000]

One node (its own nats-server, JetStream domain 'bench') whose streams hold months of work on a
bounded population, as a node would see it: 2,000 volunteers registered and 1,000 opportunities
published, then their updates, alternately, up to `--events` (VolunteerUpdated on LOCAL; signed
OpportunityUpdated broadcasts through OUT into IN). Every service consumes these types: profiles
(the corridor's opportunities), matching (read models; a round after each batch), notifications
(its directory) and reporting (projections). The opportunities ask for a language none of the
volunteers speaks, so rounds find no proposal and nothing else is sent.

The four services then start as their own processes (as `corridor node` runs them), consume the
backlog, and are asked for their status until every consumer has caught up. Each one's peak RSS
is the kernel's (VmHWM in /proc/<pid>/status), beside its RSS once started and idle (before the
first event). Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from uuid import uuid4

import nats
from rich.console import Console
from rich.table import Table

from corridor_contracts import PartnerNode, Registry, Signer, events
from corridor_contracts.types import CEFRLevel, OrganisationKind, Sector, SkillLevel
from corridor_contracts.values import (Availability, Consents, HostSummary, LanguageSkill, OpportunityPlace, SkillRequirement,
                                       VolunteerPlace)
from corridor_runtime.nats_server import NatsServer
from corridor_runtime.node import SERVICES, NodeLayout, RunningNode, ensure_keys
from corridor_runtime.registry_file import save_registry
from corridor_runtime.streams import provision
from corridor_runtime.unit_of_work import Emitter

from common import save, write_events

NODE = "bench"
VOLUNTEERS, OPPORTUNITIES = 2_000, 1_000
GOAL_MB = 150


def history(count: int):
    """`count` events: the population first, then its updates, alternately."""
    now = datetime.now(timezone.utc)
    volunteer_ids, opportunity_ids = [uuid4() for _ in range(VOLUNTEERS)], [uuid4() for _ in range(OPPORTUNITIES)]
    host = HostSummary(organisation_id=uuid4(), organisation_name="Maison des aînés", kind=OrganisationKind.NGO,
                       sector=Sector.CARE, country="FR")

    def profile(n: int):
        return events.volunteers.VolunteerProfile(
            given_name="Amina", family_name=f"Haddad{n}", email=f"amina{n}@example.org", country_of_origin="SY",
            preferred_language="fr", place=VolunteerPlace(country="FR", city="Lyon"),
            languages=[LanguageSkill(language="fr", level=CEFRLevel.B2), LanguageSkill(language="ar", level=CEFRLevel.C2)],
            skills=["care.elderly-care"], availability=Availability(hours_per_week=10 + n % 20, available_from=date(2027, 1, 1)),
            consents=Consents(processing=now, share_match_profile=now, disclose_contact=now))

    def opportunity(kind, n: int):
        return kind(opportunity_id=opportunity_ids[n % OPPORTUNITIES], host=host, title=f"Role {n}", description="Afternoons.",
                    required_skills=[SkillRequirement(code="care.elderly-care", level=SkillLevel.BASIC)],
                    languages=[LanguageSkill(language="de", level=CEFRLevel.C2)],  # nobody speaks it: no proposals
                    place=OpportunityPlace(country="FR", city="Lyon"), hours_per_week=6, starts_on=date(2027, 1, 11),
                    ends_on=date(2027, 6, 30), application_deadline=date(2026, 12, 20), slots_total=2, slots_free=2)

    for n in range(count):
        if n < VOLUNTEERS:
            yield events.VolunteerRegistered(volunteer_id=volunteer_ids[n], registered_at=now, profile=profile(n))
        elif n < VOLUNTEERS + OPPORTUNITIES:
            yield opportunity(events.OpportunityPublished, n)
        elif n % 2:
            yield events.VolunteerUpdated(volunteer_id=volunteer_ids[n % VOLUNTEERS], profile=profile(n))
        else:
            yield opportunity(events.OpportunityUpdated, n)


def rss_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


async def caught_up(node: RunningNode) -> dict[str, dict]:
    """Every service's status once all its consumers have processed all the server holds for them."""
    answers = await node.health(timeout=30)
    for service, answer in answers.items():
        if "error" in answer:
            raise SystemExit(f"{service} is down: {answer['error']}")
        if any(c.get("pending") is None or c["pending"] or c["ack_pending"] for c in answer["consumers"]):
            return {}
    return answers


async def run(count: int, root: Path, console: Console) -> dict:
    layout = NodeLayout(root, NODE)
    seed = ensure_keys(layout)
    save_registry(Registry(nodes=[PartnerNode.of_seed(seed, id=NODE, name="Bench", country="FR")]), layout.registry_file)
    server = NatsServer(name=NODE, store_dir=layout.root / "nats", domain=NODE).start()
    node = RunningNode(layout, server, extra_env={"CORRIDOR_LOG_LEVEL": "WARNING"})
    try:
        nc = await nats.connect(server.url)
        await provision(nc.jetstream(timeout=30), NODE, peers=[])
        await nc.close()
        node.start_services()
        await node.health(timeout=90)
        idle = {s: rss_kb(p.pid)["VmRSS"] for s, p in node.processes.items()}
        for process in node.processes.values():  # paused while the streams fill: the backlog is what they consume
            os.kill(process.pid, signal.SIGSTOP)
        console.print(f"writing {count:,} events")
        start = time.perf_counter()
        nc = await nats.connect(server.url)
        try:
            sent = await write_events(nc, nc.jetstream(timeout=60), Emitter(NODE, Signer(seed)),
                                      ((event, None) for event in history(count)), console)
        finally:
            await nc.close()
        console.print(f"  written in {time.perf_counter() - start:.0f} s: {sent}; consuming")
        for process in node.processes.values():
            os.kill(process.pid, signal.SIGCONT)
        start = time.perf_counter()
        while not (answers := await caught_up(node)):
            await asyncio.sleep(2)
        seconds = time.perf_counter() - start
        services = {}
        for service, process in node.processes.items():
            memory = rss_kb(process.pid)
            services[service] = {"idle_rss_mb": idle[service] / 1024, "peak_rss_mb": memory["VmHWM"] / 1024,
                                 "rss_mb": memory["VmRSS"] / 1024,
                                 "processed": sum(c["processed"] for c in answers[service]["consumers"]),
                                 "dead_lettered": sum(c["dead_lettered"] for c in answers[service]["consumers"])}
        return {"events": sum(sent.values()), "by_stream": sent, "consume_seconds": seconds, "services": services}
    finally:
        node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.events < VOLUNTEERS + OPPORTUNITIES:
        raise SystemExit(f"--events must be at least {VOLUNTEERS + OPPORTUNITIES} (the population)")
    console = Console(width=160)
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
               "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        results.update(asyncio.run(run(args.events, Path(tmp), console)))
    table = Table(title=f"peak RSS after {results['events']:,} events ({results['consume_seconds']:.0f} s), {results['date']}")
    for column in ("service", "events processed", "dead-lettered", "RSS idle", "RSS at the end", "peak RSS", "goal"):
        table.add_column(column)
    for service in SERVICES:
        f = results["services"][service]
        table.add_row(service, f"{f['processed']:,}", str(f["dead_lettered"]), f"{f['idle_rss_mb']:.0f} MB",
                      f"{f['rss_mb']:.0f} MB", f"{f['peak_rss_mb']:.0f} MB", f"< {GOAL_MB} MB")
    console.print(table)
    save("memory", results)


if __name__ == "__main__":
    main()
