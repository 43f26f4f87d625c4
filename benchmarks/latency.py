"""Cross-node latency: a placement request from France to its confirmation back at France, through
the hub, at a steady rate, p50 and p99 — against the transport alone in the same run.

    .venv/bin/python benchmarks/latency.py [--rate 100] [--requests 600]

A hub and two nodes (fr, es) on loopback, each node a leaf with its own account on the hub. France
sends `PlacementRequested` events (sealed and signed, as its matching service would) into its OUT at
`--rate` per second; Spain's real profiles service (SQLite) consumes them from its IN, confirms them
against one opportunity, and its relay publishes `PlacementConfirmed` to its OUT; the time is taken
when the confirmation lands in France's IN (an ordered consumer).
Baseline, same run: the transport alone — a bare responder at Spain that answers each request by
publishing a confirmation-sized message into its OUT straight away (no database, no service).
Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import nats
from rich.console import Console
from rich.table import Table

from corridor_contracts import Envelope, PartnerNode, Registry, Sealer, Signer, events, new_node_seed, pseudonym, sealing_key_of
from corridor_contracts.events.placements import MatchSummary
from corridor_profiles.bootstrap import build as build_profiles
from corridor_runtime.nats_server import LeafUser, NatsServer, free_port, leaf_remote
from corridor_runtime.registry_file import save_registry
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision

from common import save

NODES = ("fr", "es")
SEEDS = {n: new_node_seed() for n in NODES}
KEYS = {n: sealing_key_of(s) for n, s in SEEDS.items()}


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return {"n": len(ordered), "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


async def drive(fr, rate: int, count: int, opportunity_id: str, answered: dict, sent: dict) -> None:
    """Send `count` requests at `rate` per second from France."""
    js = fr.jetstream()
    sealer, signer, secret = Sealer("fr", SEEDS["fr"], KEYS), Signer(SEEDS["fr"]), secrets.token_bytes(32)
    expires = datetime.now(timezone.utc) + timedelta(days=7)
    start = time.perf_counter()
    for i in range(count):
        request = events.PlacementRequested(placement_id=uuid.uuid4(), opportunity_id=opportunity_id,
                                            volunteer=pseudonym(secret, uuid.uuid4(), "es"), match=MatchSummary(score=0.8),
                                            expires_at=expires)
        envelope = signer.sign(sealer.seal(Envelope.wrap(request, origin="fr", target="es")))
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        sent[str(request.placement_id)] = time.perf_counter()
        await js.publish(f"corridor.direct.es.fr.PlacementRequested", envelope.encode(),
                         headers={"Nats-Msg-Id": str(envelope.event_id)})
    deadline = time.perf_counter() + 60
    while len(answered) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)


async def listen(fr, answered: dict, sent: dict) -> nats.js.JetStreamContext.PushSubscription:
    """France's IN: note when each confirmation arrives."""
    sealer = Sealer("fr", SEEDS["fr"], KEYS)

    async def arrived(msg):
        at = time.perf_counter()
        wire = json.loads(msg.data)
        if "sealed" in wire:  # the service's PlacementConfirmed
            placement_id = sealer.open(Envelope.model_validate(wire)).payload["placement_id"]
        else:  # the bare responder's answer
            placement_id = wire["placement_id"]
        if placement_id in sent and placement_id not in answered:
            answered[placement_id] = at - sent[placement_id]
    return await fr.jetstream().subscribe("corridor.direct.fr.es.>", stream="IN", cb=arrived, ordered_consumer=True)


async def sources_ready(clients, timeout: float = 60.0) -> None:
    """Until a probe from each node has reached the other's IN (sources across the hub are up)."""
    deadline = time.monotonic() + timeout
    for origin, target in (("fr", "es"), ("es", "fr")):
        await clients[origin].jetstream().publish(f"corridor.direct.{target}.{origin}.Probe", b"{}")
        while (await clients[target].jetstream().stream_info("IN")).state.messages == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the streams' sources across the hub did not come up")
            await asyncio.sleep(0.2)
        await clients[target].jetstream().purge_stream("IN")


