"""The README's run command: the demo corridor (a hub and three nodes, twelve service processes)
seeds its data, runs the saga across the nodes and ends with the report and where to look; the same
seed gives the same corridor and the same report."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.timeout(900)]
CORRIDOR = Path(sys.executable).parent / "corridor"


def _demo(data_dir: Path, *options: str) -> str:
    done = subprocess.run([str(CORRIDOR), "demo", "--data-dir", str(data_dir), *options], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "200"}, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _seeded(out: str) -> list[str]:
    after = out.split("seeded from seed ", 1)[1].splitlines()
    return [after[0], *(line for line in after[1:4] if line.startswith(("  fr:", "  es:", "  it:")))]


def _report(out: str) -> str:
    return out.split("corridor report", 1)[1].split("where to look:", 1)[0]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, str]:
    data_dir = tmp_path_factory.mktemp("demo") / "demo"
    return data_dir, _demo(data_dir)


def test_the_demo_corridor_runs_the_saga_across_three_nodes(first_run):
    data_dir, out = first_run
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
        assert len(mailbox.Maildir(data_dir / node / "maildir", create=False)) > 0
        assert (data_dir / node / "logs" / "profiles.log").stat().st_size > 0


def _child(parent: int, module: str, node: str) -> int:
    """The pid of `parent`'s child process running `python -m <module>` for `node`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and module.encode() in command and f"CORRIDOR_NODE_ID={node}".encode() in environment:
            return int(entry.name)
    raise AssertionError(f"no {module} of node {node} under pid {parent}")


def test_the_same_seed_gives_the_same_corridor_and_report_even_when_a_service_dies(first_run, tmp_path):
    """Run again with the seed given (the default, 1), and kill node fr's matching service as the
    story starts: the node runner starts it again, and the corridor and report are the same."""
    _, first = first_run
    process = subprocess.Popen([str(CORRIDOR), "demo", "--data-dir", str(tmp_path / "demo"), "--seed", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "200"}, start_new_session=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("corridor up:"):
                killed = _child(process.pid, "corridor_matching", "fr")
                os.kill(killed, signal.SIGKILL)  # a service process of the demo this test started
                break
        assert lines and lines[-1].startswith("corridor up:"), "".join(lines)
        again = "".join(lines) + process.stdout.read()
        assert process.wait(600) == 0, again[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
    assert f"node fr: matching (pid {killed}) exited with code -9 (killed by SIGKILL)" in again, again[-3000:]
    assert "node fr: matching started again as pid" in again
    assert _seeded(first)[0].startswith("1:") and len(_seeded(first)) == 4
    assert _seeded(again) == _seeded(first)
    assert _report(again) == _report(first)
    assert "completed:" in _report(first) and "hours" in _report(first)
