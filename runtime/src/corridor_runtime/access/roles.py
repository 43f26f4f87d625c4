"""The roles a node grants. Each is per node: an operator of fr is nobody on es."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # her node's people, organisations, opportunities and placements
    COORDINATOR = "coordinator"  # the suppressed indicators and the dashboard, never personal data
    AUDITOR = "auditor"  # the audit trail
    SCRAPER = "scraper"  # /metrics, for Prometheus


DESCRIPTIONS = {
    Role.OPERATOR: "the node's volunteers, organisations, opportunities, placements and messages",
    Role.COORDINATOR: "the suppressed indicators (JSON, CSV) and the dashboard; no personal data",
    Role.AUDITOR: "the audit trail of every read and change of personal data",
    Role.SCRAPER: "the Prometheus metrics",
}


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Role names as given (a config, a token's claim, the command line): unknown ones are an error."""
    roles = set()
    for value in values:
        try:
            roles.add(Role(str(value).strip().lower()))
        except ValueError:
            raise ValueError(f"unknown role {value!r}: roles are {', '.join(r.value for r in Role)}") from None
    return frozenset(roles)
