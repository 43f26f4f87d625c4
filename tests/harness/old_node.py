"""A partner node that still runs an older release, started the way its operator starts it: that
release's `corridor up --config node.toml` (its nats-server as a leaf of the hub, its streams, its
four services as `python -m corridor_<service>` subprocesses), with that release's packages first on
the path (harness.releases). Tests reach it only as a partner would: its HTTP APIs, its nats-server
and its files.

The node runs in a process group of its own, so that everything it started stops with it, even when
the test fails or `corridor up` dies before it can stop its children.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from corridor_runtime.nats_server import NatsServer, free_port

from harness import releases
from harness.streams import stream_messages

SERVICES = ("profiles", "matching", "notifications", "reporting")
CLI = "from corridor_runtime.cli import app; app()"


@dataclass
class OldNode:
    """Node `node_id` on release `version` (its source extracted under `tree`), keeping its files in
    `data_dir/<node_id>/` and reading the corridor registry `registry_file`."""

    version: str
    tree: Path
    node_id: str
    data_dir: Path
    registry_file: Path
    hub: NatsServer
    env: dict[str, str] = field(default_factory=dict)  # extra CORRIDOR_* settings for its services
    nats_port: int = field(default_factory=free_port)
    http_ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.data_dir / self.node_id

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http_ports[service]}"

    def client(self, service: str) -> httpx.AsyncClient:
        """Its service's HTTP API (this release's APIs have no sign-in)."""
        return httpx.AsyncClient(base_url=self.url(service), timeout=30)

    @property
    def up_log(self) -> Path:
        return self.data_dir / f"{self.node_id}-corridor-up.log"

    def _environment(self) -> dict[str, str]:
        # None of the test run's own CORRIDOR_* settings: the node sees what its operator gives it.
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_") and k != "PYTHONPATH"}
        return {**clean, "PYTHONPATH": releases.python_path(self.tree), **self.env}

    def start(self) -> OldNode:
        """Write the node's config as its operator would (deploy/nodes/*.toml of that release) and run
        `corridor up` with it; returns at once (see `wait_until_up`)."""
        password = next(u.password for u in self.hub.leaf_users if u.node_id == self.node_id)
        secret = self.data_dir / f"{self.node_id}-hub.password"
        secret.write_text(password)
        secret.chmod(0o600)
        config = self.data_dir / f"{self.node_id}-node.toml"
        config.write_text("\n".join([
            f"node_id = {json.dumps(self.node_id)}",
            f"data_dir = {json.dumps(str(self.data_dir))}",
            f"registry_file = {json.dumps(str(self.registry_file))}",
            f"hub_url = {json.dumps(f'nats-leaf://{self.hub.host}:{self.hub.leafnode_port}')}",
            f"hub_password_file = {json.dumps(str(secret))}",
            f"nats_port = {self.nats_port}",
            "[http_ports]",
            *(f"{service} = {port}" for service, port in self.http_ports.items()),
            "",
        ]))
        with self.up_log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CLI, "up", "--config", str(config)], cwd=self.tree, env=self._environment(),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    async def wait_until_up(self, timeout: float = 120.0) -> None:
        """Until every service answers on /health; fails with the node's log if it stops first."""
        deadline = time.monotonic() + timeout
        waiting = set(SERVICES)
        while waiting:
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"{self.version} node {self.node_id} stopped at start:\n{self.logs()}")
            for service in sorted(waiting):
                try:
                    async with self.client(service) as client:
                        if (await client.get("/health", timeout=2)).status_code == 200:
                            waiting.discard(service)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.version} node {self.node_id}: {sorted(waiting)} not up after "
                                     f"{timeout}s:\n{self.logs()}")
            await asyncio.sleep(0.3)

    def stop(self) -> None:
        """`corridor up` stops its services and nats-server on SIGTERM; whatever of its process group is
        left after that (it died, or hung) is killed."""
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the group's id is the leader's pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                pass
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            self.process.poll()  # reaped: a finished leader no longer counts as a member of its group
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            until = time.monotonic() + grace
            while time.monotonic() < until and (self.process.poll() is None or _group_alive(group)):
                time.sleep(0.1)
        self.process.wait()
        self.process = None

    def cli(self, *args: str) -> str:
        """The release's operator command line (`corridor ...`)."""
        return releases.run_with(self.tree, CLI, *args)

    def python(self, code: str, *args: str) -> str:
        """A snippet run on the release's packages (what that release's code makes of a file, say)."""
        return releases.run_with(self.tree, code, *args)

    def logs(self, lines: int = 40) -> str:
        """The tail of `corridor up`'s output and of each service's log."""
        parts = []
        for path in [self.up_log, *(self.root / "logs" / f"{s}.log" for s in SERVICES)]:
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def log_lines(self, service: str) -> list[dict]:
        path = self.root / "logs" / f"{service}.log"
        if not path.exists():
            return []
        found = []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    async def stream(self, name: str) -> list:
        nc = await nats.connect(self.nats_url)
        try:
            return await stream_messages(nc.jetstream(), name)
        finally:
            await nc.close()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
