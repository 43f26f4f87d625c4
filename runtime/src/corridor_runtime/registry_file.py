"""The corridor registry as a YAML file (e.g. deploy/corridor.yaml), and how configuration files are read."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from corridor_contracts import Registry
from pydantic import BaseModel, ValidationError

from .validation import describe

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where and why."""


def read_config_text(path: Path, *, what: str) -> str:
    """A configuration file's text: UTF-8, with or without the byte-order mark some Windows editors
    write (TOML parsers refuse it, and nothing in it is meant)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: the {what} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def load_validated(path: Path, model: type[M], *, what: str, syntax: str, parse: Callable[[str], Any],
                   syntax_errors: tuple[type[Exception], ...], limit: int = 10,
                   describe_error: Callable[[ValidationError, Any], str] | None = None) -> M:
    """A configuration file read, parsed and validated, or a ConfigError naming the file and why."""
    text = read_config_text(path, what=what)
    try:
        data = parse(text)
    except syntax_errors as error:
        raise ConfigError(f"{path}: not valid {syntax}: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        told = describe_error(error, data) if describe_error else describe(error, limit=limit)
        raise ConfigError(f"{path}: invalid {what}: {told}") from None


def _describe_registry(error: ValidationError, data: Any) -> str:
    """Each error with its place, and the node by its id where the file gives one
    (`nodes.1.public_key (node es): ...`): operators know their partners by id, not by position."""
    nodes = data.get("nodes") if isinstance(data, dict) else None
    said = []
    for e in error.errors()[:50]:
        place = ".".join(map(str, e["loc"])) or "(top)"
        if len(e["loc"]) >= 2 and e["loc"][0] == "nodes" and isinstance(nodes, list) and e["loc"][1] in range(len(nodes)):
            entry = nodes[e["loc"][1]]
            node_id = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(node_id, str) and node_id:
                place += f" (node {node_id})"
        said.append(f"{place}: {e['msg']}")
    return "; ".join(said)


def load_registry(path: Path) -> Registry:
    return load_validated(path, Registry, what="registry", syntax="YAML", parse=yaml.safe_load,
                          syntax_errors=(yaml.YAMLError,), describe_error=_describe_registry)


def registry_yaml(registry: Registry) -> str:
    """The registry as YAML with only what differs from the defaults (no empty `reads`, no null
    `leafnode_user`), so a release that predates a field still reads a file written by this one."""
    data = {"corridor": registry.corridor,
            "nodes": [n.model_dump(mode="json", exclude_defaults=True) for n in registry.nodes]}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def save_registry(registry: Registry, path: Path) -> None:
    """Write the registry whole or not at all: a crash or a full disk leaves the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(registry_yaml(registry))
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
