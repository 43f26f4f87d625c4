"""The corridor registry as a YAML file (e.g. deploy/corridor.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from corridor_contracts import Registry

from .validation import describe


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where and why."""


def load_registry(path: Path) -> Registry:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the registry: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        return Registry.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid registry: {describe(error, limit=50)}") from None


def save_registry(registry: Registry, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(registry.model_dump(mode="json", exclude_none=True), sort_keys=False))
