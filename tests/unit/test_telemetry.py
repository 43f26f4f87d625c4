"""What an operator gets from a service's telemetry settings: no spans unless an OTLP endpoint is
set, log lines that name the trace they belong to, and the traceparent an event is sent with."""

from __future__ import annotations

import json

import structlog
from corridor_runtime.logs import configure_logging
from corridor_runtime.settings import NodeSettings
from corridor_runtime.telemetry import Telemetry, otlp_traces_url, traceparent
from corridor_runtime.unit_of_work import UnitOfWork
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families


def test_no_spans_unless_an_otlp_endpoint_is_set(monkeypatch):
    monkeypatch.delenv("CORRIDOR_OTLP_ENDPOINT", raising=False)
    assert not Telemetry.of(NodeSettings(node_id="fr", service="matching")).tracing
    monkeypatch.setenv("CORRIDOR_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    settings = NodeSettings(node_id="fr", service="matching")
    assert settings.otlp_endpoint == "http://127.0.0.1:4318"
    telemetry = Telemetry.of(settings)
    try:
        assert telemetry.tracing
    finally:
        telemetry.shutdown()


def test_a_bare_collector_address_gets_the_traces_path():
    assert otlp_traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert otlp_traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert otlp_traces_url("https://collector.example.org/otlp/v1/traces") == "https://collector.example.org/otlp/v1/traces"


def test_log_lines_within_a_span_name_its_trace_and_others_do_not(capsys):
    exporter = InMemorySpanExporter()
    telemetry = Telemetry("fr", "matching", span_processor=SimpleSpanProcessor(exporter))
    before = structlog.get_config()
    configure_logging(node="fr", service="matching")
    try:
        log = structlog.get_logger("test")
        log.info("outside")
        with telemetry.tracer.start_as_current_span("handle PlacementConfirmed") as span:
            log.info("inside")
            sent_with = traceparent()
    finally:
        structlog.configure(**before)
        structlog.contextvars.clear_contextvars()
        telemetry.shutdown()
    outside, inside = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    context = span.get_span_context()
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert inside["trace_id"] == format(context.trace_id, "032x") and inside["span_id"] == format(context.span_id, "016x")
    assert sent_with.startswith(f"00-{inside['trace_id']}-{inside['span_id']}-")
    assert traceparent() is None  # outside any span, an event goes out without one
    [finished] = exporter.get_finished_spans()
    assert finished.resource.attributes["corridor.node"] == "fr"
    assert finished.resource.attributes["service.name"] == "matching"


def test_the_service_exposes_its_histograms_for_the_node_metrics():
    telemetry = Telemetry("fr", "matching")
    telemetry.http_seconds.labels("/placements/{placement_id}/accept", "POST", "200").observe(0.02)
    families = {f.name: f for f in text_string_to_metric_families(telemetry.exposition())}
    assert families["corridor_http_request_duration_seconds"].type == "histogram"
    assert families["corridor_handler_duration_seconds"].type == "histogram"
    [count] = [s for s in families["corridor_http_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert count.labels == {"route": "/placements/{placement_id}/accept", "method": "POST", "status": "200"}
    assert count.value == 1


def test_what_a_step_does_after_its_commit_belongs_to_the_span_that_caused_it():
    """A "placement step" line is logged once the transaction has committed, outside the handler:
    it still names the request's or the event's trace."""
    telemetry = Telemetry("es", "profiles", span_processor=SimpleSpanProcessor(InMemorySpanExporter()))
    uow = UnitOfWork(session=None, tables=None, emitter=None)
    seen = []

    def step():
        seen.append(trace.get_current_span().get_span_context())
    try:
        with telemetry.tracer.start_as_current_span("handle PlacementRequested") as span:
            uow.after_commit(step)
            uow.after_commit(step)  # once, however often it is asked for
        for callback in uow.committed:  # as the consumer calls them, after the commit
            callback()
    finally:
        telemetry.shutdown()
    assert seen == [span.get_span_context()]
    assert not trace.get_current_span().get_span_context().is_valid  # and the span is not left current
