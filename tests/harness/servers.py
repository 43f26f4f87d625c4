"""Real nats-servers for tests: one node, or a hub with leaf nodes, each in its JetStream domain."""

from __future__ import annotations

from pathlib import Path

from corridor_runtime.nats_server import NatsServer, free_port, leaf_remote


def node_server(root: Path, node_id: str, hub: NatsServer | None = None) -> NatsServer:
    """A partner node's nats-server (JetStream domain = node id), a leaf of `hub` if given."""
    remotes = [leaf_remote(node_id, f"nats-leaf://127.0.0.1:{hub.leafnode_port}")] if hub is not None else []
    return NatsServer(name=node_id, store_dir=root / f"nats-{node_id}", domain=node_id, remotes=remotes)


def hub_server(root: Path) -> NatsServer:
    """The corridor hub: a plain nats-server that stores nothing and accepts leaf nodes."""
    return NatsServer(name="hub", store_dir=root / "nats-hub", jetstream=False, leafnode_port=free_port())
