"""Structured JSON logs: every line carries node and service, and the event fields bound per message."""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace

TRACE_FIELDS = ("event_id", "correlation_id", "trace_id", "span_id")


def _trace_fields(_logger, _name, event_dict):
    """Every line has the trace fields, null outside the handling of an event, so logs parse alike.
    Within a span (an HTTP request, an event handled, when traces are on: telemetry.py) the line
    names its trace and span, so a log line leads to its trace and back."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", format(span.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span.span_id, "016x"))
    for field in TRACE_FIELDS:
        event_dict.setdefault(field, None)
    return event_dict


def configure_logging(*, node: str, service: str, level: str = "INFO", json: bool = True) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _trace_fields,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(node=node, service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
