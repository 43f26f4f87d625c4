"""What `corridor up` and `corridor registry add` check before they create anything: bad input is
refused with the files and folders on disk as they were."""

from __future__ import annotations

from pathlib import Path

import nkeys
from corridor_contracts import PartnerNode, Registry

from .node import NodeConfig, NodeLayout
from .registry_file import ConfigError, load_registry


def read_seed(layout: NodeLayout) -> bytes | None:
    """The node's seed if its file exists; a file that is not a node seed is an error, never replaced."""
    if not layout.seed_file.exists():
        return None
    try:
        seed = layout.seed_file.read_bytes().strip()
    except OSError as error:
        raise ConfigError(f"{layout.seed_file}: cannot read node {layout.node_id}'s seed: {error.strerror}") from None
    try:
        PartnerNode.of_seed(seed, id=layout.node_id, name="-", country="FR")
    except (nkeys.NkeysError, ValueError, TypeError):  # nkeys says little more than 'invalid seed'
        raise ConfigError(f"{layout.seed_file}: not a node seed (an nkey seed, 'SN...'); "
                          "it is left as it is") from None
    return seed


def check_keys(layout: NodeLayout, listed: PartnerNode, registry_file: Path) -> None:
    """The registry's keys for the node are the keys of the seed on disk (which must be there: a new
    seed could never match them)."""
    seed = read_seed(layout)
    if seed is None:
        raise ConfigError(f"{registry_file} lists node {listed.id} with signing key {listed.public_key}, but its seed "
                          f"{layout.seed_file} does not exist: put the node's signing.seed there (`corridor registry "
                          "add` made it), or point data_dir at it")
    own = PartnerNode.of_seed(seed, id=listed.id, name=listed.name, country=listed.country)
    if (own.public_key, own.sealing_key) != (listed.public_key, listed.sealing_key):
        raise ConfigError(f"{registry_file}: node {listed.id}'s keys are not the keys of {layout.seed_file}")


def check_node(config: NodeConfig) -> Registry:
    """Everything `corridor up` reads, checked before it creates a folder, a key or a server: the
    registry, the node's entry in it, its seed, and its hub password."""
    registry = load_registry(config.registry_file)
    try:
        listed = registry.node(config.node_id)
    except KeyError:
        raise ConfigError(f"{config.registry_file} does not list node {config.node_id}: "
                          "run `corridor registry add` first") from None
    if config.data_dir.exists() and not config.data_dir.is_dir():
        raise ConfigError(f"data_dir {config.data_dir} is a file, not a folder")
    check_keys(NodeLayout(config.data_dir, config.node_id), listed, config.registry_file)
    if config.hub_url:
        try:
            password = config.hub_password_file.read_text().strip()
        except OSError as error:
            raise ConfigError(f"{config.hub_password_file}: cannot read the hub password: {error.strerror}") from None
        if not password:
            raise ConfigError(f"{config.hub_password_file}: the hub password file is empty")
    return registry
