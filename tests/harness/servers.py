"""Real nats-servers for tests: one node, or a hub with leaf nodes, each in its JetStream domain."""

from __future__ import annotations

from pathlib import Path

from corridor_runtime.nats_server import LeafRemote, NatsServer, free_port


def node_server(root: Path, node_id: str, hub: NatsServer | None = None) -> NatsServer:
    """A partner node's nats-server (JetStream domain = node id), a leaf of `hub` if given."""
    remotes = []
    if hub is not None:
        # Node-internal subjects never cross the leafnode link.
        remotes.append(LeafRemote(url=f"nats-leaf://127.0.0.1:{hub.leafnode_port}",
                                  deny_exports=[f"node.{node_id}.>", f"deadletter.{node_id}.>", f"status.{node_id}.>"]))
    return NatsServer(name=node_id, store_dir=root / f"nats-{node_id}", domain=node_id, remotes=remotes)


def hub_server(root: Path) -> NatsServer:
    """The corridor hub: a plain nats-server that stores nothing and accepts leaf nodes."""
    return NatsServer(name="hub", store_dir=root / "nats-hub", jetstream=False, leafnode_port=free_port())
