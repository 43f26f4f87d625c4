"""The node's Grafana dashboard (deploy/grafana) and alert rules (deploy/prometheus) ask only for
metrics a node serves: a panel over a metric that was renamed or never existed would stay empty
without anyone noticing, so each query's metric names are checked against what /metrics carries
(the reporting service's registry, with a service's own histograms re-exposed as a scrape has them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import yaml
from corridor_matching.erasure import Erasures
from corridor_reporting.metrics import NodeMetrics
from corridor_runtime.telemetry import Telemetry
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "corridor-node.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "corridor.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "corridor-alerts.yml"

NOT_METRICS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def served_metric_names() -> set[str]:
    """The names of the series a node's /metrics carries."""
    metrics = NodeMetrics(SimpleNamespace(settings=SimpleNamespace(node_id="fr")))
    service = Telemetry("fr", "matching")
    service.handler_seconds.labels("matching-corridor", "PlacementConfirmed").observe(0.01)
    service.http_seconds.labels("/placements", "GET", "200").observe(0.01)
    Erasures(b"k" * 32, SimpleNamespace(telemetry=service))  # matching's own gauges
    metrics.services_own.take("matching", service.exposition())
    names = set()
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        suffixes = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",)}.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, Grafana variables among them
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set(re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr))
    return names - NOT_METRICS


def test_the_expression_reader_finds_metric_names_and_nothing_else():
    assert metric_names('histogram_quantile(0.95, sum by (service, le) (rate(a_bucket{node=~"$node"}[5m]))) > 1') == {"a_bucket"}
    assert metric_names('time() - b{node="fr"} > 86400 and c') == {"b", "c"}


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    queries = [(panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            [inner] = re.findall(r"label_values\((\w+),", variable["definition"])
            queries.append((f"variable {variable['name']}", inner))
    return queries


def test_every_panel_of_the_dashboard_reads_metrics_the_node_serves():
    served = served_metric_names()
    assert {"corridor_service_up", "corridor_handler_duration_seconds_bucket",
            "corridor_http_request_duration_seconds_bucket", "corridor_peer_last_event_timestamp_seconds"} <= served
    unknown = {(title, name) for title, expr in dashboard_queries() for name in metric_names(expr) if name not in served}
    assert not unknown, f"panels reading metrics no node serves: {sorted(unknown)}"


def test_the_dashboard_shows_what_an_operator_watches():
    board = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in board["panels"]]
    for wanted in ("Services up", "Consumer lag", "Outbox backlog", "Dead letters", "Handler duration p50 / p95",
                   "HTTP latency p50 / p95", "Peer silence"):
        assert wanted in titles
    read = {name for _, expr in dashboard_queries() for name in metric_names(expr)}
    assert {"corridor_consumer_lag", "corridor_outbox_backlog", "corridor_dead_letters",
            "corridor_peer_last_event_timestamp_seconds", "corridor_handler_duration_seconds_bucket",
            "corridor_http_request_duration_seconds_bucket", "corridor_service_up"} <= read
    # Provisioning-ready: a stable uid, the Prometheus data source chosen at import, unique panel ids
    # and a provider that loads the folder.
    assert board["uid"] == "corridor-node" and "id" not in board
    assert all(p["datasource"]["uid"] == "${datasource}" for p in board["panels"])
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    [provider] = yaml.safe_load(PROVISIONING.read_text())["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_every_alert_reads_metrics_the_node_serves():
    served = served_metric_names()
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    unknown = {(rule["alert"], name) for rule in rules for name in metric_names(rule["expr"]) if name not in served}
    assert not unknown, f"alerts reading metrics no node serves: {sorted(unknown)}"
