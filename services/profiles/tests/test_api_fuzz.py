"""Schemathesis against the profiles service as it runs on a node: whatever an operator's client
sends, no 5xx, every response matches the schema the API publishes, and invalid data is refused."""

from __future__ import annotations

import pytest

from harness.api_fuzz import check_api, running_service
from harness.databases import create_database, drop_database, postgres_admin_url
from profiles_support import SEEDS

pytestmark = pytest.mark.nats


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def profiles_url(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    database_url, drop = None, None
    if request.param == "postgresql":
        import asyncio

        admin = postgres_admin_url(request)
        database_url = asyncio.run(create_database(admin))
        drop = lambda: asyncio.run(drop_database(admin, database_url))  # noqa: E731
    try:
        with running_service(root, "profiles", SEEDS["fr"], database_url) as served:
            yield served
    finally:
        if drop:
            drop()


def test_no_input_makes_the_api_fail_or_break_its_schema(profiles_url):
    failures = check_api(profiles_url, min_operations=20)
    assert failures == [], "\n\n".join(failures)
