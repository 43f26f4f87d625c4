"""A corridor under faults, Jepsen-style: a steady load of acknowledged operations, a nemesis that
kills and pauses processes, and a checker that classifies every acknowledged operation and every
committed event after the corridor settles.

The corridor is the demo's (runtime/demo.py): a hub and three partner nodes, each with its
nats-server and its four services as separate processes on SQLite. Only processes this harness
started are signalled, by their pid.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import os
import random
import signal
import sqlite3
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats

from corridor_runtime import demo_data
from corridor_runtime.demo import Corridor

NODES = tuple(demo_data.NODES)
SKILLS = [("care.elderly-care", "care"), ("accounting.bookkeeping", "accounting"), ("crafts.sewing", "crafts"),
          ("translation.community-interpreting", "translation")]
LANGUAGE = {"fr": "fr", "es": "es", "it": "it"}
COUNTRY = {"fr": "FR", "es": "ES", "it": "IT"}


@dataclass
class Profile:
    seconds: float  # of load and faults
    fault_every: float  # seconds between faults
    settle_timeout: float = 240.0


PROFILES = {"quick": Profile(seconds=40, fault_every=5), "long": Profile(seconds=600, fault_every=4, settle_timeout=600)}


@dataclass
class History:
    """What the clients were told: acknowledged operations (2xx), and those left uncertain."""

    volunteers: dict[str, str] = field(default_factory=dict)  # volunteer_id → home node
    opportunities: dict[str, str] = field(default_factory=dict)  # opportunity_id → host node
    accepted: dict[str, str] = field(default_factory=dict)  # placement_id → home node
    uncertain: Counter = field(default_factory=Counter)  # operation → count (no answer: it may or may not have happened)
    faults: Counter = field(default_factory=Counter)


class Load:
    """Registrations, opportunities and acceptances at a steady pace on random nodes."""

    def __init__(self, corridor: Corridor, history: History, rng: random.Random) -> None:
        self.corridor, self.history, self.rng = corridor, history, rng
        self.client = httpx.AsyncClient(timeout=5)
        self.organisations: dict[str, str] = {}

    async def call(self, node, service, method, path, body=None) -> dict | None:
        try:
            response = await self.client.request(method, self.corridor.urls[node][service] + path, json=body,
                                                 headers=self.corridor.headers[node])
        except httpx.HTTPError:
            return None  # no answer: uncertain
        if response.status_code >= 500:
            return None
        if response.status_code >= 400:
            return {"refused": response.status_code}
        return response.json()

    async def prepare(self) -> None:
        for node in NODES:
            org = await self.call(node, "profiles", "POST", "/organisations", {
                "name": f"Host {node}", "kind": "ngo", "sector": "care", "country": COUNTRY[node], "city": "Capital",
                "contact": {"name": f"Coordinator {node}", "email": f"host@{node}.example.org", "preferred_language": LANGUAGE[node]}})
            assert org and "organisation_id" in org, org
            self.organisations[node] = org["organisation_id"]

    async def run(self, until: float) -> None:
        n = 0
        while time.monotonic() < until:
            n += 1
            action = self.rng.choice(["volunteer", "volunteer", "opportunity", "accept"])
            node = self.rng.choice(NODES)
            await getattr(self, action)(node, n)
            await asyncio.sleep(0.1)

    async def volunteer(self, node: str, n: int) -> None:
        skill, sector = self.rng.choice(SKILLS)
        body = {"reference": f"LOAD-{node}-{n}", "given_name": f"Name{n}", "family_name": f"Family{n}",
                "email": f"v{n}@load.example.org", "country_of_origin": "SY", "preferred_language": LANGUAGE[node],
                "place": {"country": COUNTRY[node], "city": "Capital", "willing_to_move": True},
                "languages": [{"language": lang, "level": "C1"} for lang in ("fr", "es", "it")], "skills": [skill],
                "availability": {"hours_per_week": 20, "available_from": "2027-01-04"}, "sector_preferences": [sector],
                "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}}
        answer = await self.call(node, "profiles", "POST", "/volunteers", body)
        if answer is None:
            self.history.uncertain["volunteer"] += 1
        elif "volunteer_id" in answer:
            self.history.volunteers[answer["volunteer_id"]] = node

    async def opportunity(self, node: str, n: int) -> None:
        skill, _ = self.rng.choice(SKILLS)
        body = {"reference": f"LOAD-OPP-{node}-{n}", "organisation_id": self.organisations[node], "title": f"Role {n}",
                "required_skills": [{"code": skill}], "languages": [{"language": LANGUAGE[node], "level": "B1"}],
                "place": {"country": COUNTRY[node], "city": "Capital", "remote": True}, "hours_per_week": 6,
                "starts_on": "2027-02-01", "slots_total": self.rng.choice([1, 1, 2])}
        answer = await self.call(node, "profiles", "POST", "/opportunities", body)
        if answer is None:
            self.history.uncertain["opportunity"] += 1
        elif "opportunity_id" in answer:
            self.history.opportunities[answer["opportunity_id"]] = node

    async def accept(self, node: str, n: int) -> None:
        listing = await self.call(node, "matching", "GET", "/placements?status=proposed&limit=20")
        for placement in (listing or {}).get("items", [])[:3]:
            answer = await self.call(node, "matching", "POST", f"/placements/{placement['placement_id']}/accept")
            if answer is None:
                self.history.uncertain["accept"] += 1
            elif answer.get("status") == "requested":
                self.history.accepted[placement["placement_id"]] = node

    async def aclose(self) -> None:
        await self.client.aclose()


class Nemesis:
    """Kills (SIGKILL) a service, a node's nats-server or the hub and brings it back; or pauses a
    service (SIGSTOP … SIGCONT): a slow consumer."""

    def __init__(self, corridor: Corridor, history: History, rng: random.Random) -> None:
        self.corridor, self.history, self.rng = corridor, history, rng

    async def run(self, until: float, every: float) -> None:
        while time.monotonic() + every < until:
            await asyncio.sleep(every * self.rng.uniform(0.5, 1.5))
            fault = self.rng.choice(["kill service", "kill service", "pause service", "kill node nats", "kill hub"])
            await getattr(self, fault.replace(" ", "_"))()
            self.history.faults[fault] += 1

    async def kill_service(self) -> None:
        node = self.corridor.nodes[self.rng.choice(NODES)]
        service = self.rng.choice(list(node.processes))
        process = node.processes[service]
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        await asyncio.sleep(self.rng.uniform(0.5, 2.0))
        node.start_services((service,))

    async def pause_service(self) -> None:
        node = self.corridor.nodes[self.rng.choice(NODES)]
        process = node.processes[self.rng.choice(list(node.processes))]
        os.kill(process.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.rng.uniform(2.0, 5.0))
        finally:
            os.kill(process.pid, signal.SIGCONT)

    async def kill_node_nats(self) -> None:
        server = self.corridor.nodes[self.rng.choice(NODES)].server
        server.kill()
        await asyncio.sleep(self.rng.uniform(1.0, 3.0))
        await asyncio.to_thread(server.start)

    async def kill_hub(self) -> None:
        self.corridor.hub.kill()
        await asyncio.sleep(self.rng.uniform(1.0, 3.0))
        await asyncio.to_thread(self.corridor.hub.start)


def revive(corridor: Corridor) -> None:
    """After the faults: anything left down is started again (and nothing is left paused)."""
    if corridor.hub.process is None:
        corridor.hub.start()
    for node in corridor.nodes.values():
        if node.server.process is None or node.server.process.poll() is not None:
            node.server.start()
        for service, process in list(node.processes.items()):
            os.kill(process.pid, signal.SIGCONT) if process.poll() is None else node.start_services((service,))


def _rows(database: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(query).fetchall()


@dataclass
class Verdict:
    figures: dict[str, int]
    problems: list[str]

    def table(self) -> str:
        return "\n".join(f"{name:>28}: {value}" for name, value in self.figures.items())


async def settle(corridor: Corridor, timeout: float) -> None:
    """Until every outbox is empty, every IN holds all that its peers' OUT have for it, every consumer
    has acknowledged everything (a batch a killed process held comes back after its ack wait), and
    the state of every node is unchanged for five seconds."""
    deadline = time.monotonic() + timeout
    last, stable_since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = (_snapshot(corridor), _backlog(corridor), await _unsourced(corridor) + await _unacknowledged(corridor))
        if now != last:
            last, stable_since = now, time.monotonic()
        elif now[1] == 0 and now[2] == 0 and time.monotonic() - stable_since > 5:
            return
        await asyncio.sleep(1.0)
    raise AssertionError(f"the corridor did not settle in {timeout:.0f}s: outbox backlog {last[1]}, "
                         f"events not yet sourced or acknowledged {last[2]}")


async def _count(js, stream: str, subjects: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subjects)
    return sum((info.state.subjects or {}).values())


async def _unacknowledged(corridor: Corridor) -> int:
    """Events the services' durable consumers have not acknowledged yet, on every node."""
    waiting = 0
    for node in NODES:
        nc = await nats.connect(corridor.nodes[node].server.url, max_reconnect_attempts=1)
        try:
            for stream in ("LOCAL", "IN", "OUT"):
                for consumer in await nc.jetstream().consumers_info(stream):
                    if consumer.config.durable_name:
                        waiting += consumer.num_pending + consumer.num_ack_pending
        finally:
            await nc.close()
    return waiting


