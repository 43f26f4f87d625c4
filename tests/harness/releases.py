"""Released versions of the corridor, as partners still run them: their source from this repository's
history (the release's tag, or the commit it was tagged on when a clone has no tags), and
`run_with(...)`, which runs a snippet of Python against that release's code alone.

The snippet runs in this environment's interpreter with the release's packages first on the path;
the libraries are this environment's (every release so far needs no other versions of them).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each release and the commit its tag points at (CHANGELOG.md lists them).
RELEASES = {"0.1.0": "1a9168be96cfe39fc483b6b449e1cf2f5bfc6f53"}
PACKAGES = ("contracts", "runtime", "services/profiles", "services/matching", "services/notifications",
            "services/reporting")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=120, check=False)


def release_source(version: str, into: Path) -> Path:
    """The release's files, extracted under `into` (once per folder)."""
    tree = into / f"corridor-{version}"
    if tree.is_dir():
        return tree
    ref = f"v{version}" if _git("rev-parse", "-q", "--verify", f"refs/tags/v{version}").returncode == 0 \
        else RELEASES[version]
    archive = _git("archive", "--format=tar", ref)
    if archive.returncode != 0:
        pytest.fail(f"release {version} ({ref}) is not in this clone's history: {archive.stderr.decode().strip()} "
                    "(a shallow clone? fetch its history, or its tag)")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def python_path(tree: Path) -> str:
    return os.pathsep.join(str(tree / package / "src") for package in PACKAGES)


def run_with(tree: Path, code: str, *args: str, timeout: float = 120) -> str:
    """Run `code` with the release's packages (not this checkout's); its stdout, or the test fails
    with its stderr."""
    env = {**os.environ, "PYTHONPATH": python_path(tree)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=tree, check=False)
    if done.returncode != 0:
        pytest.fail(f"release code failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout
