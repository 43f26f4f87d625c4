"""What a service tells its operators besides logs: traces of the events it handles and the HTTP
requests it serves, and latency histograms of both.

Traces. A span per HTTP request (OpenTelemetry's FastAPI instrumentation) and per event handled (the
consumer). An event emitted while a span is current (in a request, in a handler) carries that span's
context in its message's `traceparent` header (W3C Trace Context): the unit of work captures it at
emit, the outbox keeps it in the row, the relay sends it as a NATS header, and the consumer that
receives the event (on this node or another) continues the trace. One placement is one trace, from
the operator's click on the home node to the host's confirmation and back. Headers are outside the
signed envelope and outside the duplicate check (`Nats-Msg-Id`), so they change neither.

Spans are exported by OTLP/HTTP when `otlp_endpoint` is set; otherwise no span is made at all, and
no header is written. Spans name ids only (event type and id, placement, correlation, node,
service): never a person's data.

Metrics. Each service keeps its histograms in a registry of its own and hands them out in its status
answer; the reporting service gathers every service's status and serves them on the node's /metrics
(corridor_reporting.metrics).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Histogram, generate_latest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .settings import NodeSettings
    from .unit_of_work import Incoming

log = structlog.get_logger("corridor.telemetry")

PROPAGATOR = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"

# Seconds. Handlers take a millisecond or so per event in a batch and up to seconds when a database
# is slow; requests likewise.
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def traceparent() -> str | None:
    """The current span's context as a W3C traceparent, or None outside any recorded span."""
    return traceparent_of(otel_context.get_current())


def traceparent_of(ctx: otel_context.Context) -> str | None:
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=ctx)
    return carrier.get(TRACEPARENT)


def otlp_traces_url(endpoint: str) -> str:
    """A collector's address as its OTLP/HTTP traces URL: a bare http://host:4318 gets /v1/traces."""
    if urlsplit(endpoint).path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class Telemetry:
    """One service's spans and latency histograms."""

    def __init__(self, node: str, service: str, *, span_processor: SpanProcessor | None = None) -> None:
        self.node, self.service = node, service
        self.registry = CollectorRegistry()
        self.handler_seconds = Histogram(
            "corridor_handler_duration_seconds",
            "time a consumer's handler took per event (a batch's time shared by its events), by event type",
            ["consumer", "event_type"], buckets=HANDLER_BUCKETS, registry=self.registry)
        self.http_seconds = Histogram(
            "corridor_http_request_duration_seconds",
            "time the service took to answer an HTTP request, by route template, method and status",
            ["route", "method", "status"], buckets=HTTP_BUCKETS, registry=self.registry)
        self._handler_children: dict[tuple[str, str], object] = {}
        self.provider = None
        self.tracer: trace.Tracer | None = None
        if span_processor is not None:
            resource = Resource.create({"service.namespace": "corridor", "service.name": service,
                                        "corridor.node": node, "corridor.service": service})
            self.provider = TracerProvider(resource=resource)
            self.provider.add_span_processor(_IdsOnly(span_processor))
            self.tracer = self.provider.get_tracer("corridor_runtime")

    @classmethod
    def of(cls, settings: NodeSettings) -> Telemetry:
        """Spans exported to the settings' OTLP endpoint, in batches, or none when it is unset."""
        processor = None
        endpoint = settings.otlp_endpoint
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_traces_url(endpoint)))
        return cls(settings.node_id, settings.service, span_processor=processor)

    @property
    def tracing(self) -> bool:
        return self.tracer is not None

    def instrument(self, app: FastAPI) -> None:
        """Spans (when tracing) and the latency histogram of every request `app` serves. An app that
        already served a request cannot take middleware any more: it is left as it is."""
        if getattr(app.state, "telemetry", None) is self:
            return
        if app.middleware_stack is not None:
            log.warning("HTTP app already serving: its requests are not measured", service=self.service)
            return
        app.state.telemetry = self
        app.add_middleware(_RequestTimer, histogram=self.http_seconds)
        if self.tracing:
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
            from opentelemetry.metrics import NoOpMeterProvider

            FastAPIInstrumentor.instrument_app(app, tracer_provider=self.provider, meter_provider=NoOpMeterProvider(),
                                               exclude_spans=["receive", "send"], server_request_hook=self._name_request)

    def _name_request(self, span, scope) -> None:
        if span.is_recording():
            span.set_attribute("corridor.node", self.node)
            span.set_attribute("corridor.service", self.service)

    @contextmanager
    def handling(self, consumer: str, run: Sequence[Incoming], headers: Mapping[str, Mapping[str, str] | None],
                 contexts: dict[str, otel_context.Context]) -> Iterator[None]:
        """Around the handling of a run of events: a span per event, child of the span
        that emitted it (its message's traceparent, `headers` by event id), and the run's time in the
        handler histogram. A single event's span is the current one while it is handled, so what the
        handler logs and emits belongs to it; for a run, `contexts` (event id → its span) lets the
        unit of work give each event emitted with a cause its cause's span."""
        started = time.perf_counter()
        spans = []
        token = None
        try:
            if self.tracer is not None:
                for incoming in run:
                    event_id = str(incoming.envelope.event_id)
                    parent = PROPAGATOR.extract(headers.get(event_id) or {})
                    span = self.tracer.start_span(f"handle {incoming.envelope.type}", context=parent,
                                                  kind=trace.SpanKind.CONSUMER, attributes=_attributes(consumer, incoming))
                    contexts[event_id] = trace.set_span_in_context(span)
                    spans.append(span)
                if len(spans) == 1:
                    token = otel_context.attach(contexts[str(run[0].envelope.event_id)])
            yield
        except BaseException as error:
            for span in spans:  # the error's type only: its message may quote the event's data
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
            for span in spans:
                span.end()
            if run:
                share = (time.perf_counter() - started) / len(run)
                for incoming in run:
                    key = (consumer, incoming.envelope.type)
                    child = self._handler_children.get(key)
                    if child is None:
                        child = self._handler_children[key] = self.handler_seconds.labels(*key)
                    child.observe(share)

    def exposition(self) -> str:
        """The service's own metrics in Prometheus' text format (for its status answer)."""
        return generate_latest(self.registry).decode()

    def shutdown(self) -> None:
        """Send the spans still queued and stop the exporter's thread."""
        if self.provider is not None:
            self.provider.shutdown()


