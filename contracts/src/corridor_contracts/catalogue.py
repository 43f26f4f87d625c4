"""Every event type and version the corridor knows, and the upcasters between versions.

An event class declares its wire name, version and scope; defining the class registers it. A
receiver turns any known version into the latest through the chain of upcasters, so partners who
upgrade at different times still understand each other.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Scope(StrEnum):
    LOCAL = "local"  # node-internal; may carry personal data; never leaves the node
    BROADCAST = "bcast"  # to every node of the corridor
    DIRECT = "direct"  # addressed to one node


class Event(BaseModel):
    """The payload of an event. Subclasses set TYPE, VERSION and SCOPE.

    Receivers are tolerant readers (unknown fields are ignored) so that adding an optional field
    to a published version does not break partners still on the older code.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    SCOPE: ClassVar[Scope]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            CATALOGUE.register(cls)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEvent(LookupError):
    """The (type, version) pair is not in the catalogue and cannot be upcast."""


class Catalogue:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._downcasters: dict[tuple[str, int], Upcaster] = {}
        self._latest: dict[str, type[Event]] = {}  # looked up for every message: kept, not searched

    def register(self, cls: type[Event]) -> None:
        key = (cls.TYPE, cls.VERSION)
        if key in self._models and self._models[key] is not cls:
            raise ValueError(f"{cls.TYPE} v{cls.VERSION} is registered twice")
        self._models[key] = cls
        if cls.VERSION >= self._latest.get(cls.TYPE, cls).VERSION:
            self._latest[cls.TYPE] = cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the function that turns a payload of `from_version` into `from_version + 1`."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return register

    def downcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the function that turns a payload of `from_version` into `from_version - 1`, so
        this node can still write to partners that read only the older version (mixed versions)."""

        def register(fn: Upcaster) -> Upcaster:
            self._downcasters[(event_type, from_version)] = fn
            return fn

        return register

    def unregister(self, event_type: str, version: int) -> None:
        self._models.pop((event_type, version), None)
        self._upcasters.pop((event_type, version - 1), None)
        self._downcasters.pop((event_type, version), None)
        versions = [v for (t, v) in self._models if t == event_type]
        if versions:
            self._latest[event_type] = self._models[(event_type, max(versions))]
        else:
            self._latest.pop(event_type, None)

    def model(self, event_type: str, version: int) -> type[Event]:
        try:
            return self._models[(event_type, version)]
        except KeyError:
            raise UnknownEvent(f"unknown event {event_type} v{version}") from None

    def latest(self, event_type: str) -> type[Event]:
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEvent(f"unknown event type {event_type}") from None

    def has_upcaster(self, event_type: str, from_version: int) -> bool:
        return (event_type, from_version) in self._upcasters

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Bring a payload of a known version up to the latest version of its type."""
        latest = self.latest(event_type).VERSION
        if version > latest or (event_type, version) not in self._models:
            raise UnknownEvent(f"unknown event {event_type} v{version} (this node knows up to v{latest})")
        while version < latest:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownEvent(f"no upcaster from {event_type} v{version}")
            payload = step(payload)
            version += 1
        return version, payload

    def downcast(self, event_type: str, version: int, payload: dict[str, Any], to_version: int) -> dict[str, Any]:
        """Take a payload of `version` down to `to_version`, validated against that version's model."""
        while version > to_version:
            step = self._downcasters.get((event_type, version))
            if step is None:
                raise UnknownEvent(f"no downcaster from {event_type} v{version}")
            payload = step(payload)
            version -= 1
        return self.model(event_type, version).model_validate(payload).model_dump(mode="json")

    def __iter__(self):
        return iter(sorted(self._models.values(), key=lambda c: (c.TYPE, c.VERSION)))


CATALOGUE = Catalogue()
