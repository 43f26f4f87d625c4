"""The README's run command: the demo corridor (a hub and three nodes, twelve service processes)
seeds its data, runs the saga across the nodes and ends with the report and where to look."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.nats
CORRIDOR = Path(sys.executable).parent / "corridor"


def test_the_demo_corridor_runs_the_saga_across_three_nodes(tmp_path):
    done = subprocess.run([str(CORRIDOR), "demo", "--data-dir", str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "corridor up: hub nats://127.0.0.1:" in out and "demo corridor — done" in out
    assert "corridor report" in out and "where to look:" in out and "corridor stopped" in out
    # Without --keep-running the services are gone when the report is read: no address, no password.
    where = out.split("where to look:")[1]
    assert "http://" not in where and "password" not in where and "--keep-running" in where
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│") and line.split("│")[1].strip() in ("fr", "es", "it")}
    completed = sum(int(row[5]) for row in rows.values())
    hosted = sum(int(row[6]) for row in rows.values())
    assert completed >= 3 and hosted >= completed
    for node in ("fr", "es", "it"):
        assert len(mailbox.Maildir(tmp_path / "demo" / node / "maildir", create=False)) > 0
        assert (tmp_path / "demo" / node / "logs" / "profiles.log").stat().st_size > 0
