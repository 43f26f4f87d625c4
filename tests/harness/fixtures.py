from __future__ import annotations

import pytest

from corridor_runtime.nats_server import NatsServer
from harness.databases import create_database, drop_database, postgres_admin_url
from harness.servers import hub_server, node_server


@pytest.fixture(scope="session")
def _postgres_admin(request) -> str:
    return postgres_admin_url(request)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, then a PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite'}"
        return
    admin = request.getfixturevalue("_postgres_admin")
    url = await create_database(admin)
    try:
        yield url
    finally:
        await drop_database(admin, url)


@pytest.fixture
def nats_node(tmp_path):
    """A real nats-server for node 'fr' (JetStream domain 'fr') on free loopback ports."""
    server = node_server(tmp_path, "fr")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def corridor_servers(tmp_path):
    """Start a hub and leaf nodes (each in its JetStream domain): `start(["es", "fr"])` returns the
    servers by node id. All of them stop at the end, even when the test fails."""
    started = []

    def start(nodes):
        hub = hub_server(tmp_path, list(nodes)).start()
        started.append(hub)
        servers = {}
        for node in nodes:
            servers[node] = node_server(tmp_path, node, hub=hub).start()
            started.append(servers[node])
        return hub, servers

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()
