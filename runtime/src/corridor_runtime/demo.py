"""The demo corridor on one machine: a hub and three partner nodes (fr, es, it), each with its own
nats-server (JetStream domain), four supervised services and SQLite files; seed data drawn from a
seed (demo_data.py); the matching rounds and the placement saga running across the nodes, shown
live; the corridor report at the end.

Operators' decisions are played by the script through the same HTTP APIs an operator uses:
volunteers accept their proposals (one declines), hosts start, log and approve hours, complete.
Each step waits until the corridor is quiet (nothing in an outbox, every consumer caught up, every
node holding what it sources from the others) and each decision is taken in a fixed order, so the
same seed tells the same story and prints the same report, whatever the timing of the run.
"""

from __future__ import annotations

import asyncio
import mailbox
import secrets
import time
from pathlib import Path

import httpx
import nats
from corridor_contracts import PartnerNode, Registry
from rich.console import Console
from rich.live import Live
from rich.table import Table

from . import demo_data
from .access import Role
from .nats_server import LeafUser, NatsServer, free_port, leaf_remote
from .node import NodeLayout, RunningNode, ensure_keys
from .registry_file import save_registry
from .signals import stop_requested
from .streams import provision
from .terminal import operator_console

# The demo's handful of people would all be hidden at the default threshold (5); it shows counts of 2
# and more, and says so. Real nodes keep the default.
DEMO_THRESHOLD = 2


class DemoError(RuntimeError):
    pass


