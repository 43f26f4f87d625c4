"""A service on its node: wires the database, NATS, the outbox relay, the consumers and status.

A service declares its tables and its subscriptions (handlers per event type); delivery is the
runtime's. `ServiceHost.unit_of_work()` is how HTTP endpoints and other entry points change state
and emit events; consumers give handlers a unit of work of their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import async_sessionmaker

from corridor_contracts import Sealer, Verifier

from .access import NodeAccess
from .connection import connect
from .consumer import Consumer, Subscription
from . import migration
from .database import Database
from . import dead_letters
from .dead_letters import DeadLetters
from .decoding import Decoder
from .outbox import OutboxRelay
from .registry_file import ConfigError, load_registry
from .settings import NodeSettings
from .signals import stop_requested
from .streams import provision
from .telemetry import Telemetry
from .authority import learn_openings
from .tables import DeliveryTables
from .unit_of_work import Emitter, UnitOfWork

log = structlog.get_logger("corridor.service")


def status_subject(node: str, service: str) -> str:
    return f"status.{node}.{service}"


class ServiceHost:
    def __init__(self, settings: NodeSettings, *, metadata: MetaData | None = None,
                 subscriptions: Sequence[Subscription] = (), versioned_schema: bool = True) -> None:
        self.settings = settings
        # A corridor service's schema migrates through its revisions (migration/); a test's or a
        # benchmark's service has none: its tables are created as declared.
        self.versioned_schema = versioned_schema
        self.name = settings.service
        self.metadata = metadata if metadata is not None else MetaData()
        existing = self.metadata.tables.get(f"{self.name}_outbox")
        self.tables = (
            DeliveryTables(outbox=existing, inbox=self.metadata.tables[f"{self.name}_inbox"],
                           authority=self.metadata.tables[f"{self.name}_authority"])
            if existing is not None
            else DeliveryTables.define(self.metadata, self.name)
        )
        self.subscriptions = list(subscriptions)
        # The registry file in use (read before it is loaded: a change in between is picked up later).
        self._registry_digest = (hashlib.sha256(settings.registry_file.read_bytes()).hexdigest()
                                 if settings.registry_file is not None else None)
        registry = settings.registry()
        self.verifier = Verifier(registry.public_keys()) if registry else None
        seed = settings.node_seed()
        self.sealer = Sealer(settings.node_id, seed, registry.sealing_keys()) if registry and seed else None
        self.emitter = Emitter(settings.node_id, settings.signer(), self.sealer, registry)
        self.db = Database(settings.resolved_database_url())
        self.sessions = async_sessionmaker(self.db.engine, expire_on_commit=False)
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[Consumer] = []
        self._tasks: list[asyncio.Task] = []
        self._started_at = time.time()
        self.http_app: FastAPI | None = None  # served on settings.http_port when both are set
        self.access = NodeAccess(settings)  # who may use http_app (access/)
        self.telemetry = Telemetry.of(settings)  # spans and latency histograms (telemetry.py)
        self._loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._http: uvicorn.Server | None = None
        self._failing: dict[str, tuple[str, float]] = {}  # what failed (schema, a loop): why, and when last

    async def start(self) -> None:
        try:
            await self.upgrade_schema()
        except Exception as error:
            await self._refuse_to_run(error)
            return
        self.nc = await self._connect()
        self.js = self.nc.jetstream(timeout=10)
        self.relay = OutboxRelay(self.db, self.tables, self.nc, batch_size=max(self.settings.batch_size, 100))
        dead = DeadLetters(self.js, node=self.settings.node_id, service=self.name)
        decoder = Decoder(self.settings.node_id, self.verifier, self.sealer,
                          replay_window=timedelta(days=self.settings.inbox_retention_days),
                          max_clock_skew=timedelta(seconds=self.settings.max_clock_skew_seconds),
                          refresh_registry=self._read_registry_if_changed)
        learn_openings(self.subscriptions)
        self.consumers = [
            Consumer(
                js=self.js, sessions=self.sessions, writing=self.db.writing, tables=self.tables, emitter=self.emitter, decoder=decoder,
                dead_letters=dead, subscription=sub, node_id=self.settings.node_id,
                batch_size=self.settings.batch_size, max_deliver=self.settings.max_deliver, on_commit=self.relay.wake,
                scrub=self.db.scrub_soon, telemetry=self.telemetry,
            )
            for sub in self.subscriptions
        ]
        await self.nc.subscribe(status_subject(self.settings.node_id, self.name), cb=self._answer_status)
        await self.nc.subscribe(dead_letters.replay_subject(self.settings.node_id, self.name), cb=self._answer_replay)
        self._tasks = [asyncio.create_task(self.relay.run(), name=f"{self.name}-relay")]
        self._tasks += [asyncio.create_task(c.run(), name=f"{self.name}-{c.name}") for c in self.consumers]
        self._tasks.append(asyncio.create_task(self._prune_inboxes(), name=f"{self.name}-inbox-pruning"))
        self._tasks += [asyncio.create_task(self._keep_running(name, loop), name=f"{self.name}-{name}")
                        for name, loop in self._loops]
        if self.settings.registry_file is not None:
            self._tasks.append(asyncio.create_task(self._keep_running("registry", self._follow_registry),
                                                   name=f"{self.name}-registry"))
        if self.http_app is not None:
            await self.open_access()
            self._tasks.append(asyncio.create_task(self._keep_running("access-retention", self._forget_old_access),
                                                   name=f"{self.name}-access-retention"))
        if self.http_app is not None and self.settings.http_port is not None:
            await self._serve_http()
        log.info("service started", consumers=[c.name for c in self.consumers], http=self.http_url)

    async def upgrade_schema(self) -> migration.SchemaState | None:
        """Bring the service's database to this release's schema (start does it; so do the service's
        own commands that open its database)."""
        if not self.versioned_schema:
            await self.db.create_tables(self.metadata)
            return None
        return await migration.upgrade(self.db, self.name)

    async def _refuse_to_run(self, error: Exception) -> None:
        """The database cannot be brought to this release's schema (a newer release wrote it, or an
        upgrade failed): handle nothing, but stay reachable so that `corridor status` shows why."""
        reason = str(error) if isinstance(error, migration.SchemaError) else f"database schema upgrade failed: {error!r}"
        log.error("service refuses to run on its database", reason=reason)
        self._failing["schema"] = (reason, time.time())
        self.nc = await self._connect()
        await self.nc.subscribe(status_subject(self.settings.node_id, self.name), cb=self._answer_status)

    def add_loop(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """A background loop of the service (e.g. matching rounds), run from start to stop."""
        self._loops.append((name, loop))

    async def open_access(self) -> None:
        """Sign-in, roles and the audit trail on http_app (start does it; a test without a broker too),
        and its requests' spans and latency histogram."""
        self.telemetry.instrument(self.http_app)
        await self.access.start()
        self.access.install(self.http_app)

    async def _forget_old_access(self) -> None:
        while True:
            await self.access.forget_old()
            await asyncio.sleep(6 * 3600)

    async def _follow_registry(self) -> None:
        """Pick up a changed registry without a restart: trust the keys it lists, seal for them, and
        source IN from every peer it names (provisioning is idempotent, so each service may do it)."""
        provisioned = self._registry_digest
        while True:
            await asyncio.sleep(self.settings.registry_poll_seconds)
            self._read_registry_if_changed()
            if self._registry_digest != provisioned and self.emitter.registry is not None:
                registry = self.emitter.registry
                await provision(self.js, self.settings.node_id, [p.id for p in registry.peers_of(self.settings.node_id)])
                provisioned = self._registry_digest

    def _read_registry_if_changed(self) -> bool:
        """Trust and seal for the registry file as it is now, if it changed and is valid; True then.
        The follow loop calls it, and so does the decoder for an event from a node it does not know."""
        path = self.settings.registry_file
        if path is None:
            return False
        try:
            content = path.read_bytes()
        except OSError as error:
            log.error("registry file unreadable; keeping the registry in use", file=str(path), error=str(error))
            return False
        digest = hashlib.sha256(content).hexdigest()
        if digest == self._registry_digest:
            return False
        self._registry_digest = digest
        try:
            registry = load_registry(path)
            registry.peers_of(self.settings.node_id)
        except (ConfigError, KeyError) as error:
            log.error("registry change refused; keeping the registry in use", file=str(path), error=str(error))
            return False
        if self.verifier is not None:
            self.verifier.replace(registry.public_keys())
        if self.sealer is not None:
            self.sealer.sealing_keys = registry.sealing_keys()
        self.emitter.registry = registry
        log.info("registry change picked up", nodes=sorted(n.id for n in registry.nodes))
        return True

    async def _keep_running(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("background loop failed; restarting it", loop=name)
                self._failing[name] = (repr(error), time.time())
                await asyncio.sleep(1.0)

    @property
    def http_url(self) -> str | None:
        if self._http is None or not self._http.started:
            return None
        host, port = self._http.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def _serve_http(self) -> None:
        config = uvicorn.Config(self.http_app, host=self.settings.http_host, port=self.settings.http_port,
                                log_config=None, access_log=False, lifespan="off")
        self._http = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._http.serve(), name=f"{self.name}-http"))
        while not self._http.started:
            if self._tasks[-1].done():
                self._tasks[-1].result()  # raises why it could not start
                raise RuntimeError(f"HTTP server of {self.name} stopped at start")
            await asyncio.sleep(0.02)

    async def _connect(self) -> Client:
        delay = 0.2
        while True:
            try:
                return await connect(self.settings.nats_url, name=f"{self.settings.node_id}-{self.name}")
            except Exception as error:  # the node's nats-server is not up yet: wait for it
                log.warning("cannot reach nats-server yet", url=self.settings.nats_url, error=repr(error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def stop(self) -> None:
        if self._http is not None:
            self._http.should_exit = True
            await asyncio.sleep(0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for consumer in self.consumers:
            log.info("consumer stopped", consumer=consumer.name, **dataclasses.asdict(consumer.counters))
        if self.nc is not None:
            try:
                await self.nc.drain()
            except Exception:
                await self.nc.close()
            self.nc = None
        await self.db.dispose()
        await self.access.stop()
        self.telemetry.shutdown()
        log.info("service stopped")

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Change state and emit events in one transaction; the relay is woken after commit."""
        async with self.db.writing(), self.sessions() as session, session.begin():
            uow = UnitOfWork(session, self.tables, self.emitter, scrub=self.db.scrub_soon)
            yield uow
            await uow.flush()
        if uow.emitted and self.relay is not None:
            self.relay.wake()
        for callback in uow.committed:
            callback()

    async def status(self) -> dict:
        consumers = []
        for consumer in self.consumers:
            entry = {"name": consumer.name, "stream": consumer.subscription.stream, **vars(consumer.counters)}
            try:
                info = await self.js.consumer_info(consumer.subscription.stream, consumer.name)
                entry.update(pending=info.num_pending, ack_pending=info.num_ack_pending)
            except Exception as error:
                entry.update(error=repr(error))
            consumers.append(entry)
        return {
            "node": self.settings.node_id,
            "service": self.name,
            "uptime_s": round(time.time() - self._started_at, 1),
            "outbox_backlog": await self.relay.backlog() if self.relay else None,
            "published": self.relay.published if self.relay else 0,
            "http": self.http_url,
            "consumers": consumers,
            "failing": self.failing(),
        }

    def failing(self) -> dict[str, str]:
        """What keeps failing: a schema this release cannot run on, or a background loop that failed
        within the last minute (it is restarted every second, so a lasting fault stays listed)."""
        recent = time.time() - 60
        return {name: why for name, (why, when) in self._failing.items() if name == "schema" or when > recent}

    async def _answer_status(self, msg) -> None:
        try:
            # With its own histograms, which reporting's /metrics serves (not in /health, which anyone may read).
            body = {**await self.status(), "metrics": self.telemetry.exposition()}
        except Exception as error:
            body = {"node": self.settings.node_id, "service": self.name, "error": repr(error)}
        await msg.respond(json.dumps(body).encode())

    async def _answer_replay(self, msg) -> None:
        """An operator's request to apply one of this service's dead letters again, after a fix."""
        try:
            sequence = int(json.loads(msg.data)["sequence"])
            letter = await dead_letters.fetch(self.js, sequence)
            consumer = next((c for c in self.consumers if c.name == letter.consumer), None)
            if consumer is None or dead_letters.service_of(letter) != self.name:
                raise ValueError(f"dead letter {sequence} is {letter.consumer!r}'s, not a consumer of {self.name}")
            applied = await consumer.apply_again(letter.original_subject, letter.data)
            await self.js.delete_msg(dead_letters.STREAM, sequence)
            log.info("dead letter applied again", sequence=sequence, consumer=letter.consumer, applied=applied,
                     subject=letter.original_subject)
            body = {"sequence": sequence, "consumer": letter.consumer, "applied": applied}
        except Exception as error:
            log.warning("dead letter replay failed; the letter stays", error=str(error))
            body = {"error": str(error)}
        await msg.respond(json.dumps(body).encode())

    async def _prune_inboxes(self) -> None:
        keep = timedelta(days=self.settings.inbox_retention_days)
        while True:
            await asyncio.sleep(3600)
            try:
                async with self.db.writing(), self.sessions() as session, session.begin():
                    for consumer in self.consumers:
                        await consumer.inbox.prune(session, keep)
            except Exception:
                log.exception("inbox pruning failed")

    async def run_until_stopped(self) -> None:
        """Run until SIGTERM or SIGINT, then stop cleanly."""
        stop = stop_requested()
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