async def _unsourced(corridor: Corridor) -> int:
    """How many events of each node's OUT its peers' IN do not hold yet (per peer, per filter)."""
    clients = {n: await nats.connect(corridor.nodes[n].server.url, max_reconnect_attempts=1) for n in NODES}
    try:
        missing = 0
        for origin in NODES:
            out = clients[origin].jetstream()
            for receiver in NODES:
                inbound = clients[receiver].jetstream()
                for subjects in (f"corridor.bcast.{origin}.>", f"corridor.direct.{receiver}.{origin}.>"):
                    missing += max(0, await _count(out, "OUT", subjects) - await _count(inbound, "IN", subjects))
        return missing
    finally:
        for nc in clients.values():
            await nc.close()


def _db(corridor: Corridor, node: str, service: str) -> Path:
    return corridor.nodes[node].layout.root / f"{service}.sqlite"


def _backlog(corridor: Corridor) -> int:
    return sum(_rows(_db(corridor, n, s), f"SELECT count(*) FROM {s}_outbox WHERE published_at IS NULL")[0][0]
               for n in NODES for s in ("profiles", "matching", "notifications", "reporting"))


def _snapshot(corridor: Corridor) -> tuple:
    return tuple(
        (_rows(_db(corridor, n, "matching"), "SELECT count(*), group_concat(status) FROM matching_placements")[0],
         _rows(_db(corridor, n, "matching"), "SELECT count(*) FROM matching_opportunities")[0],
         _rows(_db(corridor, n, "profiles"), "SELECT count(*), group_concat(status) FROM profiles_host_placements")[0],
         _rows(_db(corridor, n, "notifications"), "SELECT count(*), group_concat(status) FROM notifications_deliveries")[0])
        for n in NODES)


