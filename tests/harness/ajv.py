"""Ajv, the JavaScript JSON Schema validator, in strict mode: an independent second opinion on the
committed schemas and on what they accept (tests/harness/ajv/validate.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import npm

PACKAGE_DIR = Path(__file__).with_name("ajv")


def validate(schemas: dict[str, Any], instances: list[tuple[str, Any]]) -> dict[str, Any]:
    """{"refused": {schema name: why Ajv would not compile it}, "results": [{"schema", "valid", "errors"}]}."""
    npm.ensure_installed(PACKAGE_DIR, what="the Ajv schema check")
    request = {"schemas": schemas, "instances": [{"schema": s, "instance": i} for s, i in instances]}
    done = subprocess.run([shutil.which("node") or "node", str(PACKAGE_DIR / "validate.mjs")],
                          input=json.dumps(request), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ajv check failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout)
