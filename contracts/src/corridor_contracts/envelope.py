"""The envelope every event travels in, and its canonical encoding."""

from __future__ import annotations

import json
import uuid
from functools import cache
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model


from .catalogue import CATALOGUE, Event, Scope
from .types import NodeId, UtcDatetime

EventType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{2,63}$")]


class Envelope(BaseModel):
    """What goes on the wire: metadata, the payload as plain JSON, and the origin's signature.

    `event_id` is also sent as the `Nats-Msg-Id` header. `correlation_id` is one per placement
    journey; `causation_id` is the event this one answers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    type: EventType
    version: int = Field(ge=1)
    origin: NodeId
    target: NodeId | None = None
    occurred_at: UtcDatetime
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]
    sealed: str | None = Field(
        default=None,
        description="addressed events: the payload as a sealed box for the target node (base64url); payload is then {}",
    )
    signature: str | None = Field(default=None, description="base64url ed25519 signature of the canonical encoding")

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        origin: str,
        target: str | None = None,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        if event.SCOPE is Scope.DIRECT and target is None:
            raise ValueError(f"{event.TYPE} is addressed: it needs a target node")
        if event.SCOPE is not Scope.DIRECT and target is not None:
            raise ValueError(f"{event.TYPE} is {event.SCOPE.value}: it takes no target node")
        event_id = uuid.uuid4()
        return cls(
            event_id=event_id,
            type=event.TYPE,
            version=event.VERSION,
            origin=origin,
            target=target,
            occurred_at=occurred_at or datetime.now(timezone.utc),
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            payload=event.model_dump(mode="json"),
        )

    @staticmethod
    @cache
    def typed(model: type[Event]) -> type[Envelope]:
        """An envelope whose payload is validated as `model` in the same pass over the JSON bytes
        (`typed(model).model_validate_json(data)`): a third less time than parsing, validating
        the envelope, then the payload dict (benchmarks/README.md). Its `payload` is the event."""
        return create_model(f"{model.__name__}Envelope", __base__=Envelope, payload=(model, ...))

    @property
    def scope(self) -> Scope:
        return CATALOGUE.latest(self.type).SCOPE

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def encode(self) -> bytes:
        return json.dumps(self.to_wire(), separators=(",", ":"), ensure_ascii=False).encode()


def canonical_bytes(wire: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the wire object without its signature, keys sorted, no spaces.

    Signatures are computed and checked over the JSON as it travels (not over a re-parsed model),
    so a receiver on another contract version verifies exactly what the origin signed.
    """
    unsigned = {k: v for k, v in wire.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
