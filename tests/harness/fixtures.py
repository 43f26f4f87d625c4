from __future__ import annotations

import pytest

from corridor_runtime.nats_server import NatsServer
from harness.databases import create_database, drop_database, postgres_admin_url
from harness.servers import node_server


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
