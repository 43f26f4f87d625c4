"""The official AsyncAPI parser (npm @asyncapi/parser), run on a document by the tests.

    from harness.asyncapi import parse
    result = parse(Path("docs/asyncapi.yaml"))   # {"parsed": bool, "diagnostics": [{severity, code, message, path}]}

Severity as the parser gives it: 0 error, 1 warning, 2 information, 3 hint. Its node_modules are
installed on first use (`npm ci` from the committed package-lock.json, install scripts off), as for
the OIDC test provider: a stamp in node_modules records the lock's hash, and a file lock keeps
parallel test processes from installing at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .. import npm

PACKAGE_DIR = Path(__file__).parent
SCRIPT = PACKAGE_DIR / "validate.mjs"
ERROR, WARNING = 0, 1


class AsyncApiParserError(RuntimeError):
    """The parser could not be installed or run."""


def ensure_installed(timeout: float = 300.0) -> Path:
    try:
        return npm.ensure_installed(PACKAGE_DIR, what="the AsyncAPI check", timeout=timeout, scripts=False)
    except npm.NpmError as error:
        raise AsyncApiParserError(str(error)) from None


def parse(document: Path, timeout: float = 120.0) -> dict[str, Any]:
    ensure_installed()
    node = shutil.which("node") or "node"
    done = subprocess.run([node, str(SCRIPT), str(document)], cwd=PACKAGE_DIR, check=False, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AsyncApiParserError(f"the AsyncAPI parser failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)
