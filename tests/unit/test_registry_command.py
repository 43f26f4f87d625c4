"""`corridor registry add`: a node's keys are created once and its entry goes into the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from corridor_contracts import public_key_of
from corridor_runtime.registry_file import load_registry

CORRIDOR = Path(sys.executable).parent / "corridor"


def add(tmp_path, *args):
    return subprocess.run([str(CORRIDOR), "registry", "add", "--registry-file", str(tmp_path / "corridor.yaml"),
                           "--data-dir", str(tmp_path / "var"), *args], capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_partners_are_added_with_their_own_keys(tmp_path):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    assert add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "CY").returncode == 0
    registry = load_registry(tmp_path / "corridor.yaml")
    assert [n.id for n in registry.nodes] == ["fr", "cy"]
    seed = (tmp_path / "var" / "cy" / "signing.seed").read_bytes()
    assert registry.node("cy").public_key == public_key_of(seed.strip())
    assert (tmp_path / "var" / "cy" / "signing.seed").stat().st_mode & 0o777 == 0o600
    again = add(tmp_path, "--node-id", "cy", "--name", "Cardet Ltd", "--country", "CY")  # a rename keeps the key
    assert again.returncode == 0 and load_registry(tmp_path / "corridor.yaml").node("cy").name == "Cardet Ltd"


def test_a_bad_entry_or_a_different_key_is_refused(tmp_path):
    bad = add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "Cyprus")
    assert bad.returncode == 2 and "country" in bad.stdout
    assert add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "CY").returncode == 0
    (tmp_path / "var" / "cy" / "signing.seed").unlink()  # its key is lost and made again: a different key
    clash = add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "CY")
    assert clash.returncode == 2 and "another key" in clash.stdout
