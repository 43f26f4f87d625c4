"""Wires the matching service: its tables and subscriptions on the shared runtime."""

from __future__ import annotations

from sqlalchemy import MetaData

from corridor_runtime.service import ServiceHost
from corridor_runtime.settings import NodeSettings

SERVICE = "matching"


def build(settings: NodeSettings | None = None) -> ServiceHost:
    settings = settings or NodeSettings(service=SERVICE)
    # The service's own tables and event handlers arrive with its issue; until then it runs the
    # node's delivery machinery (outbox relay, status) and reports its health.
    return ServiceHost(settings.model_copy(update={"service": SERVICE}), metadata=MetaData(), subscriptions=[])
