"""What access control costs a request: the profiles API in process, on SQLite.

Baseline: GET /health (no credential, no check). Then GET /session (the check alone: a token, or
a browser session whose account is read again), a page of 50 opportunities with a token (the check
and a read), and a page of 50 volunteers with a token (the check, a read and 50 audit rows written). Prints milliseconds per
request and each as a ratio of the baseline, measured in the same run.

    .venv/bin/python benchmarks/access.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_profiles.bootstrap import build
from corridor_runtime.access import Role
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings


async def main(requests: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="access-bench-"))
    seed = new_node_seed()
    registry = root / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(seed, id="fr", name="Elan", country="FR")]), registry)
    host = build(NodeSettings(node_id="fr", service="profiles", data_dir=root, registry_file=registry,
                              database_url=f"sqlite+aiosqlite:///{root / 'profiles.sqlite'}", signing_seed=seed.decode(),
                              pseudonym_secret="x" * 64))
    await host.db.create_tables(host.metadata)
    await host.open_access()
    token = await host.access.store.issue_token("bench", [Role.OPERATOR.value])
    await host.access.store.add_account("ana", [Role.OPERATOR.value], "a long enough password")
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host.http_app), base_url="http://fr") as api:
        org = (await api.post("/organisations", headers=bearer, json={
            "name": "Accueil", "kind": "ngo", "sector": "care", "country": "FR", "city": "Lyon",
            "contact": {"name": "Jeanne", "email": "j@accueil.example", "preferred_language": "fr"}})).json()
        for n in range(50):
            await api.post("/opportunities", headers=bearer, json={
                "organisation_id": org["organisation_id"], "title": f"Role {n}", "required_skills": [{"code": "care.elderly-care"}],
                "languages": [{"language": "fr", "level": "B1"}], "place": {"country": "FR", "city": "Lyon"},
                "hours_per_week": 5, "starts_on": "2027-02-01", "slots_total": 1})
            await api.post("/volunteers", headers=bearer, json={
                "reference": f"B-{n}", "given_name": "N", "family_name": f"F{n}", "email": f"v{n}@example.org",
                "country_of_origin": "SY", "preferred_language": "fr", "place": {"country": "FR", "city": "Lyon"},
                "languages": [{"language": "fr", "level": "B2"}], "skills": ["care.elderly-care"],
                "availability": {"hours_per_week": 10, "available_from": "2027-01-04"},
                "consents": {"processing": True, "share_match_profile": True, "disclose_contact": True}})
        session = httpx.AsyncClient(transport=httpx.ASGITransport(app=host.http_app), base_url="http://fr")
        assert (await session.post("/login", data={"username": "ana", "password": "a long enough password"})).status_code == 303

        async def timed(client, path, headers=None) -> float:
            samples = []
            for _ in range(requests):
                start = time.perf_counter()
                answer = await client.get(path, headers=headers or {})
                samples.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
            return statistics.median(samples) * 1000

        rounds = []
        for _ in range(2):  # alternate, twice: the machine is noisy
            rounds.append({
                "GET /health (no check)": await timed(api, "/health"),
                "GET /session, token (the check alone)": await timed(api, "/session", bearer),
                "GET /session, session cookie": await timed(session, "/session"),
                "GET /opportunities?limit=50, token": await timed(api, "/opportunities?limit=50", bearer),
                "GET /volunteers?limit=50, token (+50 audit rows)": await timed(api, "/volunteers?limit=50", bearer),
            })
        await session.aclose()
    await host.db.dispose()
    await host.access.stop()
    base = statistics.median(r["GET /health (no check)"] for r in rounds)
    print(f"{'request':<52} {'ms (median of medians)':>24} {'× /health':>10}")
    for name in rounds[0]:
        value = statistics.median(r[name] for r in rounds)
        print(f"{name:<52} {value:>24.2f} {value / base:>10.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args().requests))
