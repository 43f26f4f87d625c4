from __future__ import annotations

import httpx
import pytest

from corridor_contracts import PartnerNode, Registry, public_key_of
from corridor_profiles.bootstrap import build
from corridor_runtime.registry_file import save_registry
from harness.access import bearer
from profiles_support import COUNTRIES, SEEDS, profiles_settings


@pytest.fixture
def registry_file(tmp_path):
    path = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(s, id=n, name=f"Partner {n}", country=COUNTRIES[n])
                                  for n, s in SEEDS.items()]), path)
    return path


@pytest.fixture
async def api(tmp_path, registry_file, database_url):
    """The real app on a real database (no broker: events stay in the outbox, where tests read them)."""
    host = build(profiles_settings(tmp_path, registry_file, database_url))
    await host.db.create_tables(host.metadata)
    await host.open_access()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host.http_app), base_url="http://profiles",
                                 headers=await bearer(host)) as client:
        client.host = host
        yield client
    await host.db.dispose()
    await host.access.stop()


