"""Home matching is killed while it holds the host's PlacementConfirmed, fetched and not acknowledged;
the host then starts and completes the placement. Home and host must end in agreement (status and
hours), soon: not after the server's ack wait, and not "confirmed" for ever.

Black-box: a hub and two partner nodes (fr: her home, es: the host), each with its own nats-server
(JetStream domain) and its profiles and matching services as separate processes on SQLite files.
Processes are paused (SIGSTOP), resumed and killed (SIGKILL) by their pid. The operators' steps
(she accepts; the host starts, approves hours, completes) are made as the services' APIs make them:
the services' own functions in a unit of work on the service's database, from this process; the
running service's outbox relay publishes what they commit. State is read from the SQLite files.

The kill must land while home matching holds the confirmation. Home matching is paused right after
it asked the server for the next message, and the host is resumed: its confirmation is delivered
into the paused process (the server counts it as delivered, awaiting its ack). If the host was too
slow (the pull expired first) or another event took that delivery, the attempt is played again on
a new placement.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import secrets
import signal
import sqlite3
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import nats
import pytest

from corridor_contracts import PartnerNode, Registry
from corridor_contracts.values import MatchSummary
from corridor_matching import saga
from corridor_matching.bootstrap import build as build_matching
from corridor_profiles import opportunities, organisations, placements
from corridor_profiles.bootstrap import build as build_profiles
from corridor_runtime.nats_server import LeafUser, NatsServer, free_port, leaf_remote
from corridor_runtime.node import NodeLayout, RunningNode, ensure_keys
from corridor_runtime.registry_file import save_registry
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision

pytestmark = [pytest.mark.nats, pytest.mark.faults]
HOME, HOST = "fr", "es"
NODES = {HOME: ("Elan Interculturel", "FR"), HOST: ("Cámara de Comercio de Sevilla", "ES")}
ATTEMPTS = 6
AGREEMENT_TIMEOUT = 150.0  # more than twice the old ack wait (60 s): long enough to see a node stuck


class Corridor:
    """The hub and the two nodes, with profiles and matching on each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.registry_file = root / "corridor.yaml"
        self.hub = NatsServer(name="hub", store_dir=root / "hub", jetstream=False, leafnode_port=free_port(),
                              leaf_users=[LeafUser(n, n, secrets.token_urlsafe(16), list(NODES)) for n in NODES])
        self.nodes: dict[str, RunningNode] = {}
        self.paused: set[int] = set()

    async def start(self) -> None:
        keys = {node: ensure_keys(NodeLayout(self.root, node)) for node in NODES}
        save_registry(Registry(corridor="crash-test", nodes=[
            PartnerNode.of_seed(keys[n], id=n, name=name, country=country, leafnode_user=n)
            for n, (name, country) in NODES.items()]), self.registry_file)
        self.hub.start()
        for node in NODES:
            layout = NodeLayout(self.root, node)
            server = NatsServer(name=node, store_dir=layout.root / "nats", domain=node,
                                remotes=[leaf_remote(node, self.hub.leaf_url(node))])
            self.nodes[node] = RunningNode(layout, server, registry_file=self.registry_file)
            server.start()
            nc = await nats.connect(server.url)
            try:
                await provision(nc.jetstream(), node, [p for p in NODES if p != node])
            finally:
                await nc.close()
        for running in self.nodes.values():
            running.start_services(("profiles", "matching"))
        for node, running in self.nodes.items():
            answers = await running.health(timeout=90)
            down = {s: a["error"] for s, a in answers.items() if "error" in a}
            assert not down, f"node {node}: services down: {down}"

    def pid(self, node: str, service: str) -> int:
        return self.nodes[node].processes[service].pid

    def pause(self, node: str, service: str) -> None:
        pid = self.pid(node, service)
        os.kill(pid, signal.SIGSTOP)
        self.paused.add(pid)

    def resume(self, node: str, service: str) -> None:
        pid = self.pid(node, service)
        os.kill(pid, signal.SIGCONT)
        self.paused.discard(pid)

    def kill_and_restart(self, node: str, service: str) -> None:
        process = self.nodes[node].processes[service]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.paused.discard(process.pid)
        self.nodes[node].start_services((service,))

    def stop(self) -> None:
        """Everything this test started stops, whatever state the test left it in."""
        for running in self.nodes.values():
            for process in running.processes.values():
                if process.poll() is None and process.pid in self.paused:
                    os.kill(process.pid, signal.SIGCONT)
        for running in self.nodes.values():
            running.stop()
        self.hub.stop()

    def rows(self, node: str, service: str, query: str, *params) -> list[tuple]:
        database = self.nodes[node].layout.root / f"{service}.sqlite"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(query, params).fetchall()

    def desk(self, node: str, service: str) -> ServiceHost:
        """The service's functions on the node's database, as an operator's request runs them."""
        layout = self.nodes[node].layout
        settings = NodeSettings(node_id=node, service=service, nats_url=self.nodes[node].server.url,
                                database_url=layout.database_url(service), data_dir=layout.data_dir,
                                registry_file=self.registry_file, signing_seed_file=layout.seed_file,
                                pseudonym_secret_file=layout.pseudonym_file)
        return build_profiles(settings) if service == "profiles" else build_matching(settings)


