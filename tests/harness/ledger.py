"""A small test service on the real runtime: it records each applied event as a row in its ledger.

The ledger's effect is deliberately not idempotent (a plain insert per application), so a count
of rows per event id shows whether an event was applied exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from corridor_contracts import PartnerNode, Registry, public_key_of
from corridor_contracts.signing import new_node_seed
from corridor_runtime.consumer import PermanentFailure, Subscription
from corridor_runtime.registry_file import save_registry
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

NODE = "fr"
SEED = new_node_seed()
OTHER_SEED = new_node_seed()  # a key that is not fr's: what a forger would sign with

metadata = MetaData()
effects = Table(
    "ledger_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
)


class Ledger:
    """The handlers, with switches to make them fail."""

    def __init__(self) -> None:
        self.attempts: dict[str, list[float]] = defaultdict(list)
        self.fail_first: dict[str, int] = {}
        self.always_fail: set[str] = set()
        self.reject: set[str] = set()

    async def apply(self, uow: UnitOfWork, incoming: Incoming) -> None:
        event_id = str(incoming.envelope.event_id)
        self.attempts[event_id].append(time.monotonic())
        if event_id in self.reject:
            raise PermanentFailure("this ledger refuses the event")
        if event_id in self.always_fail or len(self.attempts[event_id]) <= self.fail_first.get(event_id, 0):
            raise RuntimeError("a downstream hiccup")
        await uow.session.execute(insert(effects).values(event_id=event_id, event_type=incoming.envelope.type))


def settings(tmp_path: Path, nats_url: str, database_url: str, **overrides) -> NodeSettings:
    registry_file = tmp_path / "corridor.yaml"
    if not registry_file.exists():
        save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id=NODE, name="Elan (FR)", country="FR")]),
                      registry_file)
    return NodeSettings(node_id=NODE, service="ledger", nats_url=nats_url, database_url=database_url,
                        data_dir=tmp_path, registry_file=registry_file, signing_seed=SEED.decode(), **overrides)


def host(node_settings: NodeSettings, ledger: Ledger, backoff: Sequence[float] = (0.2, 0.4, 0.8),
         ack_wait: float = 60.0) -> ServiceHost:
    handlers = {"VolunteerRegistered": ledger.apply, "VolunteerUpdated": ledger.apply}
    return ServiceHost(
        node_settings,
        metadata=metadata,
        versioned_schema=False,
        subscriptions=[
            Subscription("ledger-local", "LOCAL", handlers, backoff=backoff, ack_wait=ack_wait),
            Subscription("ledger-corridor", "IN", {"OpportunityPublished": ledger.apply}, backoff=backoff, ack_wait=ack_wait),
        ],
    )


async def applied(service: ServiceHost) -> dict[str, int]:
    """How many times each event was applied."""
    async with service.sessions() as session:
        rows = await session.execute(select(effects.c.event_id, func.count()).group_by(effects.c.event_id))
        return {event_id: count for event_id, count in rows}


async def eventually(check, timeout: float = 20.0, interval: float = 0.05):
    """Poll an async check until it returns a truthy value; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)
