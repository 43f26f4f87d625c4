"""Each host country's rules on who may host volunteers, kept as data (data/host_rules.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class HostRules:
    allowed: dict[str, frozenset[str]]  # country → organisation kinds that may host
    default: frozenset[str]

    def may_host(self, country: str, kind: str) -> bool:
        return kind in self.allowed.get(country, self.default)

    @classmethod
    def from_data(cls, data: dict) -> HostRules:
        kinds = lambda line: frozenset(k for k, v in line.items() if v is True)  # noqa: E731
        return cls(allowed={c: kinds(line) for c, line in data["countries"].items()}, default=kinds(data["default"]))


@cache
def bundled() -> HostRules:
    return HostRules.from_data(json.loads(resources.files(__package__).joinpath("data/host_rules.json").read_text()))
