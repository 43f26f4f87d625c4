"""Run one node on the embedded default: its nats-server, its streams, its four services.

Everything lives under `<data_dir>/<node_id>/`: the nats-server's config, store and log, the
node's signing seed and registry, one SQLite file per service, and the services' logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nats
from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_contracts.types import NodeId
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from .access import AccessStore, Role
from .database import Database
from .nats_server import NatsServer, free_port, leaf_remote
from .registry_file import ConfigError, load_registry, load_validated, save_registry
from .service import status_subject
from .settings import access_database_url
from .signals import stop_requested
from .streams import provision
from .supervisor import RestartPolicy, Supervisor
from .terminal import operator_console

SERVICES = ("profiles", "matching", "notifications", "reporting")


@dataclass
class NodeLayout:
    data_dir: Path
    node_id: str

    @property
    def root(self) -> Path:
        return self.data_dir / self.node_id

    @property
    def seed_file(self) -> Path:
        return self.root / "signing.seed"

    @property
    def pseudonym_file(self) -> Path:
        return self.root / "pseudonym.secret"

    @property
    def registry_file(self) -> Path:
        return self.root / "corridor.yaml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def database_url(self, service: str) -> str:
        return f"sqlite+aiosqlite:///{(self.root / f'{service}.sqlite').resolve()}"


def ensure_keys(layout: NodeLayout) -> bytes:
    """The node's seed (its signing and sealing keys) and pseudonym secret, created once, owner-only;
    returns the seed."""
    layout.root.mkdir(parents=True, exist_ok=True)
    if not layout.seed_file.exists():
        fd = os.open(layout.seed_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(new_node_seed())
    if not layout.pseudonym_file.exists():
        fd = os.open(layout.pseudonym_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return layout.seed_file.read_bytes().strip()


def ensure_identity(layout: NodeLayout, *, name: str, country: str) -> Registry:
    """The node's keys and a registry that lists the node."""
    entry = PartnerNode.of_seed(ensure_keys(layout), id=layout.node_id, name=name, country=country)
    if layout.registry_file.exists():
        registry = load_registry(layout.registry_file)
        listed = registry.node(layout.node_id)
        if (listed.public_key, listed.sealing_key) != (entry.public_key, entry.sealing_key):
            raise ValueError(f"{layout.registry_file}: node {layout.node_id}'s keys are not the keys of {layout.seed_file}")
        return registry
    registry = Registry(nodes=[entry])
    save_registry(registry, layout.registry_file)
    return registry


@dataclass
class RunningNode:
    layout: NodeLayout
    server: NatsServer
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    registry_file: Path | None = None  # default: the node's own (a demo corridor shares one)
    extra_env: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None  # one database for the node (each service owns its tables); default SQLite files
    http_ports: dict[str, int] = field(default_factory=dict)  # default: free ports
    supervisor: Supervisor | None = None

    def supervise(self, say, policy: RestartPolicy | None = None) -> Supervisor:
        """Start each service again when it exits unexpectedly (supervisor.py); `say` gets one line per event."""
        self.supervisor = Supervisor(self, say=say, policy=policy)
        self.supervisor.start()
        return self.supervisor

    def start_services(self, services: tuple[str, ...] = SERVICES) -> None:
        """Start each service that is not running (one still running is left as it is: two
        processes of one service would hold the same port, and one would be lost track of)."""
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        for service in services:
            running = self.processes.get(service)
            if running is not None and running.poll() is None:
                continue
            env = {
                **os.environ,
                "CORRIDOR_NODE_ID": self.layout.node_id,
                "CORRIDOR_SERVICE": service,
                "CORRIDOR_NATS_URL": self.server.url,
                "CORRIDOR_DATABASE_URL": self.database_url or self.layout.database_url(service),
                "CORRIDOR_DATA_DIR": str(self.layout.data_dir),
                "CORRIDOR_REGISTRY_FILE": str(self.registry_file or self.layout.registry_file),
                "CORRIDOR_SIGNING_SEED_FILE": str(self.layout.seed_file),
                "CORRIDOR_PSEUDONYM_SECRET_FILE": str(self.layout.pseudonym_file),
                # for services with an HTTP API; kept across restarts, so its address stays the same
                "CORRIDOR_HTTP_PORT": str(self.http_ports.setdefault(service, free_port())),
                **self.extra_env,
            }
            with (self.layout.logs / f"{service}.log").open("ab") as log:
                self.processes[service] = subprocess.Popen(
                    [sys.executable, "-m", f"corridor_{service}"], env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )

    async def health(self, timeout: float = 60.0) -> dict[str, dict]:
        """Ask every service for its status until all answer or `timeout` passes."""
        nc = await nats.connect(self.server.url, name=f"{self.layout.node_id}-node")
        answers: dict[str, dict] = {}
        try:
            deadline = time.monotonic() + timeout
            while len(answers) < len(self.processes) and time.monotonic() < deadline:
                for service, process in list(self.processes.items()):
                    if service in answers:
                        continue
                    failing = self.supervisor.failing(service) if self.supervisor else None
                    if failing:
                        answers[service] = {"error": f"failing: {failing}"}
                        continue
                    if process.poll() is not None:
                        if self.supervisor is not None and self.supervisor.restarting(service):
                            continue  # it will be started again: ask once it is
                        answers[service] = {"error": f"exited with {process.returncode}; see {self.layout.logs / (service + '.log')}"}
                        continue
                    try:
                        reply = await nc.request(status_subject(self.layout.node_id, service), b"", timeout=1.0)
                        answers[service] = json.loads(reply.data)
                    except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                        pass
                await asyncio.sleep(0.2)
            for service in self.processes:
                answers.setdefault(service, {"error": f"no answer within {timeout:.0f}s"})
            return {service: answers[service] for service in self.processes}
        finally:
            await nc.close()

    def access_store(self) -> AccessStore:
        """The node's accounts, tokens and audit trail, as its services find them."""
        url = os.environ.get("CORRIDOR_ACCESS_DATABASE_URL") or access_database_url(
            self.layout.data_dir, self.layout.node_id, self.database_url)
        return AccessStore(Database(url))

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()  # exits from now on are expected
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.server.stop()


