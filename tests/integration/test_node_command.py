"""The README's run command: a node on the embedded default starts, reports its health, stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.nats
CORRIDOR = Path(sys.executable).parent / "corridor"
SERVICES = ("profiles", "matching", "notifications", "reporting")


def test_corridor_node_starts_every_service_and_reports_them_healthy(tmp_path):
    done = subprocess.run([str(CORRIDOR), "node", "--node-id", "cy", "--country", "CY", "--data-dir", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=180,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    for service in SERVICES:
        assert any(line.split("│")[1:3] == [f" {service} ".ljust(15), " up    "] for line in done.stdout.splitlines()
                   if line.startswith("│")), done.stdout
    assert "node stopped" in done.stdout

    node_dir = tmp_path / "cy"
    assert (node_dir / "signing.seed").stat().st_mode & 0o777 == 0o600
    for service in SERVICES:
        assert (node_dir / f"{service}.sqlite").exists()
        lines = [json.loads(line) for line in (node_dir / "logs" / f"{service}.log").read_text().splitlines()]
        assert "service started" in [line["event"] for line in lines]
        assert all(line["node"] == "cy" and line["service"] == service and "event_id" in line and "correlation_id" in line
                   for line in lines)
    assert not list(node_dir.glob("nats/*.pid"))


def test_a_second_run_keeps_the_node_identity(tmp_path):
    command = [str(CORRIDOR), "node", "--node-id", "cy", "--data-dir", str(tmp_path)]
    subprocess.run(command, capture_output=True, timeout=180, check=True)
    seed = (tmp_path / "cy" / "signing.seed").read_bytes()
    registry = (tmp_path / "cy" / "corridor.yaml").read_text()
    subprocess.run(command, capture_output=True, timeout=180, check=True)
    assert (tmp_path / "cy" / "signing.seed").read_bytes() == seed
    assert (tmp_path / "cy" / "corridor.yaml").read_text() == registry


def test_a_broken_registry_is_a_clear_error(tmp_path):
    (tmp_path / "cy").mkdir()
    (tmp_path / "cy" / "corridor.yaml").write_text("nodes: [{id: cy, country: Cyprus}]\n")
    done = subprocess.run([str(CORRIDOR), "node", "--node-id", "cy", "--data-dir", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=60, env={"COLUMNS": "200"})
    assert done.returncode == 2
    assert "invalid registry" in done.stdout and "nodes.0.country" in done.stdout, done.stdout


def test_the_first_run_prints_how_to_sign_in_and_that_account_works(tmp_path):
    """A new node answers nobody but the operator account it made, whose password it printed once."""
    process = subprocess.Popen([str(CORRIDOR), "node", "--node-id", "cy", "--country", "CY", "--data-dir", str(tmp_path),
                                "--keep-running"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 180
        printed = ""
        while "sign in:" not in printed and time.monotonic() < deadline and process.poll() is None:
            printed += process.stdout.readline()
        found = re.search(r"sign in: (http://127\.0\.0\.1:\d+)/login as (\w+), password (\S+)", printed)
        assert found, printed
        url, username, password = found.groups()
        with httpx.Client(base_url=url, timeout=10) as browser:
            assert browser.get("/volunteers").status_code == 401
            assert browser.post("/login", data={"username": username, "password": password}).status_code == 303
            assert browser.get("/volunteers").status_code == 200
            assert browser.get("/audit").status_code == 403  # an operator, not an auditor
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
    # The second run makes no new account and shows no password.
    again = subprocess.run([str(CORRIDOR), "node", "--node-id", "cy", "--data-dir", str(tmp_path)],
                           check=False, capture_output=True, text=True, timeout=180,
                           env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})
    assert "sign in:" in again.stdout and password not in again.stdout and "password" not in again.stdout.split("sign in:")[1].splitlines()[0]


class _Output:
    """A process's output lines, read in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 180) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} within {timeout:.0f}s:\n" + "".join(self.lines))


def test_a_service_that_dies_is_started_again_and_answers(tmp_path):
    """The node runner supervises its services: kill one, and it comes back at the same address."""
    process = subprocess.Popen([str(CORRIDOR), "node", "--node-id", "cy", "--country", "CY", "--data-dir", str(tmp_path),
                                "--keep-running"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"}, start_new_session=True)
    try:
        output = _Output(process.stdout)
        output.wait_for(r"the node is running")
        row = output.wait_for(r"│ matching\s+│ up\s+│ (\d+)\s+│.*│ (http://127\.0\.0\.1:\d+)")
        pid, url = int(row.group(1)), row.group(2)
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        seen = len(output.lines)

        os.kill(pid, signal.SIGKILL)  # the matching process the node started for this test

        exited = output.wait_for(rf"matching \(pid {pid}\) exited with code -9 \(killed by SIGKILL\); starting it again in",
                                 after=seen)
        assert exited
        again = int(output.wait_for(r"matching started again as pid (\d+) \(restart 1\)", after=seen).group(1))
        assert again != pid
        deadline = time.monotonic() + 120  # a generous bound on its start, not a measure of it
        answer = None
        while answer is None and time.monotonic() < deadline:
            try:
                reply = httpx.get(f"{url}/health", timeout=5)
                answer = reply.json() if reply.status_code == 200 else None
            except httpx.HTTPError:
                time.sleep(0.5)
        assert answer is not None and answer["service"] == "matching" and answer["node"] == "cy", output.lines[seen:]
        logged = [json.loads(line) for line in (tmp_path / "cy" / "logs" / "node.log").read_text().splitlines()]
        assert [(e["event"], e["service"], e.get("exit_code")) for e in logged][:2] == [
            ("service exited", "matching", -9), ("service restarted", "matching", None)]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        process.stdout.close()
    assert process.returncode == 0
