"""Cross-node latency on a hub and three nodes, at a steady rate, against the bare transport measured
in the same run.

    .venv/bin/python benchmarks/latency.py [--rate 100] [--count 600]

The demo corridor's machinery starts a hub and three nodes (fr, es, it), each its own nats-server
(JetStream domain) with its four services as processes on SQLite, as `corridor demo` runs them.
Two paths of the placement journey are timed, each under an open-loop load of `--rate` per second
(requests are sent on schedule, whatever the answers do, so a slow answer cannot hide the next):

1. opportunity → proposal notification: Spain's operators publish opportunities (POST
   /opportunities at es profiles); France's matching proposes each to one of its volunteers and
   France's notifications service writes the proposal to her Maildir. The time runs from the
   request to the Maildir file (its modification time).
2. placement request → confirmation at home: France's volunteers accept those proposals (POST
   /placements/{id}/accept at fr matching, which sends the request to Spain); Spain's profiles
   confirms; the time runs from the accept to the confirmation's arrival in France's IN.

Baselines, before and after, same corridor: the transport alone — a broadcast from Spain's OUT to
France's IN, and a bare responder at Spain answering France through the hub, at the same rate.
Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nats
from rich.console import Console
from rich.table import Table

from corridor_runtime.demo import Corridor
from corridor_runtime.reading import read

from common import save

PADDING = "x" * 1200  # a probe the size of a signed opportunity or sealed confirmation


def percentiles(samples: list[float], expected: int) -> dict:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"n": len(ordered), "expected": expected, "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


async def on_schedule(rate: int, count: int, send) -> None:
    """Call `send(i)` at `rate` per second, each in a task of its own (an open loop)."""
    start, tasks = time.perf_counter(), []
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.ensure_future(send(i)))
    await asyncio.gather(*tasks)


async def until(check, timeout: float, what: str) -> None:
    """Until `check()` (a function, or a coroutine function) is true."""
    deadline = time.monotonic() + timeout
    while not (await check() if asyncio.iscoroutinefunction(check) else check()):
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def probe(rate: int, count: int, sender, subject: str, listener, arrives_as: str) -> dict:
    """Send `count` probes on `subject` at `rate` through `sender`; time each until it shows up as
    `arrives_as` in the listener's IN."""
    arrived: dict[int, float] = {}

    async def on_arrival(msg):
        arrived[json.loads(msg.data)["i"]] = time.perf_counter()
    sub = await listener.subscribe(arrives_as, stream="IN", cb=on_arrival, ordered_consumer=True)
    sent: dict[int, float] = {}

    async def send(i):
        sent[i] = time.perf_counter()
        await sender.publish(subject, json.dumps({"i": i, "pad": PADDING}).encode())
    await on_schedule(rate, count, send)
    await until(lambda: len(arrived) >= count, 30, f"the probes on {subject}")
    await sub.unsubscribe()
    return percentiles([arrived[i] - sent[i] for i in arrived], count)


async def transport(clients: dict, rate: int, count: int) -> dict:
    """The hub and the streams alone: es OUT → fr IN (a broadcast), and fr → es → fr (a reply)."""
    es_js, fr_js = clients["es"].jetstream(), clients["fr"].jetstream()
    figures = {"broadcast": await probe(rate, count, es_js, "corridor.bcast.es.Probe", fr_js, "corridor.bcast.es.Probe")}

    async def echo(msg):  # a bare responder at es: no service, no database
        await es_js.publish("corridor.direct.fr.es.Echo", msg.data)
    responder = await es_js.subscribe("corridor.direct.es.fr.Probe", stream="IN", cb=echo, ordered_consumer=True)
    figures["reply"] = await probe(rate, count, fr_js, "corridor.direct.es.fr.Probe", fr_js, "corridor.direct.fr.es.Echo")
    await responder.unsubscribe()
    return figures