def health_table(node: RunningNode, answers: dict[str, dict]) -> Table:
    table = Table(title=f"node {node.layout.node_id} — nats-server {node.server.url} (JetStream domain {node.layout.node_id})")
    for column in ("service", "state", "pid", "outbox backlog", "consumers", "database", "http"):
        table.add_column(column)
    for service, answer in answers.items():
        ok = "error" not in answer
        table.add_row(
            service,
            "[green]up[/green]" if ok else f"[red]down[/red]: {answer['error']}",
            str(node.processes[service].pid) if service in node.processes else "-",
            str(answer.get("outbox_backlog", "-")),
            str(len(answer.get("consumers", []))) if ok else "-",
            "shared" if node.database_url else f"{service}.sqlite",
            answer.get("http") or "-",
        )
    return table


class NodeConfig(BaseModel):
    """One real partner node, as `corridor up --config node.toml` runs it (deploy/nodes/*.toml).
    Relative paths are relative to the config file."""

    model_config = ConfigDict(extra="forbid")

    node_id: NodeId
    data_dir: Path = Field(description="the node's files: seed, pseudonym secret, nats store, logs, SQLite files")
    registry_file: Path = Field(description="the corridor registry; it must list this node with its keys")
    hub_url: str | None = Field(default=None, pattern=r"^nats-leaf://[^@/]+$", description="the hub's leafnode port, e.g. nats-leaf://hub.example.org:7422 (no credentials here)")
    hub_password_file: Path | None = Field(default=None, description="this node's password on the hub (user: its leafnode_user)")
    nats_host: str = "127.0.0.1"
    nats_port: int = Field(default=4222, ge=1, le=65535)
    database_url: str | None = Field(default=None, description="one database for the node's services, e.g. PostgreSQL; default: SQLite files")
    http_ports: dict[str, int] = Field(default_factory=dict, description="service → port of its HTTP API")

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        config = load_validated(path, cls, what="node config", syntax="TOML", parse=tomllib.loads,
                                syntax_errors=(tomllib.TOMLDecodeError,))
        unknown = sorted(set(config.http_ports) - set(SERVICES))
        if unknown:
            raise ConfigError(f"{path}: http_ports names unknown services: {', '.join(unknown)} (known: {', '.join(SERVICES)})")
        if config.hub_url and config.hub_password_file is None:
            raise ConfigError(f"{path}: hub_url needs hub_password_file (the node's password on the hub)")
        base = path.parent
        return config.model_copy(update={
            "data_dir": (base / config.data_dir).resolve(),
            "registry_file": (base / config.registry_file).resolve(),
            "hub_password_file": (base / config.hub_password_file).resolve() if config.hub_password_file else None,
        })


