"""Schemathesis against the matching, notifications and reporting services as they run on a node
(profiles has its own, on SQLite and PostgreSQL): no 5xx, every response matches the published schema."""

from __future__ import annotations

import pytest

from corridor_contracts import new_node_seed
from harness.api_fuzz import check_api, running_service

pytestmark = pytest.mark.nats


@pytest.mark.parametrize("service, operations", [("matching", 8), ("notifications", 2), ("reporting", 4)])
def test_no_input_makes_the_api_fail_or_break_its_schema(tmp_path, service, operations):
    with running_service(tmp_path, service, new_node_seed()) as served:
        failures = check_api(served, min_operations=operations)
    assert failures == [], "\n\n".join(failures)
