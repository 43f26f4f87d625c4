"""Every service's database, and the node's access store, upgrade through versioned revisions.

Checked as a partner upgrading would: a database written by release 0.1.0's own code (no version
table then) is recognised, upgraded in place with its rows kept, and ends with exactly the tables
the code declares; a fresh database gets the same; a database a newer release wrote is refused,
and the service says so in its status instead of running on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from corridor_runtime import migration
from corridor_runtime.database import Database
from corridor_runtime.node import SERVICES
from corridor_runtime.service import status_subject
from corridor_runtime.settings import NodeSettings
from corridor_runtime.streams import provision
from harness.releases import release_source, run_with
from sqlalchemy import text

SCHEMAS = (*SERVICES, migration.ACCESS)
CORRIDOR = str(Path(sys.executable).parent / "corridor")

# Release 0.1.0 created each service's tables at its start: its own table definitions, and its
# delivery tables (outbox, inbox). Here, that code makes them, and writes one row a user would miss.
AS_RELEASE_0_1_0_DID = """
import asyncio, importlib, sys
from datetime import datetime, timezone
from sqlalchemy import text
from corridor_runtime.database import Database
from corridor_runtime.tables import DeliveryTables

service, url = sys.argv[1], sys.argv[2]
importlib.import_module(f"corridor_{service}.bootstrap")
metadata = importlib.import_module(f"corridor_{service}.tables").metadata
DeliveryTables.define(metadata, service)
ROWS = {
    "notifications": "INSERT INTO notifications_deliveries (delivery_id, cause_event_id, recipient_id, recipient_kind,"
                     " channel, kind, language, subject, text, html, status, attempts, next_attempt_at, created_at)"
                     " VALUES ('d-1', 'e-1', 'r-1', 'volunteer', 'email', 'proposal', 'fr', 's', 't', 'h', 'pending',"
                     " 0, :now, :now)",
    "profiles": "INSERT INTO profiles_outbox (event_id, subject, data, correlation_id, created_at, next_attempt_at)"
                " VALUES ('e-1', 'local.fr.x', :data, 'c-1', :now, :now)",
}

async def main():
    db = Database(url)
    await db.create_tables(metadata)
    if service in ROWS:
        async with db.transaction() as connection:
            await connection.execute(text(ROWS[service]), {"now": datetime.now(timezone.utc), "data": b"x"})
    await db.dispose()
    print(sorted(metadata.tables))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def release_0_1_0(tmp_path_factory):
    return release_source("0.1.0", tmp_path_factory.mktemp("releases"))


@pytest.mark.parametrize("schema", SCHEMAS)
async def test_a_new_database_gets_exactly_the_tables_the_code_declares(schema, database_url):
    db = Database(database_url)
    try:
        before = await migration.upgrade(db, schema)
        assert before.current is None and before.pending[-1] == before.head
        async with db.reading() as connection:
            assert await connection.run_sync(migration.differences, schema) == []
        after = await migration.state(db, schema)
        assert after.up_to_date and after.current == after.head
        assert (await migration.upgrade(db, schema)).up_to_date  # a second start changes nothing
    finally:
        await db.dispose()


@pytest.mark.parametrize("schema", SERVICES)
async def test_a_database_written_by_release_0_1_0_is_upgraded_in_place(schema, database_url, release_0_1_0):
    made = run_with(release_0_1_0, AS_RELEASE_0_1_0_DID, schema, database_url)
    assert f"{schema}_outbox" in made
    db = Database(database_url)
    try:
        found = await migration.state(db, schema)
        assert found.unversioned and not found.up_to_date
        await migration.upgrade(db, schema)
        async with db.reading() as connection:
            assert await connection.run_sync(migration.differences, schema) == []
            if schema == "notifications":  # the column whose absence stopped the dispatcher
                rows = (await connection.execute(text(
                    "SELECT delivery_id, placement_id FROM notifications_deliveries"))).all()
                assert [tuple(r) for r in rows] == [("d-1", None)]
            if schema == "profiles":  # an event committed before the upgrade is still there to publish
                rows = (await connection.execute(text("SELECT event_id, published_at FROM profiles_outbox"))).all()
                assert [tuple(r) for r in rows] == [("e-1", None)]
        assert (await migration.state(db, schema)).current == found.head
    finally:
        await db.dispose()


async def _written_by_a_newer_release(url: str, schema: str) -> None:
    db = Database(url)
    try:
        await migration.upgrade(db, schema)
        async with db.transaction() as connection:
            await connection.execute(text(f"UPDATE {migration.version_table(schema)} SET version_num = '9999'"))
    finally:
        await db.dispose()


async def test_a_database_written_by_a_newer_release_is_refused(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fr' / 'matching.sqlite'}"
    await _written_by_a_newer_release(url, "matching")
    db = Database(url)
    try:
        with pytest.raises(migration.SchemaError, match="'9999'.*newer release"):
            await migration.upgrade(db, "matching")
    finally:
        await db.dispose()
    shown = await asyncio.to_thread(subprocess.run, [CORRIDOR, "migrate", "--check", "--data-dir", str(tmp_path),
                                    "--node", "fr"], capture_output=True, text=True, timeout=120, check=False,
                                    env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert "matching database is at schema revision '9999'" in " ".join(shown.stdout.split())


async def test_a_service_on_a_schema_it_does_not_know_says_so_in_its_status(tmp_path, nats_node):
    from corridor_notifications.bootstrap import build

    settings = NodeSettings(node_id="fr", service="notifications", nats_url=nats_node.url, data_dir=tmp_path)
    await _written_by_a_newer_release(settings.resolved_database_url(), "notifications")
    host = build(settings)
    await host.start()
    nc = await nats.connect(nats_node.url)
    try:
        answer = json.loads((await nc.request(status_subject("fr", "notifications"), b"", timeout=5)).data)
        assert "'9999'" in answer["failing"]["schema"]
        assert answer["consumers"] == []  # it handles nothing
        await provision(nc.jetstream(), "fr", peers=[])
        shown = await asyncio.to_thread(subprocess.run, [CORRIDOR, "status", "--node-id", "fr", "--nats-url",
                                        nats_node.url], capture_output=True, text=True, timeout=60, check=False,
                                        env={**os.environ, "COLUMNS": "200"})
        assert shown.returncode == 0, shown.stderr
        notifications = next(line for line in shown.stdout.splitlines() if "│ notifications" in line)
        assert "failing" in notifications
        assert "notifications is failing (schema): the notifications database is at schema revision '9999'" in \
            " ".join(shown.stdout.split())
    finally:
        await nc.close()
        await host.stop()


def test_corridor_migrate_upgrades_a_whole_node_and_check_says_when_one_is_behind(tmp_path, release_0_1_0):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fr' / 'notifications.sqlite'}"
    run_with(release_0_1_0, AS_RELEASE_0_1_0_DID, "notifications", url)

    def corridor(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([CORRIDOR, "migrate", *args, "--data-dir",
                               str(tmp_path), "--node", "fr"], capture_output=True, text=True, timeout=120,
                              check=False, env={**os.environ, "COLUMNS": "200"})

    files = sorted(p.name for p in (tmp_path / "fr").iterdir())
    check = corridor("--check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "unversioned (0.1.0)" in check.stdout and "behind" in check.stdout
    assert sorted(p.name for p in (tmp_path / "fr").iterdir()) == files  # --check made no database
    done = corridor()
    assert done.returncode == 0, done.stdout + done.stderr
    again = corridor("--check")
    assert again.returncode == 0 and again.stdout.count("up to date") == len(SCHEMAS), again.stdout
