"""Prometheus metrics for operators, for every service of the node (not only reporting).

A background loop asks each service for its status over NATS (status.<node>.<service>) and reads
the dead-letter stream; /metrics serves the last reading in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import json

import structlog
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from corridor_runtime import dead_letters
from corridor_runtime.node import SERVICES
from corridor_runtime.service import ServiceHost, status_subject

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

    async def refresh(self) -> None:
        node, nc, js = self._host.settings.node_id, self._host.nc, self._host.js
        for service in self._services:
            try:
                reply = await nc.request(status_subject(node, service), b"", timeout=2.0)
                status = json.loads(reply.data)
            except Exception:
                self.up.labels(node, service).set(0)
                continue
            self.up.labels(node, service).set(1)
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
        except Exception as error:
            log.warning("cannot read the dead-letter stream", error=repr(error))

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("metrics refresh failed")
            await asyncio.sleep(self._every)

    def text(self) -> bytes:
        return generate_latest(self.registry)
