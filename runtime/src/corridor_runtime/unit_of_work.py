"""A unit of work: one database transaction for a state change and the events it causes.

Events are written to the outbox in the same transaction as the change, so either
both happen or neither; the relay publishes them after commit, woken by the commit itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from corridor_contracts import CATALOGUE, Envelope, Event, Registry, Scope, Sealer, Signer, UnknownEvent, subjects
from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import DeliveryTables
from .telemetry import traceparent, traceparent_of

log = structlog.get_logger("corridor.emit")


@dataclass(frozen=True)
class Incoming:
    """An event being handled: its envelope (metadata) and its payload at the latest version.

    Read the payload from `event`: what `envelope.payload` holds depends on how it was decoded
    (the JSON as received, or the event itself when decoded in one pass)."""

    envelope: Envelope
    event: Event
    subject: str


class Emitter:
    """Builds this node's outgoing envelopes: ids, correlation, version, sealing, signature, subject.

    Shared events are written in the version their readers read: a partner that has not upgraded
    yet (the registry's `reads`) gets the older version, through the catalogue's downcasters.
    """

    def __init__(self, node_id: str, signer: Signer | None, sealer: Sealer | None = None,
                 registry: Registry | None = None) -> None:
        self.node_id = node_id
        self.signer = signer
        self.sealer = sealer
        self.registry = registry  # replaced when the registry file changes

    def envelope(self, event: Event, *, target: str | None = None, cause: Incoming | None = None,
                 correlation_id: UUID | None = None) -> tuple[str, Envelope]:
        envelope = Envelope.wrap(
            event,
            origin=self.node_id,
            target=target,
            correlation_id=correlation_id or (cause.envelope.correlation_id if cause else None),
            causation_id=cause.envelope.event_id if cause else None,
        )
        if event.SCOPE is not Scope.LOCAL:
            envelope = self._readable(envelope)
            if self.signer is None:
                raise RuntimeError(f"{event.TYPE} leaves the node and must be signed: this service has no signing key")
            if event.SCOPE is Scope.DIRECT:
                if self.sealer is None:
                    raise RuntimeError(f"{event.TYPE} is addressed and must be sealed: this service has no registry")
                envelope = self.sealer.seal(envelope)
            envelope = self.signer.sign(envelope)
        return subjects.for_envelope(envelope, node=self.node_id), envelope


    def _readable(self, envelope: Envelope) -> Envelope:
        if self.registry is None:
            return envelope
        try:
            version = self.registry.readable_version(envelope.type, envelope.version, target=envelope.target, origin=self.node_id)
        except KeyError:
            return envelope  # a target the registry does not list: sealing refuses it next
        if version == envelope.version:
            return envelope
        try:
            payload = CATALOGUE.downcast(envelope.type, envelope.version, envelope.payload, version)
        except UnknownEvent as error:
            log.warning("a partner reads an older version and there is no way down: it will dead-letter this event "
                        "until it upgrades (then replay it)", event_type=envelope.type, version=envelope.version,
                        readable=version, error=str(error))
            return envelope
        return envelope.model_copy(update={"version": version, "payload": payload})


class UnitOfWork:
    def __init__(self, session: AsyncSession, tables: DeliveryTables, emitter: Emitter,
                 scrub: Callable[[], object] | None = None) -> None:
        self.session = session
        self._tables = tables
        self._emitter = emitter
        self._scrub = scrub  # after an erasure: the database's files let go of what it held (Database.scrub)
        self._rows: list[dict[str, Any]] = []
        self.emitted: list[Envelope] = []
        self.committed: list[Callable[[], object]] = []
        self._callbacks: list[Callable[[], object]] = []  # as given to after_commit
        # event id → the span of its handling, for events handled in a run (Telemetry.handling):
        # what is emitted with one of them as cause continues its trace.
        self.trace_contexts: dict[str, otel_context.Context] = {}

    @property
    def node_id(self) -> str:
        """The node this unit of work's events come from."""
        return self._emitter.node_id

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Call `callback` once this unit of work has committed (not if it rolls back): e.g. wake a
        loop that reads what this transaction wrote — before the commit it would not see it."""
        if callback in self._callbacks:
            return
        self._callbacks.append(callback)
        span = otel_context.get_current()  # its log lines belong to the request or event that caused them
        if trace.get_current_span(span).get_span_context().is_valid:
            self.committed.append(functools.partial(_within, span, callback))
        else:
            self.committed.append(callback)

    def emit(self, event: Event, *, target: str | None = None, cause: Incoming | None = None,
             correlation_id: UUID | None = None) -> Envelope:
        """Record an event to publish when (and only if) this unit of work commits."""
        subject, envelope = self._emitter.envelope(event, target=target, cause=cause, correlation_id=correlation_id)
        now = datetime.now(UTC)
        cause_span = self.trace_contexts.get(str(cause.envelope.event_id)) if cause and self.trace_contexts else None
        self._rows.append(
            {
                "event_id": str(envelope.event_id),
                "subject": subject,
                "data": envelope.encode(),
                "correlation_id": str(envelope.correlation_id),
                "created_at": now,
                "next_attempt_at": now,
                "traceparent": traceparent() if cause_span is None else traceparent_of(cause_span),
            }
        )
        self.emitted.append(envelope)
        return envelope

    def erased(self) -> None:
        """This transaction erased personal data: once it commits, scrub the database's files (on
        SQLite the write-ahead log still holds the pages as they were)."""
        if self._scrub is not None:
            self.after_commit(self._scrub)

    async def forget(self, correlation_id: UUID) -> None:
        """Delete this service's outbox rows of one journey, published or not (erasure: local events
        about a person carry her personal data, and an erased person's pending events need not go out)."""
        self.erased()
        self._rows = [r for r in self._rows if r["correlation_id"] != str(correlation_id)]
        outbox = self._tables.outbox
        await self.session.execute(delete(outbox).where(outbox.c.correlation_id == str(correlation_id)))

    async def flush(self) -> None:
        if self._rows:
            await self.session.execute(insert(self._tables.outbox), self._rows)
            self._rows = []


def _within(span_context: otel_context.Context, callback: Callable[[], object]) -> object:
    token = otel_context.attach(span_context)
    try:
        return callback()
    finally:
        otel_context.detach(token)
