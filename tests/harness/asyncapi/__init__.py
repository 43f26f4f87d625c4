"""The official AsyncAPI parser (npm @asyncapi/parser), run on a document by the tests.

    from harness.asyncapi import parse
    result = parse(Path("docs/asyncapi.yaml"))   # {"parsed": bool, "diagnostics": [{severity, code, message, path}]}

Severity as the parser gives it: 0 error, 1 warning, 2 information, 3 hint. Its node_modules are
installed on first use (`npm ci` from the committed package-lock.json, install scripts off), as for
the OIDC test provider: a stamp in node_modules records the lock's hash, and a file lock keeps
parallel test processes from installing at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).parent
SCRIPT = PACKAGE_DIR / "validate.mjs"
_STAMP = ".corridor-installed"
ERROR, WARNING = 0, 1


class AsyncApiParserError(RuntimeError):
    """The parser could not be installed or run."""


def _lock_digest() -> str:
    return hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()


def _installed() -> bool:
    try:
        return (PACKAGE_DIR / "node_modules" / _STAMP).read_text().strip() == _lock_digest()
    except FileNotFoundError:
        return False


def _tools() -> tuple[str, str]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise AsyncApiParserError(
            "the AsyncAPI check needs Node.js (>= 20) and npm on PATH "
            f"(node: {node or 'missing'}, npm: {npm or 'missing'}); install them, e.g. `apt-get install nodejs npm`")
    return npm, node


def ensure_installed(timeout: float = 300.0) -> Path:
    if _installed():
        return PACKAGE_DIR
    npm, _ = _tools()
    lock_path = Path(tempfile.gettempdir()) / f"corridor-asyncapi-npm-{hashlib.sha256(bytes(PACKAGE_DIR)).hexdigest()[:16]}.lock"
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if _installed():
                return PACKAGE_DIR
            digest = _lock_digest()
            try:
                done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=PACKAGE_DIR,
                                      check=False, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as e:
                raise AsyncApiParserError(f"`npm ci` in {PACKAGE_DIR} took more than {timeout:.0f} s") from e
            if done.returncode != 0:
                raise AsyncApiParserError(f"`npm ci` in {PACKAGE_DIR} failed ({done.returncode}):\n"
                                          f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
            (PACKAGE_DIR / "node_modules" / _STAMP).write_text(digest + "\n")
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    return PACKAGE_DIR


def parse(document: Path, timeout: float = 120.0) -> dict[str, Any]:
    ensure_installed()
    _, node = _tools()
    done = subprocess.run([node, str(SCRIPT), str(document)], cwd=PACKAGE_DIR, check=False, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AsyncApiParserError(f"the AsyncAPI parser failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)
