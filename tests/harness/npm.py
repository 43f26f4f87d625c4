"""Node.js test peers (an OpenID provider, validators) live in npm projects under tests/harness/,
each with its committed package-lock.json; `ensure_installed` runs `npm ci` in one on first use."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

_STAMP = ".corridor-installed"  # in node_modules: the sha256 of the package-lock.json it was installed from


class NpmError(RuntimeError):
    """An npm test peer could not be installed."""


def _lock_digest(package_dir: Path) -> str:
    return hashlib.sha256((package_dir / "package-lock.json").read_bytes()).hexdigest()


def _installed(package_dir: Path) -> bool:
    try:
        return (package_dir / "node_modules" / _STAMP).read_text().strip() == _lock_digest(package_dir)
    except FileNotFoundError:
        return False


def ensure_installed(package_dir: Path, *, what: str, timeout: float = 300.0, scripts: bool = True) -> Path:
    """Run `npm ci` in `package_dir` unless its node_modules were installed from the current
    package-lock.json (a stamp in node_modules records the lock's hash: absent or different means
    reinstall). Serialised by a file lock so parallel test processes do not race. `scripts=False`
    keeps the packages' install scripts from running. Returns the folder."""
    if _installed(package_dir):
        return package_dir
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise NpmError(
            f"{what} needs Node.js (>= 20) and npm on PATH (node: {node or 'missing'}, npm: {npm or 'missing'}); "
            "install them, e.g. `apt-get install nodejs npm`")
    folder_hash = hashlib.sha256(bytes(package_dir)).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"corridor-npm-{folder_hash}.lock"
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if _installed(package_dir):  # another process installed it while this one waited
                return package_dir
            digest = _lock_digest(package_dir)
            try:
                command = [npm, "ci", "--no-audit", "--no-fund", *([] if scripts else ["--ignore-scripts"])]
                done = subprocess.run(command, cwd=package_dir, capture_output=True,
                                      text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
            except subprocess.TimeoutExpired as e:
                raise NpmError(f"`npm ci` in {package_dir} took more than {timeout:.0f} s") from e
            if done.returncode != 0:
                raise NpmError(f"`npm ci` in {package_dir} failed ({done.returncode}):\n"
                               f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
            (package_dir / "node_modules" / _STAMP).write_text(digest + "\n")
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    return package_dir