async def up(config: NodeConfig, *, keep_running: bool, console: Console | None = None) -> int:
    """Run one partner node from its config: its nats-server (a leaf of the hub), streams sourced
    from every peer in the registry, its four services."""
    console = console or operator_console()
    layout = NodeLayout(config.data_dir, config.node_id)
    registry = load_registry(config.registry_file)
    try:
        listed = registry.node(config.node_id)
    except KeyError:
        raise ConfigError(f"{config.registry_file} does not list node {config.node_id}: run `corridor registry add` first") from None
    own = PartnerNode.of_seed(ensure_keys(layout), id=listed.id, name=listed.name, country=listed.country)
    if (own.public_key, own.sealing_key) != (listed.public_key, listed.sealing_key):
        raise ConfigError(f"{config.registry_file}: node {config.node_id}'s keys are not the keys of {layout.seed_file}")
    remotes = []
    if config.hub_url:
        try:
            password = config.hub_password_file.read_text().strip()
        except OSError as error:
            raise ConfigError(f"{config.hub_password_file}: cannot read the hub password: {error.strerror}") from None
        host = config.hub_url.removeprefix("nats-leaf://")
        remotes = [leaf_remote(config.node_id, f"nats-leaf://{listed.leafnode_user or config.node_id}:{password}@{host}")]
    server = NatsServer(name=config.node_id, store_dir=layout.root / "nats", domain=config.node_id,
                        host=config.nats_host, port=config.nats_port, remotes=remotes)
    node = RunningNode(layout, server, registry_file=config.registry_file, database_url=config.database_url,
                       http_ports=config.http_ports)
    return await _serve(node, registry, console=console, keep_running=keep_running)


async def run(*, data_dir: Path, node_id: str, name: str, country: str, keep_running: bool,
              nats_port: int | None = None, console: Console | None = None) -> int:
    console = console or operator_console()
    layout = NodeLayout(data_dir.resolve(), node_id)
    registry = ensure_identity(layout, name=name, country=country)
    server = NatsServer(name=node_id, store_dir=layout.root / "nats", domain=node_id, port=nats_port or free_port())
    return await _serve(RunningNode(layout, server), registry, console=console, keep_running=keep_running)


async def _serve(node: RunningNode, registry: Registry, *, console: Console, keep_running: bool) -> int:
    layout, server, node_id = node.layout, node.server, node.layout.node_id
    console.print(f"starting nats-server for node [bold]{node_id}[/bold] (JetStream domain {node_id}) on {server.url}"
                  + (" as a leaf of the hub" if server.remotes else ""))
    stop = stop_requested()  # from now on SIGTERM / Ctrl-C stop the node cleanly, even while it starts
    server.start()
    try:
        nc = await nats.connect(server.url)
        try:
            await provision(nc.jetstream(), node_id, [p.id for p in registry.peers_of(node_id)])
            streams = {s: (await nc.jetstream().stream_info(s)).state.messages for s in ("LOCAL", "OUT", "IN", "DEADLETTER")}
        finally:
            await nc.close()
        console.print("streams: " + ", ".join(f"{name} ({count} events)" for name, count in streams.items()))
        node.start_services()
        node.supervise(lambda line: console.print(line, soft_wrap=True))
        answers = await node.health()
        console.print(health_table(node, answers))
        healthy = all("error" not in a for a in answers.values())
        if healthy:
            await first_sign_in(node, answers, console)
        console.print(f"data: {layout.root}/  (logs/, nats/, keys" + ("" if node.database_url else ", *.sqlite") + ")")
        if healthy and keep_running:
            console.print("the node is running; Ctrl-C stops it")
            await stop.wait()
        return 0 if healthy else 1
    finally:
        node.stop()
        console.print("node stopped")


FIRST_ACCOUNT = "operator"


async def first_sign_in(node: RunningNode, answers: dict[str, dict], console: Console) -> None:
    """What the first person needs to sign in: with the partner's OpenID provider, where to go; without
    one, an operator account on the node's own accounts, made once, its password shown only now."""
    entrance = next((a["http"] for s, a in answers.items() if s == "profiles" and a.get("http")), None)
    if entrance is None:
        return
    if os.environ.get("CORRIDOR_OIDC_ISSUER"):
        console.print(f"sign in: {entrance}/login (through {os.environ['CORRIDOR_OIDC_ISSUER']}; roles come from its "
                      f"{os.environ.get('CORRIDOR_OIDC_ROLES_CLAIM', 'roles')!r} claim)")
        return
    store = node.access_store()
    try:
        await store.create()
        if await store.has_accounts():
            console.print(f"sign in: {entrance}/login  (accounts: `corridor users list --data-dir {node.layout.data_dir} "
                          f"--node {node.layout.node_id}`)")
            return
        password = secrets.token_urlsafe(15)
        await store.add_account(FIRST_ACCOUNT, [Role.OPERATOR.value], password)
    finally:
        await store.dispose()
    console.print(f"sign in: {entrance}/login as [bold]{FIRST_ACCOUNT}[/bold], password [bold]{password}[/bold] "
                  "(shown this once; `corridor users password` changes it, `corridor users add` makes more accounts, "
                  "`corridor tokens issue` makes tokens for automation and Prometheus)")
