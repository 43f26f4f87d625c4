"""Schemathesis against a service as it runs on a node (its own process, a real nats-server, a real
database): whatever a client sends, no 5xx, and every response matches the schema the API publishes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

from corridor_contracts import PartnerNode, Registry
from corridor_runtime.access import AccessStore, Role
from corridor_runtime.database import Database
from corridor_runtime.nats_server import free_port
from corridor_runtime.settings import access_database_url
from corridor_runtime.registry_file import save_registry
from harness.servers import node_server


@dataclass(frozen=True)
class Served:
    url: str
    headers: dict[str, str]  # a token of the node with every role


@contextlib.contextmanager
def running_service(root: Path, service: str, seed: bytes, database_url: str | None = None) -> Iterator[Served]:
    """Start `python -m corridor_<service>` for node fr; yield its base URL and a token; stop it and its server."""
    server = node_server(root, "fr").start()
    registry = root / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(seed, id="fr", name="Elan", country="FR")]), registry)
    port = free_port()
    database_url = database_url or f"sqlite+aiosqlite:///{root / (service + '.sqlite')}"
    env = {**os.environ, "CORRIDOR_NODE_ID": "fr", "CORRIDOR_NATS_URL": server.url,
           "CORRIDOR_DATABASE_URL": database_url,
           "CORRIDOR_REGISTRY_FILE": str(registry), "CORRIDOR_SIGNING_SEED": seed.decode(),
           "CORRIDOR_PSEUDONYM_SECRET": secrets.token_hex(32), "CORRIDOR_DATA_DIR": str(root),
           "CORRIDOR_HTTP_PORT": str(port), "CORRIDOR_LOG_LEVEL": "WARNING"}
    log_path = root / f"{service}.log"
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", f"corridor_{service}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {service} service did not start: {log_path.read_text()}")
                time.sleep(0.1)
        token = asyncio.run(_token(access_database_url(root, "fr", database_url)))
        yield Served(url, {"Authorization": f"Bearer {token}"})
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        server.stop()


async def _token(database_url: str) -> str:
    """A token of every role, issued in the node's access store (its database, as the service was given one)."""
    store = AccessStore(Database(database_url))
    try:
        await store.create()
        return await store.issue_token("fuzz", [r.value for r in Role])
    finally:
        await store.dispose()


def check_api(served: Served, *, min_operations: int, max_examples: int = 25) -> list[str]:
    """Every operation of the service's OpenAPI schema, `max_examples` generated requests each; the
    failures found (empty: none). Driven by hand: schemathesis' pytest loader does not run under pytest 9."""
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", headers=served.headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= min_operations, [f"{o.method} {o.path}" for o in operations]
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            # Every default check but "positive data accepted": schemas' patterns are looser than the
            # rules (a two-letter code that is no ISO country; registering without consent).
            case.call_and_validate(headers=served.headers, excluded_checks=[schemathesis.checks.positive_data_acceptance])

        try:
            check()
        except BaseException as error:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    return failures
