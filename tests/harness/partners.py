"""Partner nodes for corridor tests: this project's services on a node's own nats-server, and a
partner written from outside the project that sends whatever its test tells it to.

Both are admitted through the registry and talk to the others only through their own nats-server,
joined to the hub as a leaf: what reaches an honest node is what would reach it in production.
"""

from __future__ import annotations

import mailbox
import secrets
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path

import nats
from corridor_contracts import Envelope, Event, PartnerNode, Registry, subjects
from corridor_matching.bootstrap import build as build_matching
from corridor_matching.saga import Deadlines
from corridor_notifications.bootstrap import build as build_notifications
from corridor_notifications.settings import NotificationSettings
from corridor_profiles.bootstrap import build as build_profiles
from corridor_reporting.bootstrap import build as build_reporting
from corridor_runtime import dead_letters
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision

from harness.access import signed_in_client
from harness.streams import shared, stream_messages


class PartnerNodeUnderTest:
    """One partner's node: profiles, matching and notifications (and reporting, if asked) on SQLite
    files under `tmp_path/<node>`, with in-process HTTP clients for their APIs."""

    def __init__(self, node: str, tmp_path: Path, nats_url: str, registry: Path, seeds: dict[str, bytes], *,
                 reporting: bool = False, deadlines: Deadlines | None = None) -> None:
        self.node, self.tmp, self.nats_url = node, tmp_path / node, nats_url

        def settings(service):
            return NodeSettings(node_id=node, service=service, nats_url=nats_url, data_dir=tmp_path,
                                database_url=f"sqlite+aiosqlite:///{tmp_path / node / (service + '.sqlite')}",
                                registry_file=registry, signing_seed=seeds[node].decode(),
                                pseudonym_secret=secrets.token_hex(32))

        self.profiles_host = build_profiles(settings("profiles"))
        self.matching_host = build_matching(settings("matching"), deadlines=deadlines or Deadlines(), round_every=0.5)
        self.notifications_host = build_notifications(settings("notifications"),
                                                      NotificationSettings(maildir=self.tmp / "maildir"))
        self.hosts = [self.profiles_host, self.matching_host, self.notifications_host]
        if reporting:
            self.reporting_host = build_reporting(settings("reporting"))
            self.hosts.append(self.reporting_host)
        self.profiles = signed_in_client(self.profiles_host, "http://p")
        self.matching = signed_in_client(self.matching_host, "http://m")

    async def start(self):
        for host in self.hosts:
            await host.start()

    async def stop(self):
        await self.profiles.aclose()
        await self.matching.aclose()
        for host in self.hosts:
            await host.stop()

    def mail(self) -> list:
        folder = self.tmp / "maildir"
        return list(mailbox.Maildir(folder, create=False)) if folder.exists() else []

    def mail_text(self) -> str:
        """Every message of the node's Maildir as one text (headers and decoded bodies)."""
        texts = []
        for message in self.mail():
            texts.append(str(message))
            for part in message.walk():
                body = part.get_payload(decode=True)
                if body:
                    texts.append(body.decode("utf-8", errors="replace"))
        return "\n".join(texts)

    def rows(self, service: str, query: str, *params) -> list[tuple]:
        """Rows of one of the node's database files, read as an operator with sqlite3 could."""
        with sqlite3.connect(self.tmp / f"{service}.sqlite") as db:
            return db.execute(query, params).fetchall()

    def consumers_of(self, event_type: str) -> set[str]:
        """The node's consumers that read this event type from IN."""
        return {c.name for host in self.hosts for c in host.consumers
                if c.subscription.stream == "IN" and event_type in c.subscription.handlers}

    async def dead_letters(self) -> list[dead_letters.DeadLetter]:
        nc = await nats.connect(self.nats_url)
        try:
            return await dead_letters.read_all(nc.jetstream())
        finally:
            await nc.close()

    async def stream(self, name: str) -> list:
        nc = await nats.connect(self.nats_url)
        try:
            return await stream_messages(nc.jetstream(), name)
        finally:
            await nc.close()


class Impostor:
    """A registered partner that misbehaves: it signs (and, addressed, seals) whatever it is told to
    send with its own key, as its own node would, and publishes it into its own OUT stream."""

    def __init__(self, node: str, nats_url: str, seeds: dict[str, bytes]) -> None:
        self.node, self.nats_url, self._seeds = node, nats_url, seeds

    def envelope(self, event: Event, *, target: str | None = None, occurred_at: datetime | None = None,
                 correlation_id: uuid.UUID | None = None) -> Envelope:
        envelope = Envelope.wrap(event, origin=self.node, target=target, correlation_id=correlation_id,
                                 occurred_at=occurred_at or datetime.now(timezone.utc))
        return shared(envelope, self._seeds)

    async def send(self, event: Event, **options) -> Envelope:
        envelope = self.envelope(event, **options)
        await self.publish(envelope)
        return envelope

    async def publish(self, envelope: Envelope) -> None:
        nc = await nats.connect(self.nats_url)
        try:
            await nc.jetstream().publish(subjects.for_envelope(envelope, node=self.node), envelope.encode(),
                                         headers={"Nats-Msg-Id": str(envelope.event_id)})
        finally:
            await nc.close()

    async def resign(self, wire: dict, **changes) -> Envelope:
        """Another node's event (as it was broadcast) under this node's name: new id, origin, signature."""
        copy = {**wire, "event_id": str(uuid.uuid4()), "origin": self.node, "signature": None, **changes}
        envelope = shared(Envelope.model_validate(copy), self._seeds)
        await self.publish(envelope)
        return envelope


async def publish_accounting_role(es, *, slots_total: int = 1) -> dict:
    """Spain: a business in Seville (Spanish law lets companies host) publishes an accounting role."""
    org = (await es.profiles.post("/organisations", json={
        "name": "Asesoría Giralda", "kind": "business", "sector": "accounting", "country": "ES", "city": "Sevilla",
        "contact": {"name": "Carmen Ruiz", "email": "carmen@giralda.example.es", "preferred_language": "es"}})).json()
    return (await es.profiles.post("/opportunities", json={
        "organisation_id": org["organisation_id"], "title": "Auxiliar contable", "required_skills": [{"code": "accounting.bookkeeping"}],
        "languages": [{"language": "es", "level": "B2"}], "place": {"country": "ES", "region": "Andalucía", "city": "Sevilla"},
        "hours_per_week": 10, "starts_on": "2027-02-01", "slots_total": slots_total})).json()


async def placement_of(home, volunteer_id, status):
    """Her placement in that status at her home node's matching, if there is one."""
    items = (await home.matching.get(f"/placements?volunteer_id={volunteer_id}")).json()["items"]
    return next((p for p in items if p["status"] == status), None)


async def admit(tmp_path: Path, servers: dict, nodes: dict[str, tuple[str, str]], seeds: dict[str, bytes]) -> Path:
    """A corridor's registry listing `nodes` (id → (name, country)) with their keys, and each node's
    streams provisioned with the others as peers; returns the registry file."""
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(seeds[n], id=n, name=name, country=country)
                                  for n, (name, country) in nodes.items()]), registry)
    for node, server in servers.items():
        nc = await nats.connect(server.url)
        try:
            await provision(nc.jetstream(), node, peers=[p for p in servers if p != node])
        finally:
            await nc.close()
    return registry
