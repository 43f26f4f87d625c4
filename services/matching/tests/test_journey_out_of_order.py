"""A placement's later steps reach the home node in the batch of an earlier step that fails once, on
a real nats-server and database, one node playing both home and host (profiles and matching as
they run on a node): the home still ends where the host is, with its hours.

Home matching is down while the host confirms, starts, logs hours and completes the placement, so
all of it waits in its IN stream and comes in one batch when matching is back. The handler of
PlacementConfirmed fails on the event's first delivery (in the batch, and again when the consumer
applies the batch's events one by one); the redelivery succeeds.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import date, timedelta
from decimal import Decimal

import nats
import pytest
from sqlalchemy import select

from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_contracts.values import MatchSummary
from corridor_matching import saga
from corridor_matching.bootstrap import build as build_matching
from corridor_matching.tables import placements as home_placements
from corridor_profiles import opportunities, organisations, placements
from corridor_profiles.bootstrap import build as build_profiles
from corridor_profiles.errors import NotFound
from corridor_runtime import dead_letters
from corridor_runtime.registry_file import save_registry
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from corridor_runtime.unit_of_work import Incoming, UnitOfWork
from harness.ledger import eventually

pytestmark = pytest.mark.nats
SEED = new_node_seed()
SECRET = secrets.token_hex(32)


def settings(tmp_path, nats_url, database_url, service) -> NodeSettings:
    registry = tmp_path / "corridor.yaml"
    if not registry.exists():
        save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR")]), registry)
    return NodeSettings(node_id="fr", service=service, nats_url=nats_url, database_url=database_url, data_dir=tmp_path,
                        registry_file=registry, signing_seed=SEED.decode(), pseudonym_secret=SECRET)


class FailsOnFirstDelivery:
    """A handler that fails on its event's first delivery: when the consumer applies the batch, and
    again when it applies the batch's events one by one. The redelivery goes through."""

    def __init__(self, handler) -> None:
        self.handler, self.calls = handler, 0

    async def __call__(self, uow: UnitOfWork, incoming: Incoming) -> None:
        self.calls += 1
        if self.calls <= 2:
            raise RuntimeError("a downstream hiccup")
        await self.handler(uow, incoming)


async def _stop(host: ServiceHost) -> None:
    """Stops a service once its outbox is published. (A stop that lands while a commit wakes the
    relay can be lost in asyncio.wait_for on Python 3.11 and leave the relay running.)"""
    async def drained():
        outbox = host.tables.outbox
        async with host.sessions() as session:
            return (await session.execute(select(outbox.c.seq).where(outbox.c.published_at.is_(None)))).first() is None
    assert await eventually(drained, timeout=30)
    await asyncio.sleep(0.1)
    await host.stop()


async def _in_stream(js, event_type: str) -> int:
    info = await js.stream_info("IN", subjects_filter=f"corridor.direct.fr.fr.{event_type}")
    return sum((info.state.subjects or {}).values())


@pytest.fixture
async def services(tmp_path, nats_node, database_url):
    """Builds (not starts) the node's services; every one started is stopped at the end."""
    nc = await nats.connect(nats_node.url)
    await provision(nc.jetstream(), "fr", peers=[])
    started: list[ServiceHost] = []

    async def start(service: str, prepare=lambda host: None) -> ServiceHost:
        the_settings = settings(tmp_path, nats_node.url, database_url, service)
        host = build_profiles(the_settings) if service == "profiles" else build_matching(the_settings, round_every=3600)
        prepare(host)
        await host.start()
        started.append(host)
        return host

    try:
        yield start, nc.jetstream()
    finally:
        for host in started:
            if host.nc is not None:
                await _stop(host)
        await nc.close()


