"""Wires the profiles service: its tables, its subscriptions and its HTTP API on the shared runtime."""

from __future__ import annotations

from corridor_runtime.consumer import Subscription
from corridor_runtime.purge import purge
from corridor_runtime.registry_file import ConfigError
from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings
from corridor_runtime.unit_of_work import Incoming, UnitOfWork

from . import opportunities, placements
from .api import create_app
from .tables import metadata

SERVICE = "profiles"
PERSONAL_EVENTS = ("VolunteerRegistered", "VolunteerUpdated", "VolunteerConsentChanged")  # her data, in clear
DEFAULT_HTTP_PORT = 8101


def subscriptions(host: ServiceHost | None = None) -> list[Subscription]:
    node = host.settings.node_id if host else None

    async def on_erasure_requested(uow: UnitOfWork, incoming: Incoming) -> None:
        """Host side; her contact, as received, also leaves this node's IN stream."""
        journeys = await placements.on_erasure_requested(uow, incoming)
        if host is not None:
            await purge(host.js, "IN", subjects=[f"corridor.direct.{node}.{incoming.envelope.origin}.ContactDisclosed"],
                        correlation_ids=journeys)

    async def on_volunteer_erased(uow: UnitOfWork, incoming: Incoming) -> None:
        """Home side; the local events that carried her personal data leave the LOCAL stream."""
        if host is not None:
            await purge(host.js, "LOCAL", subjects=[f"node.{node}.{t}" for t in PERSONAL_EVENTS],
                        correlation_ids={str(incoming.event.volunteer_id)})

    return [
        Subscription("profiles-corridor", "IN", {
            "PlacementRequested": placements.on_placement_requested,
            "PlacementWithdrawn": placements.on_placement_withdrawn,
            "ContactDisclosed": placements.on_contact_disclosed,
            "ErasureRequested": on_erasure_requested,
            "OpportunityPublished": opportunities.remember_corridor_opportunity,
            "OpportunityUpdated": opportunities.remember_corridor_opportunity,
        }),
        Subscription("profiles-erasure", "LOCAL", {"VolunteerErased": on_volunteer_erased}),
    ]


def build(settings: NodeSettings | None = None) -> ServiceHost:
    settings = (settings or NodeSettings(service=SERVICE)).model_copy(update={"service": SERVICE})
    registry = settings.registry()
    if registry is None:
        raise ConfigError("the profiles service needs the corridor registry: set CORRIDOR_REGISTRY_FILE")
    host = ServiceHost(settings, metadata=metadata)
    host.subscriptions = subscriptions(host)
    host.http_app = create_app(host, home_country=registry.node(settings.node_id).country)
    return host