async def within(what: str, check, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for: {what} (last: {value!r})")
        await asyncio.sleep(interval)


async def _count(nc, stream: str, subject: str) -> int:
    info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


@pytest.mark.timeout(900)
async def test_home_and_host_agree_after_home_matching_dies_holding_the_confirmation(tmp_path):
    corridor = Corridor(tmp_path)
    desks: list[ServiceHost] = []
    clients: list = []
    try:
        await corridor.start()
        home_nc = await nats.connect(corridor.nodes[HOME].server.url)
        host_nc = await nats.connect(corridor.nodes[HOST].server.url)
        clients += [home_nc, host_nc]
        host_profiles, home_matching = corridor.desk(HOST, "profiles"), corridor.desk(HOME, "matching")
        desks += [host_profiles, home_matching]
        secret = home_matching.settings.pseudonym_key()
        deadlines = saga.Deadlines(request=timedelta(days=5))

        async with host_profiles.unit_of_work() as uow:
            org = await organisations.register(uow, organisations.NewOrganisation.model_validate({
                "name": "Asesoría Giralda", "kind": "business", "sector": "accounting", "country": "ES",
                "city": "Sevilla",
                "contact": {"name": "Carmen Ruiz", "email": "carmen@giralda.example.es", "preferred_language": "es"}}))
            role = await opportunities.publish(uow, opportunities.NewOpportunity.model_validate({
                "organisation_id": str(org.organisation_id), "title": "Auxiliar contable",
                "required_skills": [{"code": "accounting.bookkeeping"}],
                "languages": [{"language": "es", "level": "B2"}],
                "place": {"country": "ES", "city": "Sevilla"}, "hours_per_week": 10, "starts_on": "2027-02-01",
                "slots_total": ATTEMPTS}))

        # Home matching's pull requests on IN, as the server sees them.
        pulls: asyncio.Queue[float] = asyncio.Queue()

        async def pulled(msg) -> None:
            try:
                if json.loads(msg.data or b"{}").get("batch") == 1:
                    pulls.put_nowait(time.monotonic())
            except ValueError:
                pass
        await home_nc.subscribe("$JS.API.CONSUMER.MSG.NEXT.IN.matching-corridor", cb=pulled)

        held = None
        for attempt in range(1, ATTEMPTS + 1):
            async with home_matching.unit_of_work() as uow:
                placement_id = await saga.propose(uow, volunteer_id=str(uuid.uuid4()),
                                                  opportunity_id=str(role.opportunity_id), host_node=HOST,
                                                  match=MatchSummary(score=0.8), deadlines=deadlines)
            corridor.pause(HOST, "profiles")  # the host is away
            async with home_matching.unit_of_work() as uow:  # she accepts
                await saga.accept(uow, placement_id, secret=secret, deadlines=deadlines)
            requested = f"corridor.direct.{HOST}.{HOME}.PlacementRequested"
            await within("her request in the host's IN", partial(_at_least, host_nc, "IN", requested, attempt), 30)

            while not pulls.empty():
                pulls.get_nowait()
            await asyncio.wait_for(pulls.get(), timeout=10)  # home matching just asked for the next message
            corridor.pause(HOME, "matching")
            corridor.resume(HOST, "profiles")  # the host confirms
            confirmed = f"corridor.direct.{HOME}.{HOST}.PlacementConfirmed"
            await within("the confirmation in the home's IN", partial(_at_least, home_nc, "IN", confirmed, attempt), 30)
            await asyncio.sleep(0.5)  # let a delivery to the paused process settle
            sequence = (await home_nc.jetstream().get_last_msg("IN", confirmed)).seq
            info = await home_nc.jetstream().consumer_info("IN", "matching-corridor")
            if info.num_ack_pending >= 1 and info.delivered.stream_seq == sequence:
                held = placement_id
                break
            corridor.resume(HOME, "matching")  # missed: it gets the confirmation now; play it again
            await within("the missed attempt confirmed at home", partial(
                corridor.rows, HOME, "matching",
                "SELECT 1 FROM matching_placements WHERE placement_id = ? AND status = 'confirmed'",
                str(placement_id)), 60)
        assert held is not None, f"home matching never held the confirmation in {ATTEMPTS} attempts"

        corridor.kill_and_restart(HOME, "matching")  # SIGKILL while it holds the confirmation, unacked
        restarted = time.monotonic()

        # The host starts the placement, approves hours and completes it while home matching restarts.
        async with host_profiles.unit_of_work() as uow:
            await placements.start(uow, held, placements.Start(started_on=date(2027, 2, 1)))
        for worked_on, hours in ((date(2027, 2, 2), "1.5"), (date(2027, 2, 9), "2.5")):
            async with host_profiles.unit_of_work() as uow:
                entry = await placements.log_hours(uow, held,
                                                   placements.HoursEntry(worked_on=worked_on, hours=Decimal(hours)))
                await placements.approve_hours(uow, held, entry.entry_id,
                                               placements.Approval(approved_by="Carmen Ruiz"))
        async with host_profiles.unit_of_work() as uow:
            await placements.complete(uow, held, placements.Completion(completed_on=date(2027, 5, 31)))
        completed_at_host = time.monotonic()

        def sides():
            [(home_status, home_hours)] = corridor.rows(
                HOME, "matching", "SELECT status, hours FROM matching_placements WHERE placement_id = ?", str(held))
            [(host_status,)] = corridor.rows(HOST, "profiles", "SELECT status FROM profiles_host_placements "
                                                               "WHERE placement_id = ?", str(held))
            [(host_hours,)] = corridor.rows(HOST, "profiles", "SELECT coalesce(sum(hours), 0) FROM "
                                            "profiles_hours_entries WHERE placement_id = ? AND approved_at IS NOT NULL",
                                            str(held))
            return (home_status, Decimal(str(home_hours)).quantize(Decimal("0.01"))), \
                   (host_status, Decimal(str(host_hours)).quantize(Decimal("0.01")))

        def agree():
            home, host = sides()
            return home == host == ("completed", Decimal("4.00"))
        try:
            await within("home and host agree", agree, AGREEMENT_TIMEOUT, interval=0.2)
        except AssertionError:
            home, host = sides()
            raise AssertionError(f"after {AGREEMENT_TIMEOUT:.0f}s home says {home}, the host says {host}") from None
        converged = time.monotonic()
        print(f"\nheld the confirmation on attempt {attempt}; "
              f"agreement {converged - restarted:.1f}s after the restart, "
              f"{converged - completed_at_host:.1f}s after the host completed")
        assert converged - restarted < 30, "convergence took about an ack wait: the held batch was not taken back"
    finally:
        for nc in clients:
            await nc.close()
        for desk in desks:
            await desk.db.dispose()
        corridor.stop()


async def _at_least(nc, stream: str, subject: str, count: int) -> bool:
    return await _count(nc, stream, subject) >= count