class Corridor:
    def __init__(self, data_dir: Path, console: Console, data: demo_data.DemoCorridor | None = None) -> None:
        self.root = data_dir.resolve()
        self.console = console
        self.data = data or demo_data.corridor()
        self.references: dict[str, str] = {}  # volunteer id → the seed data's reference
        self.connections: list[nats.NATS] = []
        self.jetstreams: dict[str, nats.js.JetStreamContext] = {}  # the demo's look at each node's streams
        self.registry_file = self.root / "corridor.yaml"
        # Each node has its own account on the hub, with the rights of a corridor node and no more.
        self.hub = NatsServer(name="hub", store_dir=self.root / "hub", jetstream=False, leafnode_port=free_port(),
                              leaf_users=[LeafUser(n, n, secrets.token_urlsafe(16), list(demo_data.NODES)) for n in demo_data.NODES])
        self.nodes: dict[str, RunningNode] = {}
        self.urls: dict[str, dict[str, str]] = {}
        self.headers: dict[str, dict[str, str]] = {}  # the demo's own token on each node
        self.sign_ins: dict[str, str] = {}  # node → its operator account's password
        self.client = httpx.AsyncClient(timeout=30)

    # --- start and stop ------------------------------------------------------------------------
    async def start(self) -> None:
        keys = {node: ensure_keys(NodeLayout(self.root, node)) for node in demo_data.NODES}
        save_registry(Registry(corridor="smart-volunteering-demo", nodes=[
            PartnerNode.of_seed(keys[node], id=node, name=info["name"], country=info["country"], leafnode_user=node)
            for node, info in demo_data.NODES.items()]), self.registry_file)
        self.hub.start()
        for node in demo_data.NODES:
            layout = NodeLayout(self.root, node)
            server = NatsServer(name=node, store_dir=layout.root / "nats", domain=node,
                                remotes=[leaf_remote(node, self.hub.leaf_url(node))])
            server.start()
            self.nodes[node] = RunningNode(layout, server, registry_file=self.registry_file,
                                           extra_env={"CORRIDOR_REPORTING_THRESHOLD": str(DEMO_THRESHOLD)})
            nc = await nats.connect(server.url)
            self.connections.append(nc)
            self.jetstreams[node] = nc.jetstream()
            await provision(self.jetstreams[node], node, [p for p in demo_data.NODES if p != node])
        for node, running in self.nodes.items():
            running.start_services()
            running.supervise(lambda line, node=node: self.console.print(f"node {node}: {line}", soft_wrap=True))
        for node, running in self.nodes.items():
            answers = await running.health(timeout=90)
            down = {s: a["error"] for s, a in answers.items() if "error" in a}
            if down:
                raise DemoError(f"node {node}: services down: {down}")
            self.urls[node] = {s: a["http"] for s, a in answers.items() if a.get("http")}
            await self.open_access(node, running)
        self.console.print(f"corridor up: hub {self.hub.url}, nodes " +
                           ", ".join(f"{n} {r.server.url}" for n, r in self.nodes.items()))

    async def open_access(self, node: str, running: RunningNode) -> None:
        """The demo drives each node's APIs with a token of that node, and makes an account for a
        person to sign in with (every role, it is a demo; a real node's first account is an operator)."""
        store = running.access_store()
        try:
            await store.create()
            token = await store.issue_token("demo", [Role.OPERATOR.value, Role.COORDINATOR.value], days=7)
            self.sign_ins[node] = secrets.token_urlsafe(12)
            await store.add_account("operator", [r.value for r in Role], self.sign_ins[node])
        finally:
            await store.dispose()
        self.headers[node] = {"Authorization": f"Bearer {token}"}

    async def stop(self) -> None:
        await self.client.aclose()
        for nc in self.connections:
            await nc.close()
        for running in self.nodes.values():
            running.stop()
            if running.supervisor is not None:
                await running.supervisor.close()
        self.hub.stop()

    # --- talking to the services ------------------------------------------------------------------
    async def call(self, node: str, service: str, method: str, path: str, body=None) -> dict:
        """One request to a service's API. A service that is down (its node runner starts it again on
        the same port) is asked again for up to a minute: a refused connection carried no request, and
        a read is safe to repeat."""
        deadline = time.monotonic() + 60
        while True:
            try:
                response = await self.client.request(method, self.urls[node][service] + path, json=body,
                                                     headers=self.headers[node])
                break
            except (httpx.ConnectError, httpx.TransportError) as error:
                repeatable = isinstance(error, httpx.ConnectError) or method == "GET"
                if not repeatable or time.monotonic() > deadline:
                    raise DemoError(f"{node} {service} {method} {path}: {error!r}") from None
                await asyncio.sleep(0.5)
        if response.status_code >= 400:
            raise DemoError(f"{node} {service} {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def placements(self, node: str) -> list[dict]:
        return (await self.call(node, "matching", "GET", "/placements?limit=500"))["items"]

    async def hosted(self, node: str) -> list[dict]:
        return (await self.call(node, "profiles", "GET", "/placements?limit=500"))["items"]

    # --- the story -------------------------------------------------------------------------------
    async def seed(self, live: Live) -> None:
        """Organisations and volunteers first, then, once matching knows every volunteer, the
        opportunities: each round then sees all the candidates of the roles it learns of."""
        organisation_ids = {}
        for node, organisations in self.data.organisations.items():
            for organisation in organisations:
                created = await self.call(node, "profiles", "POST", "/organisations", organisation)
                organisation_ids[organisation["reference"]] = created["organisation_id"]
        for node, volunteers in self.data.volunteers.items():
            for volunteer in volunteers:
                created = await self.call(node, "profiles", "POST", "/volunteers", volunteer)
                self.references[created["volunteer_id"]] = volunteer["reference"]
        await self.settle("volunteers reach matching on their node", live)
        for node, opportunities in self.data.opportunities.items():
            for organisation_reference, opportunity in opportunities:
                await self.call(node, "profiles", "POST", "/opportunities",
                                {**opportunity, "organisation_id": organisation_ids[organisation_reference]})
        await self.settle("opportunities are broadcast across the corridor", live)

    # --- waiting until the corridor is quiet ---------------------------------------------------------
    async def in_flight(self) -> tuple | None:
        """The last sequence of every stream on every node when nothing is in flight (every
        outbox empty, every consumer caught up, every IN holding all it sources); None otherwise."""
        sequences = []
        for node, running in self.nodes.items():
            for answer in (await running.health(timeout=10)).values():
                if "error" in answer or answer.get("outbox_backlog"):
                    return None
                if any("error" in c or c.get("pending") or c.get("ack_pending") for c in answer.get("consumers", [])):
                    return None
            js = self.jetstreams[node]
            for stream in ("LOCAL", "OUT", "IN"):
                sequences.append((await js.stream_info(stream)).state.last_seq)
        for node in self.nodes:
            for origin in self.nodes:
                for subjects in (f"corridor.bcast.{origin}.>", f"corridor.direct.{node}.{origin}.>"):
                    sent = await self.count(origin, "OUT", subjects)
                    if await self.count(node, "IN", subjects) != sent:
                        return None
        return tuple(sequences)

    async def count(self, node: str, stream: str, subjects: str) -> int:
        info = await self.jetstreams[node].stream_info(stream, subjects_filter=subjects)
        return sum((info.state.subjects or {}).values())

    async def settle(self, what: str, live: Live) -> None:
        """Wait until the corridor is quiet, seen twice in a row with nothing moved in between."""
        seen: list[tuple | None] = [None]

        async def quiet():
            now = await self.in_flight()
            settled = now is not None and now == seen[-1]
            seen.append(now)
            return settled
        await self.until(what, quiet, live)

    async def rounds(self, live: Live) -> None:
        """Every node's matching runs rounds until one proposes nothing, then the corridor settles:
        what is proposed no longer depends on when events woke the rounds."""
        for node in self.nodes:
            while (await self.call(node, "matching", "POST", "/rounds"))["proposed"]:
                pass
        await self.settle("matching proposes placements across the corridor", live)

    async def until(self, what: str, check, live: Live, timeout: float = 120.0):
        deadline = time.monotonic() + timeout
        while True:
            live.update(await self.progress(what))
            found = await check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting for: {what}")
            await asyncio.sleep(0.5)

    async def proposals(self) -> list[tuple[str, dict]]:
        """Open proposals on every node, in the order of the volunteer's reference in the seed data."""
        found = [(node, p) for node in self.nodes for p in await self.placements(node) if p["status"] == "proposed"]
        return sorted(found, key=lambda np: self.references.get(np[1]["volunteer_id"], np[1]["volunteer_id"]))

    async def run_story(self, live: Live) -> None:
        await self.rounds(live)
        proposed = await self.proposals()
        if not proposed:
            raise DemoError("matching proposed nothing")
        node, placement = proposed[self.data.decline_pick % len(proposed)]  # she declines; matching offers the next best
        await self.call(node, "matching", "POST", f"/placements/{placement['placement_id']}/decline")
        await self.rounds(live)
        while proposed := await self.proposals():  # every other proposal is accepted, one at a time, in order
            for node, placement in proposed:
                await self.call(node, "matching", "POST", f"/placements/{placement['placement_id']}/accept")
                await self.settle("hosts confirm requests, contacts are disclosed", live)
            await self.rounds(live)

        for host in self.nodes:  # hosts run the placements: start, hours approved, complete
            for placement in sorted(await self.hosted(host), key=lambda p: p["placement_id"]):
                if placement["status"] != "confirmed":
                    continue
                pid = placement["placement_id"]
                await self.call(host, "profiles", "POST", f"/placements/{pid}/start", {"started_on": "2027-02-01"})
                for day, hours in (("2027-02-02", "3"), ("2027-02-09", "4.5")):
                    entry = await self.call(host, "profiles", "POST", f"/placements/{pid}/hours", {"worked_on": day, "hours": hours})
                    await self.call(host, "profiles", "POST", f"/placements/{pid}/hours/{entry['entry_id']}/approve",
                                    {"approved_by": "coordinator"})
                await self.call(host, "profiles", "POST", f"/placements/{pid}/complete",
                                {"completed_on": "2027-06-30", "skills_practised": []})
        await self.settle("placements start, hours flow back, placements complete", live)

        for node in self.nodes:  # home operators record an outcome six months later
            for placement in await self.placements(node):
                if placement["status"] == "completed":
                    await self.call(node, "profiles", "POST", f"/volunteers/{placement['volunteer_id']}/outcomes",
                                    {"outcome": "employed", "recorded_on": "2027-12-15",
                                     "opportunity_id": placement["opportunity_id"], "months_after_placement": 6})
        await self.settle("outcomes reach the reports", live)
        live.update(await self.progress("done"))

    # --- what a person sees -------------------------------------------------------------------------
    def mail_count(self, node: str) -> int:
        folder = self.nodes[node].layout.root / "maildir"
        return len(mailbox.Maildir(folder, create=False)) if folder.exists() else 0

    async def progress(self, step: str) -> Table:
        table = Table(title=f"demo corridor — {step}")
        for column in ("node", "volunteers", "opportunities", "proposed", "requested", "confirmed", "completed", "hosting", "messages"):
            table.add_column(column, justify="right")
        for node in self.nodes:
            try:
                mine = await self.placements(node)
                hosting = await self.hosted(node)
                volunteers = (await self.call(node, "profiles", "GET", "/volunteers?limit=1"))["total"]
                opportunities = (await self.call(node, "profiles", "GET", "/opportunities?limit=1"))["total"]
            except (DemoError, httpx.HTTPError):
                continue
            counts = {status: str(sum(p["status"] == status for p in mine))
                      for status in ("proposed", "requested", "confirmed", "completed")}
            table.add_row(node, str(volunteers), str(opportunities), *counts.values(), str(len(hosting)),
                          str(self.mail_count(node)))
        return table

    async def report(self, *, live: bool = False) -> None:
        self.console.print(f"corridor report, seed {self.data.seed} (demo threshold: counts under {DEMO_THRESHOLD} hidden; "
                           "real nodes hide under 5)")
        for node in self.nodes:
            figures = await self.call(node, "reporting", "GET", "/indicators")
            by_status = figures["placements_by_status_and_host_country"]
            rows = ", ".join(f"{r}: {'hidden' if t is None else t}" for r, t in zip(by_status["rows"], by_status["row_totals"]) if t != 0)
            self.console.print(f"[bold]{node}[/bold] placements of its volunteers — {rows or 'none'}; "
                               f"hours {figures['hours_volunteered'] or 'hidden'}; completion rate {figures['completion_rate']}")
        self.console.print("\nwhere to look:")
        for node, running in self.nodes.items():
            self.console.print(f"  {node}: messages {running.layout.root / 'maildir'} · logs {running.layout.logs}/")
            if not live:
                continue
            urls = self.urls[node]
            self.console.print(f"      dashboard {urls['reporting']}/ · profiles {urls['profiles']}/docs · matching "
                               f"{urls['matching']}/docs (accept, decline) · notifications {urls['notifications']}/docs (retry)")
            self.console.print(f"      sign in at {urls['profiles']}/login as operator, password {self.sign_ins[node]} "
                               f"(one sign-in serves the node's four services; the audit trail is at /audit)")
        if not live:
            self.console.print("  (the services stop with the demo: `make run ARGS=--keep-running` keeps them up to explore)")


async def run(*, data_dir: Path, keep_running: bool, seed: int = demo_data.DEFAULT_SEED,
              console: Console | None = None) -> int:
    console = console or operator_console()
    if (data_dir / "corridor.yaml").exists():
        console.print(f"[yellow]{data_dir} holds an earlier demo; starting afresh in it[/yellow]")
        import shutil

        shutil.rmtree(data_dir)
    corridor = Corridor(data_dir, console, demo_data.corridor(seed))
    try:
        await corridor.start()
        console.print(f"seeded from seed {seed}:")
        for line in corridor.data.summary():
            console.print(f"  {line}", soft_wrap=True)
        with Live(await corridor.progress("seeding"), console=console, refresh_per_second=4) as live:
            await corridor.seed(live)
            await corridor.run_story(live)
        console.print()
        await corridor.report(live=keep_running)
        if keep_running:
            console.print("\nthe corridor keeps running; Ctrl-C stops it")
            await stop_requested().wait()
        return 0
    except DemoError as error:
        console.print(f"[red]demo failed:[/red] {error}")
        return 1
    finally:
        await corridor.stop()
        console.print("corridor stopped")
