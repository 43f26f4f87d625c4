"""Wires the reporting service: projections from the node's streams, indicators, HTTP API."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    return [
        Subscription("reporting-local", "LOCAL", {
            "VolunteerRegistered": p.on_registered, "VolunteerUpdated": p.on_updated, "VolunteerErased": p.on_erased,
            "PlacementProposed": p.on_proposed, "PlacementExpired": p.on_step, "NotificationFailed": p.on_notification_failed,
        }),
        Subscription("reporting-corridor", "IN", {
            "OpportunityPublished": p.on_opportunity, "OpportunityUpdated": p.on_opportunity,
            "PlacementConfirmed": p.on_step, "PlacementDeclined": p.on_step, "PlacementStarted": p.on_step,
            "PlacementCompleted": p.on_step, "PlacementWithdrawn": p.on_step, "HoursLogged": p.on_hours,
            "PlacementOutcome": p.on_outcome,
        }),
    ]


def build(settings: NodeSettings | None = None, *, threshold: int | None = None) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    threshold = threshold or ReportingSettings().threshold
    host = ServiceHost(settings, metadata=metadata, subscriptions=subscriptions())
    metrics = NodeMetrics(host)
    host.add_loop("metrics", metrics.run_forever)
    host.http_app = create_app(host, threshold=threshold, metrics=metrics)
    return host
