"""Prometheus metrics for operators, for every service of the node (not only reporting).

A background loop asks each service for its status over NATS (status.<node>.<service>), reads the
dead-letter stream and the IN stream; /metrics serves the last reading in Prometheus' text format.

Each service measures its own handlers and HTTP requests (corridor_runtime.telemetry) and puts its
histograms in its status answer; they are served here as they came, with the node and service as
labels. One scrape of one address covers the node: a service that has no HTTP port is measured
too, and a service that does not answer shows as down rather than as a missing target.

A peer gone silent: for each partner the registry lists, the time the IN stream last stored an event
from it (broadcast or addressed to this node). The stream holds it across restarts of this service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import nats.errors
import structlog
from corridor_runtime import dead_letters
from corridor_runtime.node import SERVICES
from corridor_runtime.service import ServiceHost, status_subject
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

log = structlog.get_logger("corridor.reporting.metrics")


class NodeMetrics:
    def __init__(self, host: ServiceHost, *, services: tuple[str, ...] = SERVICES, every: float = 5.0) -> None:
        self._host = host
        self._services = services
        self._every = every
        self.registry = CollectorRegistry()
        labels = ["node", "service", "consumer", "stream"]
        self.up = Gauge("corridor_service_up", "1 when the service answered its status request", ["node", "service"],
                        registry=self.registry)
        self.processed = Gauge("corridor_events_processed", "events applied by a consumer since it started", labels,
                               registry=self.registry)
        self.duplicates = Gauge("corridor_events_duplicate", "redelivered events skipped by the inbox", labels,
                                registry=self.registry)
        self.refused = Gauge("corridor_events_refused", "events refused because their origin may not state what they "
                             "state (each also dead-lettered)", labels, registry=self.registry)
        self.superseded = Gauge("corridor_events_superseded", "older versions of a datum than the one applied, passed over",
                                labels, registry=self.registry)
        self.lag = Gauge("corridor_consumer_lag", "events in the stream not yet delivered to the consumer", labels,
                         registry=self.registry)
        self.unacked = Gauge("corridor_consumer_ack_pending", "events delivered and not yet acknowledged", labels,
                             registry=self.registry)
        self.backlog = Gauge("corridor_outbox_backlog", "outbox rows committed and not yet published", ["node", "service"],
                             registry=self.registry)
        self.dead = Gauge("corridor_dead_letters", "messages kept in the dead-letter stream", ["node", "service"],
                          registry=self.registry)
        self.peer_last_event = Gauge(
            "corridor_peer_last_event_timestamp_seconds",
            "when this node's IN stream last stored an event from the peer node (Unix time)", ["node", "peer"],
            registry=self.registry)
        self.services_own = ServicesOwnMetrics(self._host.settings.node_id)
        self.registry.register(self.services_own)

    async def refresh(self) -> None:
        node, nc, js = self._host.settings.node_id, self._host.nc, self._host.js
        for service in self._services:
            try:
                reply = await nc.request(status_subject(node, service), b"", timeout=2.0)
                status = json.loads(reply.data)
            except Exception:  # noqa: BLE001 — no answer, or not one to read: the service counts as down
                self.up.labels(node, service).set(0)
                self.services_own.forget(service)
                continue
            self.up.labels(node, service).set(1)
            self.services_own.take(service, status.get("metrics"))
            if status.get("outbox_backlog") is not None:
                self.backlog.labels(node, service).set(status["outbox_backlog"])
            for consumer in status.get("consumers", []):
                key = (node, service, consumer["name"], consumer["stream"])
                self.processed.labels(*key).set(consumer.get("processed", 0))
                self.duplicates.labels(*key).set(consumer.get("duplicates", 0))
                self.refused.labels(*key).set(consumer.get("refused", 0))
                self.superseded.labels(*key).set(consumer.get("superseded", 0))
                self.lag.labels(*key).set(consumer.get("pending", 0))
                self.unacked.labels(*key).set(consumer.get("ack_pending", 0))
        try:
            info = await js.stream_info(dead_letters.STREAM, subjects_filter=f"deadletter.{node}.>")
            per_service: dict[str, int] = {s: 0 for s in self._services}
            for subject, count in (info.state.subjects or {}).items():
                service = subject.split(".")[2]
                per_service[service] = per_service.get(service, 0) + count
            for service, count in per_service.items():
                self.dead.labels(node, service).set(count)
        except Exception as error:  # noqa: BLE001 — the other readings stand without it
            log.warning("cannot read the dead-letter stream", error=repr(error))
        await self._read_peers(node, js)

    async def _read_peers(self, node: str, js) -> None:
        registry = self._host.emitter.registry
        if registry is None:
            return
        for peer in registry.peers_of(node):
            latest = None
            for subject in (f"corridor.bcast.{peer.id}.*", f"corridor.direct.{node}.{peer.id}.*"):
                try:
                    stored = (await js.get_last_msg("IN", subject)).time
                except NotFoundError:  # nothing from this peer on that subject yet
                    continue
                except (nats.errors.Error, TimeoutError, OSError) as error:
                    log.warning("cannot read the IN stream", peer=peer.id, error=repr(error))
                    return
                if stored is not None and (latest is None or stored > latest):
                    latest = stored
            if latest is not None:
                self.peer_last_event.labels(node, peer.id).set(latest.timestamp())

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("metrics refresh failed")
            await asyncio.sleep(self._every)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class ServicesOwnMetrics:
    """The metrics each service keeps itself (its status answer's `metrics`, Prometheus text), served
    again with `node` and `service` labels; those of a service that stopped answering are dropped."""

    def __init__(self, node: str) -> None:
        self._node = node
        self._families: dict[str, list[Metric]] = {}

    def take(self, service: str, text: str | None) -> None:
        if not text:
            self._families.pop(service, None)
            return
        try:
            self._families[service] = [f for f in text_string_to_metric_families(text)
                                       if not f.name.endswith("_created")]
        except ValueError as error:
            log.warning("unreadable metrics in a status answer", service=service, error=str(error))
            self._families.pop(service, None)

    def forget(self, service: str) -> None:
        self._families.pop(service, None)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for service, families in sorted(self._families.items()):
            for family in families:
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue
                    into.add_sample(sample.name, {"node": self._node, "service": service, **sample.labels},
                                    sample.value, sample.timestamp, sample.exemplar)
        yield from merged.values()
