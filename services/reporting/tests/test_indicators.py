"""Indicators on a known event history, live and rebuilt by replay (real nats-server, SQLite and
PostgreSQL): the same figures, every count under 5 people suppressed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import nats
import pytest
from corridor_contracts import Envelope, PartnerNode, Registry, events, new_node_seed, subjects
from corridor_contracts.events.placements import OutcomeKind, Side, WithdrawalReason
from corridor_contracts.types import OrganisationKind, Sector
from corridor_reporting.bootstrap import build
from corridor_reporting.rebuild import rebuild
from corridor_runtime.access import Role
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.access import bearer, signed_in_client
from harness.ledger import eventually
from harness.samples import MATCH, OPPORTUNITY_FIELDS, PROFILE
from harness.streams import shared

pytestmark = pytest.mark.nats
SEED = new_node_seed()
START = datetime(2026, 9, 1, tzinfo=UTC)


async def publish(js, event, *, target=None):
    envelope = Envelope.wrap(event, origin="fr", target=target)
    if event.SCOPE.value != "local":
        envelope = shared(envelope, {"fr": SEED})
    await js.publish(subjects.for_envelope(envelope, node="fr"), envelope.encode(), headers={"Nats-Msg-Id": str(envelope.event_id)})


async def history(js) -> int:
    """Seven volunteers, one care opportunity; six confirmed, five completed, one withdrawn, one pending."""
    opportunity = events.OpportunityPublished(**{**OPPORTUNITY_FIELDS, "host": OPPORTUNITY_FIELDS["host"].model_copy(
        update={"country": "FR", "sector": Sector.CARE, "kind": OrganisationKind.NGO})})
    await publish(js, opportunity)
    count = 1
    for i in range(7):
        volunteer_id, placement_id = uuid.uuid4(), uuid.uuid4()
        profile = PROFILE.model_copy(update={"country_of_origin": "SY" if i < 5 else "AF", "birth_date": date(1990 + i, 1, 1)})
        await publish(js, events.VolunteerRegistered(volunteer_id=volunteer_id, registered_at=START, profile=profile))
        await publish(js, events.PlacementProposed(proposal_id=placement_id, volunteer_id=volunteer_id,
                                                   opportunity_id=opportunity.opportunity_id, host_node="fr", match=MATCH,
                                                   expires_at=START + timedelta(days=7)))
        count += 2
        if i == 6:
            continue
        steps = [events.PlacementConfirmed(placement_id=placement_id, opportunity_id=opportunity.opportunity_id, slots_free=1),
                 events.PlacementStarted(placement_id=placement_id, started_on=date(2026, 10, 1)),
                 events.HoursLogged(placement_id=placement_id, entry_id=uuid.uuid4(), worked_on=date(2026, 10, 2), hours=Decimal("3.5"))]
        steps.append(events.PlacementWithdrawn(placement_id=placement_id, by=Side.HOST, reason=WithdrawalReason.OTHER) if i == 5
                     else events.PlacementCompleted(placement_id=placement_id, completed_on=date(2027, 1, 30)))
        for step in steps:
            await publish(js, step, target="fr")
        count += len(steps)
    for outcome in [OutcomeKind.EMPLOYED] * 6 + [OutcomeKind.NONE] * 5 + [OutcomeKind.IN_TRAINING]:
        await publish(js, events.PlacementOutcome(outcome_id=uuid.uuid4(), home_country="FR", host_country="FR",
                                                  host_kind=OrganisationKind.NGO, host_sector=Sector.CARE, outcome=outcome,
                                                  recorded_month="2027-07", months_after_placement=6))
        count += 1
    return count


async def indicators(host) -> dict:
    async with signed_in_client(host, "http://reporting") as api:
        return (await api.get("/indicators")).json()


async def test_indicators_on_a_known_history_live_and_rebuilt(tmp_path, nats_node, database_url):
    nc = await nats.connect(nats_node.url)
    try:
        await _known_history_live_and_rebuilt(tmp_path, nats_node, database_url, nc)
    finally:
        await nc.close()


async def _known_history_live_and_rebuilt(tmp_path, nats_node, database_url, nc):
    js = nc.jetstream()
    await provision(js, "fr", peers=[])
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR")]), registry)
    settings = NodeSettings(node_id="fr", service="reporting", nats_url=nats_node.url, database_url=database_url,
                            data_dir=tmp_path, registry_file=registry, signing_seed=SEED.decode())
    await history(js)
    host = build(settings)
    await host.start()
    try:
        async def caught_up():  # IN has sourced all of OUT (asynchronously), and both consumers applied everything
            if (await js.stream_info("IN")).state.messages < (await js.stream_info("OUT")).state.messages:
                return False
            status = await host.status()
            return all(c.get("pending") == 0 and c.get("ack_pending") == 0 and c["processed"] > 0 for c in status["consumers"])
        await eventually(caught_up, timeout=60)
        live = await indicators(host)
    finally:
        await host.stop()

    by_status = live["placements_by_status_and_host_country"]
    # Seven placements, six of them confirmed (published by month): the total would give the one
    # proposal away, so it is hidden too.
    assert by_status["columns"] == ["FR"] and by_status["column_totals"] == [None] and by_status["total"] is None
    cells = dict(zip(by_status["rows"], (row[0] for row in by_status["cells"])))
    assert cells["completed"] == 5
    assert cells["proposed"] is None and cells["withdrawn"] is None  # one person each: hidden
    # 5 completed and a rate of 0.833 would mean exactly one withdrawal: the rates are hidden.
    assert live["completion_rate"] is None and live["withdrawal_rate"] is None
    assert live["days_from_registration_to_placement"]["people"] == 6
    outcomes = live["outcomes_by_outcome_and_host_country"]
    by_outcome = dict(zip(outcomes["rows"], (r[0] for r in outcomes["cells"])))
    # One person in training is hidden, and so is the next smallest count of the column (5 "none"):
    # with the published total of 12, one hidden cell would be the total minus the others.
    assert (by_outcome["employed"], by_outcome["in_training"], by_outcome["none"], outcomes["total"]) == (6, None, None, 12)
    kinds = live["placements_by_host_kind_and_status"]
    assert kinds["rows"] == ["ngo"] and kinds["row_totals"] == [None]
    shown = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "corridor-reporting"), "show"], capture_output=True, text=True,
        check=False, timeout=120, env={**os.environ, "COLUMNS": "160", "CORRIDOR_NODE_ID": "fr",
                                             "CORRIDOR_DATABASE_URL": database_url, "CORRIDOR_REGISTRY_FILE": str(registry),
                                             "CORRIDOR_DATA_DIR": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    assert "placements confirmed by month" in shown.stdout and "completion rate: (hidden)" in shown.stdout
    assert "days from registration to placement: people 6, median" in shown.stdout
    ages = live["volunteers_by_age_band_and_origin"]
    assert ages["total"] == 7 and all(v is None or v == 0 or v >= 5 for row in ages["cells"] for v in row)

    # Rebuilt from the streams: the same figures, and the same again after a second replay. Times
    # measured from the events (registration → confirmation) make it exact, not approximately equal.
    for _ in range(2):
        host = build(settings)
        await rebuild(host, timeout=120)  # a failure, not a hang, if it cannot finish
        again = build(settings)
        await again.db.create_tables(again.metadata)
        rebuilt = await indicators(again)
        await again.db.dispose()
        assert rebuilt == live


async def test_the_csv_export_marks_suppressed_cells(tmp_path, nats_node, database_url):
    from corridor_reporting.api import table_csv

    csv_text = table_csv({"rows": ["completed", "withdrawn"], "columns": ["FR"], "cells": [[5], [None]],
                          "row_totals": [5, None], "column_totals": [6], "total": 6})
    assert csv_text.splitlines() == [",FR,total", "completed,5,5", "withdrawn,suppressed,suppressed", "total,6,6"]


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium():
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        import os

        reason = "the dashboard test needs Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; .ci/run installs it")
        pytest.skip(reason)
    return found


async def test_the_dashboard_in_a_browser_and_the_metrics_for_prometheus(tmp_path, nats_node, database_url):
    import asyncio
    import subprocess

    from corridor_runtime.nats_server import free_port
    from prometheus_client.parser import text_string_to_metric_families

    browser = chromium()
    nc = await nats.connect(nats_node.url)
    js = nc.jetstream()
    await provision(js, "fr", peers=[])
    registry = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(SEED, id="fr", name="Elan", country="FR")]), registry)
    settings = NodeSettings(node_id="fr", service="reporting", nats_url=nats_node.url, database_url=database_url,
                            data_dir=tmp_path, registry_file=registry, signing_seed=SEED.decode(), http_port=free_port())
    await history(js)
    host = build(settings)
    await host.start()
    try:
        async def caught_up():  # IN has sourced all of OUT (asynchronously), and both consumers applied everything
            if (await js.stream_info("IN")).state.messages < (await js.stream_info("OUT")).state.messages:
                return False
            status = await host.status()
            return all(c.get("pending") == 0 and c.get("ack_pending") == 0 and c["processed"] > 0 for c in status["consumers"])
        await eventually(caught_up, timeout=60)
        url = host.http_url
        # The dashboard is for people signed in to the node: fetched with a coordinator's token, then
        # rendered by the browser from the file (it is one self-contained page).
        async with httpx.AsyncClient(headers=await bearer(host, Role.COORDINATOR)) as client:
            page = await client.get(f"{url}/")
        assert page.status_code == 200, page.text
        saved = tmp_path / "dashboard.html"
        saved.write_text(page.text, encoding="utf-8")

        def browse(*args):
            return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", *args, saved.as_uri()],
                                  capture_output=True, text=True, timeout=120, check=False)

        shot = tmp_path / "dashboard.png"
        done = await asyncio.to_thread(browse, f"--screenshot={shot}", "--window-size=1280,1400")
        assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        dom = (await asyncio.to_thread(browse, "--dump-dom")).stdout
        for chart in ("over-time", "by-country", "by-status", "skills-demanded", "skills-offered", "outcomes",
                      "hosted-skills", "outcomes-here"):
            assert f'id="{chart}"' in dom
        # Whose figures: the corridor's outcomes (every node's, the same everywhere) say so; what the node
        # hosts stands beside what its volunteers do; its one opportunity is counted, not hidden.
        corridor = dom[dom.index('id="corridor"'):]
        assert 'id="outcomes"' in corridor and "Outcomes after placement, whole corridor" in corridor
        hosts = dom[dom.index('id="hosts"'):dom.index('id="volunteers"')]
        assert "<b>1</b>opportunities hosted here" in hosts and 'data-value="1"' in hosts
        assert 'id="outcomes-here"' in dom[dom.index('id="volunteers"'):dom.index('id="corridor"')]
        assert 'data-value="5"' in dom  # five completed placements in France (the total of seven is hidden)
        assert 'class="suppressed bar"' in dom and ">hidden<" in dom  # small counts drawn hatched, unnumbered

        scraper = await bearer(host, Role.SCRAPER)

        async def scraped():
            async with httpx.AsyncClient(headers=scraper) as client:
                text = (await client.get(f"{url}/metrics")).text
            families = {f.name: f for f in text_string_to_metric_families(text)}
            processed = [s for s in families.get("corridor_events_processed", []).samples if s.value > 0] \
                if "corridor_events_processed" in families else []
            return families if len(processed) == 2 else None  # a reading taken after the consumers caught up
        families = await eventually(scraped, timeout=30)
        up = {s.labels["service"]: s.value for s in families["corridor_service_up"].samples}
        assert up["reporting"] == 1 and up["profiles"] == 0  # only reporting runs in this test
        processed = {s.labels["consumer"]: s.value for s in families["corridor_events_processed"].samples}
        assert processed["reporting-local"] == 14 and processed["reporting-corridor"] > 0
        assert all(s.value == 0 for s in families["corridor_consumer_lag"].samples)
        assert {s.labels["service"]: s.value for s in families["corridor_dead_letters"].samples}["reporting"] == 0
        assert {s.labels["service"]: s.value for s in families["corridor_outbox_backlog"].samples}["reporting"] == 0
    finally:
        await host.stop()
        await nc.close()
