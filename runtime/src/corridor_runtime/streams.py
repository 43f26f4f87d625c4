"""The node's streams, provisioned in one place (services bind to them and never declare them).

- LOCAL      node.<me>.>                       node-internal events; never leave the node
- OUT        corridor.bcast.<me>.>, corridor.direct.*.<me>.>   what this node shares
- IN         sourced: own OUT's broadcasts and events to itself, and from every peer's OUT (across JetStream domains)
             its broadcasts and the events addressed to this node, nothing else
- DEADLETTER deadletter.<me>.>                  poison and given-up messages with their reason
"""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

from . import dead_letters
from .connection import connect_when_ready

DAY = 24 * 3600.0


def node_streams(node_id: str, peers: list[str], *, max_age_days: float = 90) -> list[StreamConfig]:
    common = {
        "retention": RetentionPolicy.LIMITS,  # never work-queue: several services read each stream
        "storage": StorageType.FILE,
        "discard": DiscardPolicy.OLD,
        "max_age": max_age_days * DAY,
        "duplicate_window": 120.0,
    }
    # Its own broadcasts and what it addresses to itself (a node can host its own volunteers).
    sources = [StreamSource(name="OUT", filter_subject=f"corridor.bcast.{node_id}.>"),
               StreamSource(name="OUT", filter_subject=f"corridor.direct.{node_id}.{node_id}.>")]
    for peer in sorted(peers):
        # Deliveries come on this node's own prefix, which the hub forwards to this node only.
        external = ExternalStream(api=f"$JS.{peer}.API", deliver=f"deliver.{node_id}")
        sources.append(StreamSource(name="OUT", filter_subject=f"corridor.bcast.{peer}.>", external=external))
        sources.append(StreamSource(name="OUT", filter_subject=f"corridor.direct.{node_id}.{peer}.>", external=external))
    return [
        StreamConfig(name="LOCAL", subjects=[f"node.{node_id}.>"], **common),
        StreamConfig(name="OUT", subjects=[f"corridor.bcast.{node_id}.>", f"corridor.direct.*.{node_id}.>"], **common),
        StreamConfig(name="IN", sources=sources, **common),
        StreamConfig(name=dead_letters.STREAM, subjects=[f"deadletter.{node_id}.>"], **{**common, "max_age": 365 * DAY}),
    ]


async def provision(js: JetStreamContext, node_id: str, peers: list[str], *, replicas: int | None = None) -> None:
    """Create the node's streams, or bring their configuration up to date (idempotent).

    `replicas` (3 on a node that is a 3-server cluster) applies when given; otherwise a new stream
    gets 1 and an existing one keeps what it has, so a service reprovisioning after a registry
    change never scales a clustered node's streams down."""
    for config in node_streams(node_id, peers):
        try:
            current = await js.stream_info(config.name)
        except NotFoundError:
            config.num_replicas = replicas or 1
            await js.add_stream(config)
        else:
            config.num_replicas = replicas or current.config.num_replicas
            await js.update_stream(config)



async def provision_node(url: str, node_id: str, peers: list[str], *, replicas: int | None = None, wait: float = 0,
                         waiting: Callable[[str], None] | None = None) -> None:
    """Provision the streams of the node whose nats-server is at `url`, waiting up to `wait` seconds
    for that server to come up (a compose file starts both together). Raises
    connection.ServerNotReady when it does not."""
    nc = await connect_when_ready(url, name=f"{node_id}-streams", wait=wait, waiting=waiting)
    try:
        await provision(nc.jetstream(), node_id, peers, replicas=replicas)
    finally:
        await nc.close()
