"""Who is in the corridor: the registry of partner nodes."""

from __future__ import annotations

from typing import Annotated

import nkeys
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .encoding import nkey_decode
from .sealing import PREFIX_BYTE_CURVE
from .types import CountryCode, NodeId


def _decodable(prefix: int, kind: str):
    """A key of the right form is also checked as signing and sealing will read it (its prefix and
    checksum), so a key mistyped by hand is refused when the registry is read, not by every service
    at its next start."""
    def check(key: str) -> str:
        try:
            nkey_decode(key, prefix, kind)
        except ValueError as error:
            hint = ": a character was changed or lost in copying" if "checksum" in str(error) else ""
            raise ValueError(f"{key[:8]}…{key[-4:]} {error}{hint}") from None
        return key
    return AfterValidator(check)


NodePublicKey = Annotated[str, StringConstraints(pattern=r"^N[A-Z2-7]{55}$"),
                          _decodable(nkeys.PREFIX_BYTE_SERVER, "a node (server) nkey")]
NodeSealingKey = Annotated[str, StringConstraints(pattern=r"^X[A-Z2-7]{55}$"),
                           _decodable(PREFIX_BYTE_CURVE, "a curve key ('X...')")]


class PartnerNode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: NodeId
    name: str = Field(min_length=1, max_length=200)
    country: CountryCode
    public_key: NodePublicKey = Field(description="the node's nkey public key (ed25519), 'N...'")
    sealing_key: NodeSealingKey = Field(description="the node's X25519 public key ('X...'): events addressed to it are sealed for it")
    reads: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="event types this node reads only up to an older version (it has not upgraded yet): "
                    "others write those to it in that version",
    )
    leafnode_user: str | None = Field(default=None, description="user name on the hub's leafnode port")


    @classmethod
    def of_seed(cls, seed: bytes, **fields) -> PartnerNode:
        """The entry of the node whose secret is `seed`: its public signing and sealing keys."""
        from .sealing import sealing_key_of
        from .signing import public_key_of

        return cls(public_key=public_key_of(seed), sealing_key=sealing_key_of(seed), **fields)


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    corridor: str = Field(default="smart-volunteering", min_length=1)
    nodes: list[PartnerNode] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        ids = [n.id for n in self.nodes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"node ids appear more than once: {', '.join(duplicates)}")
        users: dict[str, list[str]] = {}
        for n in self.nodes:  # the hub has one account per user name (a node without one uses its id)
            users.setdefault(n.leafnode_user or n.id, []).append(n.id)
        shared = [f"{user!r} (nodes {', '.join(ids)})" for user, ids in users.items() if len(ids) > 1]
        if shared:
            raise ValueError(f"leafnode_user names one hub account per node, but these are shared: {'; '.join(shared)}")
        return self

    def node(self, node_id: str) -> PartnerNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"node {node_id!r} is not in the registry")

    def peers_of(self, node_id: str) -> list[PartnerNode]:
        self.node(node_id)
        return [n for n in self.nodes if n.id != node_id]

    def public_keys(self) -> dict[str, str]:
        return {n.id: n.public_key for n in self.nodes}

    def readable_version(self, event_type: str, latest: int, *, target: str | None, origin: str) -> int:
        """The version of `event_type` to write: what the target reads, or for a broadcast what
        every other node reads; `latest` where none is behind."""
        readers = [self.node(target)] if target is not None else self.peers_of(origin)
        return min([latest, *(n.reads[event_type] for n in readers if event_type in n.reads)])

    def sealing_keys(self) -> dict[str, str]:
        return {n.id: n.sealing_key for n in self.nodes}