async def proposals(corridor: Corridor, clients: dict, rate: int, count: int, cpu) -> tuple[dict, list[str]]:
    """Opportunities published at es, proposed at fr, the proposal written to fr's Maildir."""
    organisation = await corridor.call("es", "profiles", "POST", "/organisations", {
        "name": "Fundación Abrazo", "kind": "ngo", "sector": "care", "country": "ES", "city": "Sevilla",
        "contact": {"name": "Lucía Romero", "email": "lucia@abrazo.example.es", "preferred_language": "es"}})
    for i in range(count):  # one volunteer at fr for each opportunity to come
        await corridor.call("fr", "profiles", "POST", "/volunteers", {
            "given_name": f"Volunteer{i}", "family_name": "Bench", "email": f"v{i}@example.org", "country_of_origin": "SY",
            "preferred_language": "en", "place": {"country": "FR", "city": "Lyon", "willing_to_move": True},
            "languages": [{"language": "es", "level": "C1"}, {"language": "fr", "level": "B2"}], "skills": ["care.elderly-care"],
            "availability": {"hours_per_week": 12, "available_from": "2027-01-04"},
            "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})
    await settled(corridor)
    maildir = corridor.nodes["fr"].layout.root / "maildir" / "new"
    already = set(os.listdir(maildir)) if maildir.exists() else set()
    sent: dict[str, int] = {}
    titled: dict[str, str] = {}  # opportunity id → title
    before = cpu()

    async def publish(i):
        title = f"Bench opportunity {i}"
        sent[title] = time.time_ns()
        created = await corridor.call("es", "profiles", "POST", "/opportunities", {
            "organisation_id": organisation["organisation_id"], "title": title, "required_skills": [{"code": "care.elderly-care"}],
            "languages": [{"language": "es", "level": "B1"}], "place": {"country": "ES", "city": "Sevilla"},
            "hours_per_week": 6, "starts_on": "2027-02-01", "slots_total": 1})
        titled[created["opportunity_id"]] = title
    await on_schedule(rate, count, publish)

    delivered: dict[str, int] = {}

    async def all_delivered():
        for name in set(os.listdir(maildir)) - already:
            path = maildir / name
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            title = str(message["subject"]).rpartition(": ")[2]
            if title in sent:
                delivered[title] = path.stat().st_mtime_ns
            already.add(name)
        return len(delivered) >= count
    await until(all_delivered, 120, "every proposal's notification")
    figures = {"total": percentiles([(delivered[t] - sent[t]) / 1e9 for t in delivered], count),
               "cpu_ms_per_item": cpu_per_item(before, cpu(), count)}
    by_opportunity = lambda wire: wire["payload"]["opportunity_id"]  # noqa: E731
    figures["stages"] = await stages(clients, [
        ("es OUT", "es", "OUT", "corridor.bcast.es.OpportunityPublished"),
        ("fr IN", "fr", "IN", "corridor.bcast.es.OpportunityPublished"),
        ("fr LOCAL proposal", "fr", "LOCAL", "node.fr.PlacementProposed"),
    ], by_opportunity, {o: sent[t] / 1e9 for o, t in titled.items()}, {o: delivered[t] / 1e9 for o, t in titled.items() if t in delivered})
    placements = [p["placement_id"] for p in await corridor.placements("fr") if p["status"] == "proposed"]
    return figures, placements


async def confirmations(corridor: Corridor, clients: dict, rate: int, placement_ids: list[str]) -> dict:
    """Her acceptance at fr → request to es → es profiles confirms → the confirmation in fr's IN."""
    arrived: dict[str, float] = {}

    async def on_confirmed(msg):
        arrived[json.loads(msg.data)["correlation_id"]] = time.time()  # the journey's id: the placement's
    sub = await clients["fr"].jetstream().subscribe("corridor.direct.fr.es.PlacementConfirmed", stream="IN",
                                                    cb=on_confirmed, ordered_consumer=True)
    sent: dict[str, float] = {}

    async def accept(i):
        placement_id = placement_ids[i]
        sent[placement_id] = time.time()
        await corridor.call("fr", "matching", "POST", f"/placements/{placement_id}/accept")
    await on_schedule(rate, len(placement_ids), accept)
    await until(lambda: set(sent) <= set(arrived), 120, "every confirmation")
    await sub.unsubscribe()
    journey = lambda wire: wire["correlation_id"]  # noqa: E731
    return {"total": percentiles([arrived[p] - sent[p] for p in sent], len(placement_ids)),
            "stages": await stages(clients, [
                ("fr OUT request", "fr", "OUT", "corridor.direct.es.fr.PlacementRequested"),
                ("es IN request", "es", "IN", "corridor.direct.es.fr.PlacementRequested"),
                ("es OUT confirmation", "es", "OUT", "corridor.direct.fr.es.PlacementConfirmed"),
                ("fr IN confirmation", "fr", "IN", "corridor.direct.fr.es.PlacementConfirmed"),
            ], journey, sent, arrived)}


async def stamps(client, stream: str, subject: str, key) -> dict[str, float]:
    """When each message of `subject` was stored in `stream` (the server's clock), by `key(wire)`."""
    found = {}
    async for msg in read(client.jetstream(), stream, subjects=[subject]):
        found[key(json.loads(msg.data))] = msg.metadata.timestamp.timestamp()
    return found


async def stages(clients: dict, steps: list[tuple[str, str, str, str]], key, start: dict[str, float],
                 end: dict[str, float]) -> dict:
    """Where the time of a path goes: from its start to each stream it crosses, stage by stage
    (every server runs on this machine, so their clocks are the same)."""
    points = [("start", start)] + [(label, await stamps(clients[node], stream, subject, key))
                                   for label, node, stream, subject in steps] + [("end", end)]
    figures = {}
    for (before, at), (after, then) in zip(points, points[1:]):
        common = set(at) & set(then)
        figures[f"{before} → {after}"] = percentiles([then[k] - at[k] for k in common], len(start)) if common else None
    return figures


async def settled(corridor: Corridor) -> None:
    """Until every consumer of every node has caught up."""
    async def caught_up():
        for running in corridor.nodes.values():
            for answer in (await running.health(timeout=10)).values():
                if any(c.get("pending") or c.get("ack_pending") for c in answer.get("consumers", [])):
                    return False
        return True
    await until(caught_up, 120, "the consumers to catch up")


def cpu_seconds(corridor: Corridor) -> dict[str, float]:
    """CPU time (user + system) each process of the corridor has used so far: its services and its
    nats-servers (where the time goes when the machine is the limit)."""
    processes = {f"{node} {service}": p.pid for node, running in corridor.nodes.items() for service, p in running.processes.items()}
    processes.update({f"{node} nats-server": running.server.process.pid for node, running in corridor.nodes.items()})
    processes["hub nats-server"] = corridor.hub.process.pid
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in processes.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


def cpu_per_item(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """CPU milliseconds per item of a path, by process, the busiest first."""
    spent = {name: (after[name] - before[name]) * 1000 / count for name in after}
    return dict(sorted(((n, round(ms, 2)) for n, ms in spent.items() if ms > 0), key=lambda item: -item[1]))


async def run(rate: int, count: int, root: Path, console: Console) -> dict:
    corridor = Corridor(root, console)
    clients = {}
    try:
        await corridor.start()
        for node, running in corridor.nodes.items():
            clients[node] = await nats.connect(running.server.url)
        figures = {"transport_before": await transport(clients, rate, min(count, 300))}
        console.print("transport measured; opportunities → proposal notifications")
        figures["proposal"], placement_ids = await proposals(corridor, clients, rate, count, cpu=lambda: cpu_seconds(corridor))
        console.print(f"{len(placement_ids)} proposals; acceptances → confirmations")
        before = cpu_seconds(corridor)
        figures["confirmation"] = await confirmations(corridor, clients, rate, placement_ids)
        figures["confirmation"]["cpu_ms_per_item"] = cpu_per_item(before, cpu_seconds(corridor), len(placement_ids))
        figures["transport_after"] = await transport(clients, rate, min(count, 300))
        return figures
    finally:
        for nc in clients.values():
            await nc.close()
        await corridor.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100, help="opportunities, then acceptances, per second")
    parser.add_argument("--count", type=int, default=600, help="how many of each")
    parser.add_argument("--data-dir", type=Path, help="keep the corridor's files (logs, Maildirs) here instead of a temporary folder")
    args = parser.parse_args()
    console = Console(width=160)
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(args.rate, args.count, args.data_dir or Path(tmp), console))
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
               "cpus": os.cpu_count(), "rate": args.rate, "count": args.count, **figures}
    table = Table(title=f"cross-node latency, hub + fr, es, it, {args.rate}/s, {results['date']}")
    for column in ("path", "n", "p50 ms", "p99 ms", "max ms", "goal"):
        table.add_column(column)
    rows = [("opportunity at es → proposal in fr's Maildir", figures["proposal"]["total"], "p99 < 50 ms"),
            ("  baseline: es OUT → hub → fr IN, before", figures["transport_before"]["broadcast"], ""),
            ("  baseline: es OUT → hub → fr IN, after", figures["transport_after"]["broadcast"], ""),
            ("acceptance at fr → confirmation from es in fr's IN", figures["confirmation"]["total"], "p99 < 50 ms"),
            ("  baseline: fr → hub → bare responder at es → fr, before", figures["transport_before"]["reply"], ""),
            ("  baseline: fr → hub → bare responder at es → fr, after", figures["transport_after"]["reply"], "")]
    for label, f, goal in rows:
        table.add_row(label, f"{f['n']}/{f['expected']}", str(f["p50_ms"]), str(f["p99_ms"]), str(f["max_ms"]), goal)
    console.print(table)
    for path in ("proposal", "confirmation"):
        stages_table = Table(title=f"where the time goes: {path}")
        for column in ("stage", "n", "p50 ms", "p99 ms", "max ms"):
            stages_table.add_column(column)
        for stage, f in figures[path]["stages"].items():
            stages_table.add_row(stage, *((f"{f['n']}", str(f["p50_ms"]), str(f["p99_ms"]), str(f["max_ms"])) if f else ("0", "", "", "")))
        console.print(stages_table)
        spent = figures[path]["cpu_ms_per_item"]
        console.print(f"CPU per {path}: {sum(spent.values()):.1f} ms in all; " +
                      ", ".join(f"{name} {ms}" for name, ms in list(spent.items())[:8]))
    save("latency", results)


if __name__ == "__main__":
    main()