async def run(rate: int, count: int, root: Path) -> dict:
    hub = NatsServer(name="hub", store_dir=root / "hub", jetstream=False, leafnode_port=free_port(),
                     leaf_users=[LeafUser(n, n, secrets.token_urlsafe(12), list(NODES)) for n in NODES]).start()
    servers = {n: NatsServer(name=n, store_dir=root / n, domain=n, remotes=[leaf_remote(n, hub.leaf_url(n))]).start() for n in NODES}
    clients = {}
    try:
        for n in NODES:
            clients[n] = await nats.connect(servers[n].url)
            await provision(clients[n].jetstream(), n, [p for p in NODES if p != n])
        await sources_ready(clients)
        figures = {}

        # Baseline: the transport alone (a bare responder at Spain).
        es_js = clients["es"].jetstream()

        async def echo(msg):
            wire = json.loads(msg.data)
            answer = {"placement_id": Sealer("es", SEEDS["es"], KEYS).open(Envelope.model_validate(wire)).payload["placement_id"]}
            await es_js.publish("corridor.direct.fr.es.Echo", json.dumps(answer).encode())
        responder = await es_js.subscribe("corridor.direct.es.fr.>", stream="IN", cb=echo, ordered_consumer=True)
        answered, sent = {}, {}
        listener = await listen(clients["fr"], answered, sent)
        await drive(clients["fr"], rate, count, str(uuid.uuid4()), answered, sent)
        figures["transport"] = percentiles(list(answered.values()))
        await responder.unsubscribe()
        await listener.unsubscribe()

        # The corridor: Spain's profiles service confirms.
        registry = root / "corridor.yaml"
        save_registry(Registry(nodes=[PartnerNode.of_seed(SEEDS[n], id=n, name=n, country=n.upper()) for n in NODES]), registry)
        host = build_profiles(NodeSettings(node_id="es", service="profiles", nats_url=servers["es"].url, data_dir=root,
                                           registry_file=registry, signing_seed=SEEDS["es"].decode()))
        await host.start()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host.http_app), base_url="http://es") as api:
                org = (await api.post("/organisations", json={
                    "name": "Fundación", "kind": "ngo", "sector": "care", "country": "ES", "city": "Sevilla",
                    "contact": {"name": "Lucía", "email": "lucia@example.es", "preferred_language": "es"}})).json()
                opportunity = (await api.post("/opportunities", json={
                    "organisation_id": org["organisation_id"], "title": "Compañía", "required_skills": [{"code": "care.elderly-care"}],
                    "languages": [{"language": "es", "level": "B1"}], "place": {"country": "ES", "city": "Sevilla"},
                    "hours_per_week": 6, "starts_on": "2027-02-01", "slots_total": 1000})).json()
            answered, sent = {}, {}
            listener = await listen(clients["fr"], answered, sent)
            await asyncio.sleep(1)
            await drive(clients["fr"], rate, min(count, 1000), opportunity["opportunity_id"], answered, sent)
            figures["corridor"] = percentiles(list(answered.values()))
            await listener.unsubscribe()
        finally:
            await host.stop()
        return figures
    finally:
        for nc in clients.values():
            await nc.close()
        for server in servers.values():
            server.stop()
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100, help="requests per second")
    parser.add_argument("--requests", type=int, default=600, help="how many (at most 1000: one opportunity's slots)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(args.rate, args.requests, Path(tmp)))
    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
               "rate": args.rate, "requests": args.requests, **figures}
    table = Table(title=f"placement request → confirmation at home, {args.rate}/s, {results['date']}")
    for column in ("path", "n", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column)
    for name, label in (("corridor", "fr → hub → es profiles (SQLite) → hub → fr IN"), ("transport", "baseline: bare responder at es")):
        f = figures[name]
        table.add_row(label, str(f["n"]), str(f["p50_ms"]), str(f["p99_ms"]), str(f["max_ms"]))
    Console().print(table)
    save("latency", results)


if __name__ == "__main__":
    main()
