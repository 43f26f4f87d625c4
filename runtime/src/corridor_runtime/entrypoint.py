"""The process entry point every service shares: settings, logs, run until SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from pydantic import ValidationError

from .logs import configure_logging
from .registry_file import ConfigError
from .service import ServiceHost
from .settings import NodeSettings


def run_service(name: str, build: Callable[[NodeSettings], ServiceHost]) -> None:
    try:
        settings = NodeSettings(service=name)
        configure_logging(node=settings.node_id, service=name, level=settings.log_level, json=settings.log_json)
        host = build(settings)
    except (ValidationError, ConfigError, FileNotFoundError) as error:
        print(f"corridor-{name}: invalid configuration: {error}", file=sys.stderr)
        sys.exit(2)
    asyncio.run(host.run_until_stopped())
