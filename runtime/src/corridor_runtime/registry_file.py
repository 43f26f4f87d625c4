"""The corridor registry as a YAML file (e.g. deploy/corridor.yaml), and how configuration files are read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from corridor_contracts import Registry

from .validation import describe

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where and why."""


def load_validated(path: Path, model: type[M], *, what: str, syntax: str, parse: Callable[[str], Any],
                   syntax_errors: tuple[type[Exception], ...], limit: int = 10) -> M:
    """A configuration file read, parsed and validated, or a ConfigError naming the file and why."""
    try:
        data = parse(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the {what}: {error.strerror}") from None
    except syntax_errors as error:
        raise ConfigError(f"{path}: not valid {syntax}: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid {what}: {describe(error, limit=limit)}") from None


def load_registry(path: Path) -> Registry:
    return load_validated(path, Registry, what="registry", syntax="YAML", parse=yaml.safe_load,
                          syntax_errors=(yaml.YAMLError,), limit=50)


def save_registry(registry: Registry, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(registry.model_dump(mode="json", exclude_none=True), sort_keys=False))
