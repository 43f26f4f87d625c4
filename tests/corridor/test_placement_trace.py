"""Following placements as an operator. One placement is one trace: the operator's click on her home
node (France) accepting a proposal, the host node (Spain) confirming the slot, France learning of it
and sending the consented contact, Spain receiving that — every span in one trace, each naming the
node and service it ran in, the context carried between them in the messages' traceparent headers,
through both nodes' streams and the hub. And the node's /metrics shows how long its handlers and
requests take, and when each peer node was last heard from."""

from __future__ import annotations

import json
import time

import pytest
from corridor_contracts import new_node_seed
from corridor_runtime.access import Role
from corridor_runtime.telemetry import Telemetry
from harness.access import signed_in_client
from harness.ledger import eventually
from harness.partners import PartnerNodeUnderTest, admit, placement_of, publish_accounting_role
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.nats
NODES = {"fr": ("Elan Interculturel", "FR"), "es": ("Cámara de Comercio de Sevilla", "ES")}
SEEDS = {node: new_node_seed() for node in NODES}


@pytest.fixture
async def traced_corridor(tmp_path, corridor_servers):
    _, servers = corridor_servers(list(NODES))
    registry = await admit(tmp_path, servers, NODES, SEEDS)
    exporter = InMemorySpanExporter()
    nodes = {node: PartnerNodeUnderTest(node, tmp_path, servers[node].url, registry, SEEDS, reporting=node == "fr")
             for node in NODES}
    for node in nodes.values():
        for host in node.hosts:  # as CORRIDOR_OTLP_ENDPOINT would, with spans kept in memory
            host.telemetry = Telemetry(host.settings.node_id, host.name, span_processor=SimpleSpanProcessor(exporter))
    try:
        for node in nodes.values():
            await node.start()
        yield nodes, exporter
    finally:
        for node in nodes.values():
            await node.stop()


def where(span: ReadableSpan) -> tuple[str, str]:
    return span.resource.attributes["corridor.node"], span.resource.attributes["service.name"]


async def register_accountant(fr) -> dict:
    return (await fr.profiles.post("/volunteers", json={
        "given_name": "Lucía", "family_name": "Pérez", "email": "lucia.perez@example.org", "phone": "+33 6 11 22 33 44",
        "country_of_origin": "VE", "preferred_language": "es",
        "place": {"country": "FR", "region": "Occitanie", "city": "Toulouse", "willing_to_move": True},
        "languages": [{"language": "es", "level": "C2"}, {"language": "fr", "level": "B1"}], "skills": ["accounting.bookkeeping"],
        "availability": {"hours_per_week": 20, "available_from": "2027-01-15"}, "sector_preferences": ["accounting"],
        "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})).json()


async def test_a_placement_is_one_trace_from_the_click_on_the_home_node_to_the_hosts_confirmation(traced_corridor):
    nodes, exporter = traced_corridor
    fr, es = nodes["fr"], nodes["es"]
    await publish_accounting_role(es)
    lucia = await register_accountant(fr)
    proposal = await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "proposed"), timeout=90)
    pid = proposal["placement_id"]

    assert (await fr.matching.post(f"/placements/{pid}/accept")).status_code == 200
    await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "confirmed"), timeout=90)

    async def disclosed_at_the_host():
        found = (await es.profiles.get(f"/placements/{pid}")).json()
        return found if found.get("contact_disclosed") else None
    await eventually(disclosed_at_the_host, timeout=60)

    # The click: the accept request served by France's matching service.
    [click] = [s for s in exporter.get_finished_spans()
               if s.attributes.get("http.route") == "/placements/{placement_id}/accept"]
    assert where(click) == ("fr", "matching") and click.parent is None

    async def journey():
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == click.context.trace_id]
        handled = {(where(s), s.attributes.get("corridor.event_type")) for s in spans if s.name.startswith("handle ")}
        wanted = {(("es", "profiles"), "PlacementRequested"), (("fr", "matching"), "PlacementConfirmed"),
                  (("es", "profiles"), "ContactDisclosed")}
        return spans if wanted <= handled else None
    spans = await eventually(journey, timeout=30)

    # Both nodes' services took part, each span under the one that emitted what it handled: the
    # trace is one tree rooted at the click.
    assert {("fr", "matching"), ("es", "profiles")} <= {where(s) for s in spans}
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        if span is not click:
            assert span.parent is not None and span.parent.span_id in by_id, span.name
    confirmed_in_spain = next(s for s in spans if where(s) == ("es", "profiles")
                              and s.attributes.get("corridor.event_type") == "PlacementRequested")
    assert by_id[confirmed_in_spain.parent.span_id] is click  # the request went straight from the click
    learnt_in_france = next(s for s in spans if where(s) == ("fr", "matching")
                            and s.attributes.get("corridor.event_type") == "PlacementConfirmed")
    assert by_id[learnt_in_france.parent.span_id] is confirmed_in_spain
    placement_steps = [s for s in spans if s.name.startswith(("handle Placement", "handle Contact"))]
    assert {s.attributes.get("corridor.placement_id") for s in placement_steps} == {pid}

    # Spans name ids, never her personal data, nor where a request came from or what it asked for.
    personal = ["Lucía", "Pérez", "lucia.perez@example.org", "+33 6 11 22 33 44", "Toulouse", "Occitanie"]
    for span in exporter.get_finished_spans():
        text = json.dumps({"name": span.name, "attributes": dict(span.attributes or {}),
                           "events": [dict(e.attributes or {}) for e in span.events]}, ensure_ascii=False)
        assert not any(value in text for value in personal), text
        assert "127.0.0.1" not in text and "?" not in text, text


async def test_the_node_metrics_show_handler_and_request_latency_and_when_each_peer_was_last_heard(traced_corridor):
    nodes, _ = traced_corridor
    fr, es = nodes["fr"], nodes["es"]
    began = time.time()
    await publish_accounting_role(es)
    lucia = await register_accountant(fr)
    proposal = await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "proposed"), timeout=90)
    pid = proposal["placement_id"]
    assert (await fr.matching.post(f"/placements/{pid}/accept")).status_code == 200
    await eventually(lambda: placement_of(fr, lucia["volunteer_id"], "confirmed"), timeout=90)

    accept = {"node": "fr", "service": "matching", "route": "/placements/{placement_id}/accept", "method": "POST",
              "status": "200"}
    confirmed = {"node": "fr", "service": "matching", "consumer": "matching-corridor", "event_type": "PlacementConfirmed"}
    proposed = {"node": "fr", "service": "notifications", "consumer": "notifications-local", "event_type": "PlacementProposed"}

    async def scraped():
        async with signed_in_client(fr.reporting_host, "http://r", Role.SCRAPER) as scraper:
            text = (await scraper.get("/metrics")).text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}

        def value(name, labels):
            return samples.get((name, tuple(sorted(labels.items()))))
        found = (value("corridor_http_request_duration_seconds_count", accept),
                 value("corridor_handler_duration_seconds_count", confirmed),
                 value("corridor_handler_duration_seconds_count", proposed),
                 value("corridor_peer_last_event_timestamp_seconds", {"node": "fr", "peer": "es"}),
                 value("corridor_service_up", {"node": "fr", "service": "matching"}))
        return (text, found) if None not in found else None
    text, (accepted, confirmations, proposals, heard, up) = await eventually(scraped, timeout=60)

    assert (accepted, confirmations, proposals, up) == (1, 1, 1, 1)
    assert began - 1 <= heard <= time.time()
    # Routes are templates: no id of a volunteer or a placement becomes a label.
    assert pid not in text and lucia["volunteer_id"] not in text
