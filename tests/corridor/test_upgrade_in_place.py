"""A partner upgrades its node in place: release 0.1.0 ran the demo corridor and left its node's
files (SQLite databases, the nats-server's store, keys); the current code starts on those same files.

Checked as that partner would: every service comes up (none failing), the schemas say they are up
to date, the messages 0.1.0 sent are still listed by the notifications API (which answered 500 on
an upgraded node before schemas were versioned), and no service logged an error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from harness.releases import python_path, release_source

pytestmark = pytest.mark.nats
CORRIDOR = Path(sys.executable).parent / "corridor"
SERVICES = ("profiles", "matching", "notifications", "reporting")
ENV = {**os.environ, "COLUMNS": "250"}


@pytest.fixture(scope="module")
def left_by_release_0_1_0(tmp_path_factory) -> Path:
    """The demo corridor's files as release 0.1.0's `corridor demo` left them."""
    root = tmp_path_factory.mktemp("upgrade")
    tree = release_source("0.1.0", root)
    done = subprocess.run([sys.executable, "-c", "from corridor_runtime.cli import app; app()", "demo", "--data-dir",
                           str(root / "corridor")], capture_output=True, text=True, timeout=300, check=False,
                          cwd=tree, env={**ENV, "PYTHONPATH": python_path(tree)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "corridor stopped" in done.stdout
    return root / "corridor"


def _corridor(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(CORRIDOR), *args], capture_output=True, text=True, timeout=timeout, check=False, env=ENV)


def _rows(database: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(database) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_current_code_starts_on_a_node_that_release_0_1_0_ran(left_by_release_0_1_0, tmp_path):
    data = tmp_path / "corridor"
    shutil.copytree(left_by_release_0_1_0, data, symlinks=True)
    sent_by_0_1_0 = _rows(data / "fr" / "notifications.sqlite", "notifications_deliveries")
    assert sent_by_0_1_0 > 0

    check = _corridor("migrate", "--check", "--data-dir", str(data), "--node", "fr")
    assert check.returncode == 1 and check.stdout.count("unversioned (0.1.0)") == len(SERVICES), check.stdout
    issued = _corridor("tokens", "issue", "--data-dir", str(data), "--node", "fr", "--name", "upgrade-check",
                       "--role", "operator")
    assert issued.returncode == 0, issued.stdout + issued.stderr
    token = re.search(r"crd_[\w-]+", issued.stdout).group(0)

    node = subprocess.Popen([str(CORRIDOR), "node", "--node-id", "fr", "--data-dir", str(data), "--keep-running"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        shown = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = node.stdout.readline()
            if not line:
                break
            shown.append(line)
            if line.startswith("data:"):
                break
        table = "".join(shown)
        rows = {cells[0]: cells for cells in
                ([c.strip() for c in line.split("│")[1:-1]] for line in shown if line.startswith("│"))}
        assert all(rows[service][1] == "up" for service in SERVICES), table
        notifications = rows["notifications"][-1]

        listed = httpx.get(f"{notifications}/deliveries", params={"limit": 500},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == sent_by_0_1_0

        status = _corridor("status", "--node-id", "fr", "--nats-url", re.search(r"nats://[\d.:]+", table).group(0))
        assert status.returncode == 0 and "failing" not in status.stdout, status.stdout
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=60)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        node.stdout.close()

    after = _corridor("migrate", "--check", "--data-dir", str(data), "--node", "fr")
    assert after.returncode == 0 and after.stdout.count("up to date") == len(SERVICES) + 1, after.stdout
    for service in SERVICES:
        lines = [json.loads(line) for line in (data / "fr" / "logs" / f"{service}.log").read_text().splitlines()]
        upgraded = [line for line in lines if line["event"] == "database schema upgraded" and line["schema"] == service]
        assert len(upgraded) == 1 and upgraded[0]["unversioned"], service
        assert not [line for line in lines[lines.index(upgraded[0]):] if line["level"] in ("error", "critical")], service
