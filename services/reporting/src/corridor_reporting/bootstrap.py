"""Wires the reporting service: projections from the node's streams, indicators, HTTP API."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor_contracts import CATALOGUE, Scope
from corridor_runtime.consumer import Subscription
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings

from . import projections as p
from .api import create_app
from .metrics import NodeMetrics
from .suppression import DEFAULT_THRESHOLD
from .tables import metadata

SERVICE = "reporting"


class ReportingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_REPORTING_", extra="forbid")

    threshold: int = Field(default=DEFAULT_THRESHOLD, ge=2, le=100, description="smallest count of people published")


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
    threshold = threshold or ReportingSettings().threshold
    host = ServiceHost(settings, metadata=metadata, subscriptions=subscriptions())
    metrics = NodeMetrics(host)
    host.add_loop("metrics", metrics.run_forever)
    host.http_app = create_app(host, threshold=threshold, metrics=metrics)
    return host
