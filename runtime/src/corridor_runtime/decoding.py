"""From the bytes of a message to an event at this node's latest version, or the reason it is poison.

Poison is anything that can never succeed however often it is retried: not JSON, not an
envelope, a subject that contradicts the envelope, a missing or bad signature on a shared event,
an addressed event not sealed between its two nodes, an unknown type or version, a
payload that breaks its schema, an event too old to be told from a replay, an event dated further
in the future than the clocks of two nodes can disagree (a sender's time is not trusted to win).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from pydantic import ValidationError
from pydantic_core import from_json

from corridor_contracts import CATALOGUE, Envelope, Scope, Sealer, SealingError, SignatureError, UnknownEvent, Verifier, subjects
import corridor_contracts.events  # noqa: F401  (registers the catalogue)

from .unit_of_work import Incoming
from .validation import describe


class Poison(ValueError):
    """The message can never be processed; the text is the reason kept with its dead letter."""


class Decoder:
    def __init__(self, node_id: str, verifier: Verifier | None, sealer: Sealer | None = None,
                 replay_window: timedelta | None = None, max_clock_skew: timedelta = timedelta(minutes=5),
                 refresh_registry: Callable[[], bool] | None = None) -> None:
        self._node_id = node_id
        # Reads the registry file again if it changed (True then): an event from a partner this
        # service does not know yet may come from one just added, whose events another service of
        # the node already sources into IN while this one has not looked at the file again.
        self._refresh_registry = refresh_registry
        self._verifier = verifier
        self._sealer = sealer
        self._replay_window = replay_window  # the inbox's memory: an older event cannot be told from a replay
        self._max_clock_skew = max_clock_skew

    def decode(self, subject: str, data: bytes) -> Incoming:
        try:
            parts = subjects.parse(subject)
        except ValueError as error:
            raise Poison(str(error)) from None
        if parts.scope is Scope.LOCAL:
            incoming = self._local(parts, subject, data)
            if incoming is not None:
                return incoming
        try:
            wire = from_json(data)  # pydantic's parser: half the time of json.loads (benchmarks/README.md)
        except ValueError as error:
            raise Poison(f"invalid JSON: {error}") from None
        if not isinstance(wire, dict):
            raise Poison(f"invalid envelope: a JSON {type(wire).__name__}, not an object")
        try:
            envelope = Envelope.model_validate(wire)
        except ValidationError as error:
            raise Poison(f"envelope schema violation: {describe(error)}") from None

        self._check(parts, envelope)
        if parts.scope is not Scope.LOCAL:
            if self._verifier is None:
                raise Poison("bad signature: this node has no registry to verify shared events against")
            origin = wire.get("origin")
            if isinstance(origin, str) and not self._verifier.knows(origin) and self._refresh_registry is not None:
                self._refresh_registry()
            try:
                self._verifier.verify(wire)
            except SignatureError as error:
                raise Poison(f"bad signature: {error}") from None
            if parts.scope is Scope.DIRECT:
                if self._sealer is None:
                    raise Poison("sealed: this node has no key to open addressed events")
                try:
                    envelope = self._sealer.open(envelope)
                except SealingError as error:
                    raise Poison(f"sealing: {error}") from None

        try:
            version, payload = CATALOGUE.upcast(envelope.type, envelope.version, envelope.payload)
            model = CATALOGUE.model(envelope.type, version)
        except UnknownEvent as error:
            raise Poison(str(error)) from None
        if model.SCOPE is not parts.scope:
            raise Poison(f"{envelope.type} is a {model.SCOPE.value} event, received as {parts.scope.value}")
        try:
            event = model.model_validate(payload)
        except ValidationError as error:
            raise Poison(f"payload schema violation ({envelope.type} v{version}): {describe(error)}") from None
        return Incoming(envelope=envelope, event=event, subject=subject)

    def _local(self, parts: subjects.SubjectParts, subject: str, data: bytes) -> Incoming | None:
        """The common case in one pass of pydantic over the bytes: a local event (not signed, not
        sealed) at this node's latest version. Anything else, valid or not, returns None and takes
        the general path, which upcasts or names the reason it is poison."""
        try:
            model = CATALOGUE.latest(parts.event_type)
        except UnknownEvent:
            return None
        if model.SCOPE is not Scope.LOCAL:
            return None
        try:
            envelope = Envelope.typed(model).model_validate_json(data)
        except ValueError:
            return None
        if envelope.version != model.VERSION:
            return None
        self._check(parts, envelope)
        return Incoming(envelope=envelope, event=envelope.payload, subject=subject)

    def _check(self, parts: subjects.SubjectParts, envelope: Envelope) -> None:
        """What the subject and the clock say of a well-formed envelope."""
        now = datetime.now(timezone.utc)
        if envelope.occurred_at > now + self._max_clock_skew:
            raise Poison(f"from the future: occurred_at {envelope.occurred_at.isoformat()} is ahead of this node's clock "
                         f"({now.isoformat(timespec='seconds')}) by more than the {self._max_clock_skew.total_seconds():.0f} s "
                         "two nodes' clocks may differ")
        if self._replay_window is not None and envelope.occurred_at < now - self._replay_window:
            raise Poison(f"stale: occurred {envelope.occurred_at:%Y-%m-%d}, before the {self._replay_window.days}-day window "
                         "in which this node recognises an event it has already applied (a replay?)")
        if envelope.type != parts.event_type:
            raise Poison(f"subject names {parts.event_type} but the envelope is {envelope.type}")
        if parts.scope is Scope.LOCAL:
            if envelope.origin != self._node_id:
                raise Poison(f"a local event from origin {envelope.origin!r} on node {self._node_id!r}")
        else:
            if envelope.origin != parts.origin:
                raise Poison(f"subject origin {parts.origin!r} differs from envelope origin {envelope.origin!r}")
            if parts.scope is Scope.DIRECT and envelope.target != parts.target:
                raise Poison(f"subject target {parts.target!r} differs from envelope target {envelope.target!r}")