async def check(corridor: Corridor, history: History) -> Verdict:
    problems: list[str] = []
    lost = duplicated = overbooked = disagreeing = 0

    # Every acknowledged registration is at home, and reached its node's matching (a local event).
    for node in NODES:
        profiles = {r[0] for r in _rows(_db(corridor, node, "profiles"), "SELECT volunteer_id FROM profiles_volunteers")}
        matching = {r[0] for r in _rows(_db(corridor, node, "matching"), "SELECT volunteer_id FROM matching_volunteers")}
        for volunteer_id in (v for v, home in history.volunteers.items() if home == node):
            if volunteer_id not in profiles or volunteer_id not in matching:
                lost += 1
                problems.append(f"volunteer {volunteer_id} of {node}: profiles {volunteer_id in profiles}, matching {volunteer_id in matching}")

    # Every acknowledged opportunity is at its host, and its broadcast reached every node's matching.
    for node in NODES:
        known = {r[0] for r in _rows(_db(corridor, node, "matching"), "SELECT opportunity_id FROM matching_opportunities")}
        hosted = {r[0] for r in _rows(_db(corridor, node, "profiles"), "SELECT opportunity_id FROM profiles_opportunities")}
        for opportunity_id, host in history.opportunities.items():
            if opportunity_id not in known or (host == node and opportunity_id not in hosted):
                lost += 1
                problems.append(f"opportunity {opportunity_id} of {host} missing at {node}")

    # Every committed outbox row was published (the relay's guarantee).
    backlog = _backlog(corridor)
    lost += backlog
    if backlog:
        problems.append(f"{backlog} outbox rows never published")

    # No opportunity overbooked; slots taken = placements holding a slot (a request applied twice would show).
    for node in NODES:
        profiles = _db(corridor, node, "profiles")
        for opportunity_id, total, taken in _rows(profiles, "SELECT opportunity_id, slots_total, slots_taken FROM profiles_opportunities"):
            holding = _rows(profiles, f"SELECT count(*) FROM profiles_host_placements WHERE opportunity_id = '{opportunity_id}' AND holds_slot")[0][0]
            if taken > total or holding > total:
                overbooked += 1
                problems.append(f"opportunity {opportunity_id} at {node}: {taken} taken, {holding} held, {total} slots")
            elif holding != taken:
                duplicated += 1
                problems.append(f"opportunity {opportunity_id} at {node}: slots_taken {taken} but {holding} placements hold one")

    # Every acknowledged acceptance reached its host, and home and host agree on the saga's state.
    host_rows = {}
    for node in NODES:
        for placement_id, status in _rows(_db(corridor, node, "profiles"), "SELECT placement_id, status FROM profiles_host_placements"):
            host_rows[placement_id] = status
    agree = {"confirmed": {"confirmed"}, "declined_by_host": {"declined"}, "withdrawn": {"withdrawn", "declined"},
             "compensated": {"withdrawn"}, "started": {"started"}, "completed": {"completed"}}
    requested = {}
    for node in NODES:
        requested.update((placement_id, (node, status)) for placement_id, status in _rows(
            _db(corridor, node, "matching"), "SELECT placement_id, status FROM matching_placements WHERE request_expires_at IS NOT NULL"))
    for placement_id in set(history.accepted) - set(requested):
        lost += 1
        problems.append(f"acceptance of placement {placement_id} acknowledged, but its home node has no request")
    for placement_id, (node, status) in requested.items():
        host_status = host_rows.get(placement_id)
        if host_status is None:
            lost += 1
            problems.append(f"placement {placement_id} ({node}, {status}): its request never reached the host")
        elif status == "requested" or host_status not in agree.get(status, set()):
            disagreeing += 1
            problems.append(f"placement {placement_id}: home {node} says {status}, host says {host_status}")

    # Each message once: one delivery per cause, recipient, channel and kind; one file per delivery.
    for node in NODES:
        notifications = _db(corridor, node, "notifications")
        twice = _rows(notifications, "SELECT count(*) FROM (SELECT 1 FROM notifications_deliveries GROUP BY cause_event_id, "
                                     "recipient_id, channel, kind HAVING count(*) > 1)")[0][0]
        duplicated += twice
        folder = corridor.nodes[node].layout.root / "maildir"
        written = Counter(str(m["X-Corridor-Delivery"]) for m in mailbox.Maildir(folder, create=False)) if folder.exists() else Counter()
        extra = sum(c - 1 for c in written.values() if c > 1)
        duplicated += extra
        if extra:
            problems.append(f"{extra} messages written twice to {node}'s Maildir")
        sent = {r[0] for r in _rows(notifications, "SELECT delivery_id FROM notifications_deliveries "
                                                   "WHERE channel = 'maildir' AND status = 'sent'")}
        missing = sent - set(written)
        lost += len(missing)
        if missing:
            problems.append(f"{len(missing)} deliveries of {node} marked sent but not in its Maildir")

    events = 0
    for node in NODES:
        nc = await nats.connect(corridor.nodes[node].server.url)
        try:
            for stream in ("LOCAL", "OUT"):
                events += (await nc.jetstream().stream_info(stream)).state.messages
        finally:
            await nc.close()

    figures = {
        "faults injected": sum(history.faults.values()),
        **{f"  {name}": count for name, count in sorted(history.faults.items())},
        "operations acknowledged": len(history.volunteers) + len(history.opportunities) + len(history.accepted),
        "operations uncertain": sum(history.uncertain.values()),
        "events checked": events,
        "placements requested": len(host_rows),
        "lost": lost,
        "duplicated": duplicated,
        "overbooked": overbooked,
        "sagas disagreeing": disagreeing,
    }
    return Verdict(figures=figures, problems=problems)


def write_figures(path: Path, profile: str, verdict: Verdict, seed: int) -> None:
    path.write_text(json.dumps({"profile": profile, "seed": seed, **verdict.figures, "problems": verdict.problems[:50]},
                               indent=2, default=str))


def new_seed() -> int:
    return int(os.environ.get("CORRIDOR_FAULT_SEED") or uuid.uuid4().int % 10**6)