async def test_the_home_ends_where_the_host_is_when_the_confirmation_fails_in_the_batch_of_later_steps(services):
    start, js = services
    host = await start("profiles")
    async with host.unit_of_work() as uow:
        org = await organisations.register(uow, organisations.NewOrganisation.model_validate({
            "name": "Maison des aînés", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
            "contact": {"name": "Claire Martin", "email": "claire@aines.example.fr", "preferred_language": "fr"}}))
        role = await opportunities.publish(uow, opportunities.NewOpportunity.model_validate({
            "organisation_id": str(org.organisation_id), "title": "Companion",
            "required_skills": [{"code": "care.elderly-care"}],
            "languages": [{"language": "fr", "level": "B1"}], "place": {"country": "FR", "city": "Lyon"},
            "hours_per_week": 8, "starts_on": "2027-01-11", "slots_total": 1}))
    await _stop(host)  # the host is away when she accepts

    home = await start("matching")
    deadlines = saga.Deadlines(request=timedelta(days=5))
    async with home.unit_of_work() as uow:
        placement_id = await saga.propose(uow, volunteer_id=str(uuid.uuid4()), opportunity_id=str(role.opportunity_id),
                                          host_node="fr", match=MatchSummary(score=0.8), deadlines=deadlines)
    async with home.unit_of_work() as uow:
        await saga.accept(uow, placement_id, secret=bytes.fromhex(SECRET), deadlines=deadlines)
    assert await eventually(lambda: _in_stream(js, "PlacementRequested"), timeout=30)
    await _stop(home)  # home matching is down while the host answers and runs the placement

    host = await start("profiles")

    async def confirmed():
        async with host.sessions() as session:
            try:
                return (await placements.get(session, placement_id)).status == placements.Status.CONFIRMED
            except NotFound:
                return False
    assert await eventually(confirmed, timeout=30)
    async with host.unit_of_work() as uow:
        await placements.start(uow, placement_id, placements.Start(started_on=date(2027, 1, 11)))
    for worked_on, hours in ((date(2027, 1, 12), "3"), (date(2027, 1, 19), "4.5")):
        async with host.unit_of_work() as uow:
            entry = await placements.log_hours(uow, placement_id,
                                               placements.HoursEntry(worked_on=worked_on, hours=Decimal(hours)))
            await placements.approve_hours(uow, placement_id, entry.entry_id,
                                           placements.Approval(approved_by="Claire Martin"))
    async with host.unit_of_work() as uow:
        await placements.complete(uow, placement_id, placements.Completion(completed_on=date(2027, 3, 31)))
    assert await eventually(lambda: _in_stream(js, "PlacementCompleted"), timeout=30)

    failing: list[FailsOnFirstDelivery] = []

    def fail_confirmation_once(matching: ServiceHost) -> None:
        corridor = next(s for s in matching.subscriptions if s.name == "matching-corridor")
        failing.append(FailsOnFirstDelivery(corridor.handlers["PlacementConfirmed"]))
        corridor.handlers["PlacementConfirmed"] = failing[0]

    home = await start("matching", fail_confirmation_once)

    async def home_side():
        async with home.sessions() as session:
            row = (await session.execute(select(home_placements).where(
                home_placements.c.placement_id == str(placement_id)))).one()
        return row if row.status == saga.Status.COMPLETED else None
    try:
        done = await eventually(home_side, timeout=30)
    except AssertionError:
        async with home.sessions() as session:
            row = (await session.execute(select(home_placements).where(
                home_placements.c.placement_id == str(placement_id)))).one()
        raise AssertionError(f"home says {row.status} ({row.hours} h), the host says completed") from None
    async with host.sessions() as session:
        hosted = await placements.get(session, placement_id)

    assert failing[0].calls == 3  # the batch, alone, and its redelivery
    assert (hosted.status, hosted.approved_hours) == (placements.Status.COMPLETED, Decimal("7.50"))
    assert (done.status, Decimal(str(done.hours))) == (saga.Status.COMPLETED, Decimal("7.50"))
    assert (done.started_on, done.completed_on) == (date(2027, 1, 11), date(2027, 3, 31))
    assert await dead_letters.read_all(js) == []