def _attributes(consumer: str, incoming: Incoming) -> dict[str, str]:
    envelope = incoming.envelope
    attributes = {"messaging.system": "nats", "messaging.destination.name": incoming.subject,
                  "messaging.message.id": str(envelope.event_id), "messaging.consumer.group.name": consumer,
                  "corridor.event_type": envelope.type, "corridor.origin": envelope.origin,
                  "corridor.correlation_id": str(envelope.correlation_id)}
    placement_id = getattr(incoming.event, "placement_id", None) or getattr(incoming.event, "proposal_id", None)
    if placement_id is not None:
        attributes["corridor.placement_id"] = str(placement_id)
    return attributes


# What a span may not carry out of the service: where a request came from (a person's address), a
# URL's query (it may hold search terms), an exception's message and stack (they may quote data).
DROPPED = frozenset({"net.peer.ip", "net.peer.port", "client.address", "client.port", "http.client_ip",
                     "url.query", "exception.message", "exception.stacktrace"})
WITHOUT_QUERY = frozenset({"http.target", "http.url", "url.full"})


def _ids_only(attributes) -> dict:
    kept = {}
    for key, value in (attributes or {}).items():
        if key in DROPPED:
            continue
        if key in WITHOUT_QUERY and isinstance(value, str):
            value = value.split("?", 1)[0]
        kept[key] = value
    return kept


class _IdsOnly(SpanProcessor):
    """Hands the exporter each finished span without the attributes above (the instrumentation of
    HTTP records them by default), so no personal data leaves in a trace."""

    def __init__(self, inner: SpanProcessor) -> None:
        self._inner = inner

    def on_start(self, span, parent_context=None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=_ids_only(span.attributes),
            events=[Event(e.name, _ids_only(e.attributes), e.timestamp) for e in span.events],
            links=span.links, kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope))

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _RequestTimer:
    """Times each HTTP request, labelled by the route template it matched (never the raw path, which
    holds ids), its method and its answer's status."""

    def __init__(self, app, histogram: Histogram) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.histogram.labels(route, scope["method"], str(status)).observe(time.perf_counter() - started)
