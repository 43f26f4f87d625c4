"""Reporting's status of each placement is matching's, whatever happened to it.

Two nodes on real nats-servers: volunteers at home (fr), opportunities at a host (es). A seeded
random history: she accepts, declines or lets a proposal lapse; the host starts, completes or
withdraws; the home withdraws her. Then every placement's status in fr's reporting must equal its
status in fr's matching: the figures an operator reads say what the saga did.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from corridor_contracts import new_node_seed
from corridor_matching.saga import Deadlines
from harness.ledger import eventually
from harness.partners import PartnerNodeUnderTest, admit

pytestmark = pytest.mark.nats
NODES = {"fr": ("Elan Interculturel", "FR"), "es": ("Cámara de Comercio de Sevilla", "ES")}
SEEDS = {node: new_node_seed() for node in NODES}
HISTORY_SECONDS = 25


@pytest.fixture
async def corridor(tmp_path, corridor_servers):
    _, servers = corridor_servers(list(NODES))
    registry = await admit(tmp_path, servers, NODES, SEEDS)
    quick = Deadlines(proposal=timedelta(seconds=3), request=timedelta(seconds=20), reminder=timedelta(seconds=1))
    fr = PartnerNodeUnderTest("fr", tmp_path, servers["fr"].url, registry, SEEDS, reporting=True, deadlines=quick)
    es = PartnerNodeUnderTest("es", tmp_path, servers["es"].url, registry, SEEDS)
    try:
        for node in (fr, es):
            await node.start()
        yield fr, es
    finally:
        for node in (fr, es):
            await node.stop()


async def seed(fr, es, rng: random.Random) -> None:
    org = (
        await es.profiles.post(
            "/organisations",
            json={
                "name": "Asesoría Giralda",
                "kind": "business",
                "sector": "accounting",
                "country": "ES",
                "city": "Sevilla",
                "contact": {"name": "Carmen Ruiz", "email": "carmen@giralda.example.es", "preferred_language": "es"},
            },
        )
    ).json()
    for n in range(5):
        created = await es.profiles.post(
            "/opportunities",
            json={
                "organisation_id": org["organisation_id"],
                "title": f"Auxiliar contable {n}",
                "required_skills": [{"code": "accounting.bookkeeping"}],
                "languages": [{"language": "es", "level": "B2"}],
                "place": {"country": "ES", "city": "Sevilla"},
                "hours_per_week": 10,
                "starts_on": "2027-02-01",
                "slots_total": rng.choice([1, 2, 3]),
            },
        )
        assert created.status_code == 201, created.text
    for n in range(12):
        created = await fr.profiles.post(
            "/volunteers",
            json={
                "reference": f"FR-{n}",
                "given_name": f"Name{n}",
                "family_name": "Family",
                "email": f"v{n}@example.org",
                "country_of_origin": "VE",
                "preferred_language": "es",
                "place": {"country": "FR", "city": "Toulouse", "willing_to_move": True},
                "languages": [{"language": "es", "level": "C2"}],
                "skills": ["accounting.bookkeeping"],
                "availability": {"hours_per_week": 20, "available_from": "2027-01-15"},
                "sector_preferences": ["accounting"],
                "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True},
            },
        )
        assert created.status_code == 201, created.text


async def act(fr, es, rng: random.Random, decided: set[str]) -> int:
    """One pass over the placements: each open one may get a move (at most once per state)."""
    moves = 0
    for placement in (await fr.matching.get("/placements?limit=500")).json()["items"]:
        pid, status = placement["placement_id"], placement["status"]
        if (pid, status) in decided:
            continue
        decided.add((pid, status))
        roll = rng.random()
        answers = []
        if status == "proposed":
            if roll < 0.4:
                answers.append(await fr.matching.post(f"/placements/{pid}/accept"))
            elif roll < 0.7:
                answers.append(await fr.matching.post(f"/placements/{pid}/decline"))
            # else: she lets it lapse (3 s)
        elif status in ("confirmed", "started"):
            if roll < 0.25:
                answers.append(
                    await fr.matching.post(f"/placements/{pid}/withdraw", json={"reason": "volunteer_choice"})
                )
            elif roll < 0.45:
                answers.append(await es.profiles.post(f"/placements/{pid}/withdraw", json={"reason": "host_choice"}))
            elif status == "confirmed":
                answers.append(await es.profiles.post(f"/placements/{pid}/start", json={"started_on": "2027-02-01"}))
            elif roll < 0.8:
                answers.append(
                    await es.profiles.post(
                        f"/placements/{pid}/complete",
                        json={"completed_on": "2027-05-31", "skills_practised": ["accounting.bookkeeping"]},
                    )
                )
        # A move may meet a placement that moved meanwhile (409, or 404 at a host that has not heard of
        # it yet); anything else is a mistake of the test.
        assert all(a.status_code in (200, 404, 409) for a in answers), [(a.status_code, a.text) for a in answers]
        moves += 1
    return moves


async def test_every_placement_has_the_same_status_in_reporting_as_in_matching(corridor):
    fr, es = corridor
    rng = random.Random(20261202)
    await seed(fr, es, rng)
    decided: set = set()
    until = time.monotonic() + HISTORY_SECONDS
    while time.monotonic() < until:
        await act(fr, es, rng, decided)
        await __import__("asyncio").sleep(0.3)
    # Let the last moves travel: no more proposals (rounds keep proposing while she is free).
    for volunteer in (await fr.profiles.get("/volunteers?limit=100")).json()["items"]:
        await fr.profiles.post(
            f"/volunteers/{volunteer['volunteer_id']}/consents", json={"consent": "processing", "granted": False}
        )

    def statuses():
        matching = dict(fr.rows("matching", "SELECT placement_id, status FROM matching_placements"))
        reporting = dict(fr.rows("reporting", "SELECT placement_id, status FROM reporting_placements"))
        return matching, reporting

    async def agree():
        matching, reporting = statuses()
        return matching == reporting and matching

    try:
        await eventually(agree, timeout=90, interval=1.0)
    except AssertionError:
        matching, reporting = statuses()
        differ = {p: (s, reporting.get(p)) for p, s in matching.items() if reporting.get(p) != s}
        raise AssertionError(f"matching vs reporting differ on {len(differ)} of {len(matching)}: {differ}") from None
    matching, _ = statuses()
    seen = set(matching.values())
    # The history was varied enough to mean something.
    assert len({"declined", "expired", "withdrawn"} & seen) >= 2 and {"confirmed", "started", "completed"} & seen, seen
    assert len(matching) >= 12
