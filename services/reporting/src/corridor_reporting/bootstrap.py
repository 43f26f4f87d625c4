"""Wires the reporting service: projections from the node's streams, indicators, HTTP API, and the
loop that broadcasts the node's suppressed outcome figures."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor_contracts import CATALOGUE, Scope
from corridor_runtime import unknown_events
from corridor_runtime.consumer import Subscription
from corridor_runtime.dead_letters import DeadLetters
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings

from . import projections as p
from .outcome_figures import EVERY, FiguresLoop
from .api import create_app
from .metrics import NodeMetrics
from .suppression import DEFAULT_THRESHOLD
from .tables import metadata

SERVICE = "reporting"


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_REPORTING_", extra="forbid")

    threshold: int = Field(default=DEFAULT_THRESHOLD, ge=2, le=100, description="smallest count of people published")
    figures_every_seconds: float = Field(default=EVERY, gt=0, description="how often the node's outcome figures are "
                                         "looked at, and broadcast if they changed")


def subscriptions() -> list[Subscription]:
    """Every type the projections know: node-internal ones from LOCAL, the corridor's from IN."""
    local = {t for t in p.PROJECTION if CATALOGUE.latest(t).SCOPE is Scope.LOCAL}
    return [
        Subscription("reporting-local", "LOCAL", dict.fromkeys(sorted(local), p.project), whole_batch=p.project_batch),
        Subscription("reporting-corridor", "IN", dict.fromkeys(sorted(set(p.PROJECTION) - local), p.project),
                     whole_batch=p.project_batch),
    ]


def build(settings: NodeSettings | None = None, *, threshold: int | None = None) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    reporting = ReportingSettings()
    threshold = threshold or reporting.threshold
    host = ServiceHost(settings, metadata=metadata, subscriptions=subscriptions())
    host.sessions.configure(info={"node": settings.node_id})  # whose outcomes are this node's own (indicators)
    figures = FiguresLoop(host, threshold=threshold, every=reporting.figures_every_seconds)
    host.add_loop("outcome-figures", figures.run_forever)
    metrics = NodeMetrics(host)
    host.add_loop("metrics", metrics.run_forever)
    # The node's one watcher for events of types this release does not know (unknown_events.py).
    host.add_loop("unknown-events", lambda: unknown_events.watch(
        host.js, DeadLetters(host.js, node=settings.node_id, service=SERVICE), settings.node_id))
    host.http_app = create_app(host, threshold=threshold, metrics=metrics)
    return host
