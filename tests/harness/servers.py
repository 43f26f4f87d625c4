"""Real nats-servers for tests: one node, or a hub with leaf nodes, each in its JetStream domain."""

from __future__ import annotations

import secrets
from pathlib import Path

from corridor_runtime.nats_server import LeafUser, NatsServer, free_port, leaf_remote

OBSERVER = "observer"  # a hub user that may watch every subject (tests of what crosses the hub)


def node_server(root: Path, node_id: str, hub: NatsServer | None = None) -> NatsServer:
    """A partner node's nats-server (JetStream domain = node id), a leaf of `hub` if given."""
    remotes = [leaf_remote(node_id, hub.leaf_url(node_id))] if hub is not None else []
    return NatsServer(name=node_id, store_dir=root / f"nats-{node_id}", domain=node_id, remotes=remotes)


def hub_server(root: Path, nodes: list[str]) -> NatsServer:
    """The corridor hub: a plain nats-server that stores nothing and accepts the leaf nodes `nodes`,
    each with its own password and the permissions of runtime's `leaf_permissions`."""
    return NatsServer(name="hub", store_dir=root / "nats-hub", jetstream=False, leafnode_port=free_port(),
                      leaf_users=[LeafUser(n, n, secrets.token_urlsafe(16), list(nodes)) for n in nodes],
                      observers={OBSERVER: secrets.token_urlsafe(16)})


def observer_url(hub: NatsServer) -> str:
    return f"nats://{OBSERVER}:{hub.observers[OBSERVER]}@{hub.host}:{hub.port}"
