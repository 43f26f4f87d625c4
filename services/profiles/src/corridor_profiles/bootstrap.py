"""Wires the profiles service: its tables, its subscriptions and its HTTP API on the shared runtime."""

from __future__ import annotations

from corridor_runtime.consumer import Subscription
from corridor_runtime.registry_file import ConfigError
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings

from . import opportunities, placements
from .api import create_app
from .tables import metadata

SERVICE = "profiles"
DEFAULT_HTTP_PORT = 8101


def subscriptions() -> list[Subscription]:
    return [
        Subscription("profiles-corridor", "IN", {
            "PlacementRequested": placements.on_placement_requested,
            "PlacementWithdrawn": placements.on_placement_withdrawn,
            "ContactDisclosed": placements.on_contact_disclosed,
            "ErasureRequested": placements.on_erasure_requested,
            "OpportunityPublished": opportunities.remember_corridor_opportunity,
            "OpportunityUpdated": opportunities.remember_corridor_opportunity,
        }),
    ]


def build(settings: NodeSettings | None = None) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    registry = settings.registry()
    if registry is None:
        raise ConfigError("the profiles service needs the corridor registry: set CORRIDOR_REGISTRY_FILE")
    host = ServiceHost(settings, metadata=metadata, subscriptions=subscriptions())
    host.http_app = create_app(host, home_country=registry.node(settings.node_id).country)
    return host
