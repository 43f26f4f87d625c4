"""`corridor up --check` with bad input: a clear error, exit 2, and no key, folder or file created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from corridor_contracts import PartnerNode, Registry, new_node_seed
from corridor_runtime.registry_file import save_registry

CORRIDOR = Path(sys.executable).parent / "corridor"
CONFIG = 'node_id = "fr"\ndata_dir = "var"\nregistry_file = "corridor.yaml"\n'


def tree(root: Path) -> dict[str, tuple]:
    return {str(p.relative_to(root)): (p.is_dir(), None if p.is_dir() else p.read_bytes(), p.stat().st_mode)
            for p in sorted(root.rglob("*"))}


def up_check(tmp_path: Path, config: str | bytes):
    (tmp_path / "fr.toml").write_bytes(config if isinstance(config, bytes) else config.encode())
    return subprocess.run([str(CORRIDOR), "up", "--check", "--config", "fr.toml"], cwd=tmp_path, capture_output=True, check=False,
                          text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def registry_of(tmp_path: Path, **seeds: bytes) -> Path:
    path = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(seed, id=n, name=n, country="FR", leafnode_user=n)
                                  for n, seed in seeds.items()]), path)
    return path


def seed_on_disk(tmp_path: Path, node_id: str) -> bytes:
    seed = new_node_seed()
    (tmp_path / "var" / node_id).mkdir(parents=True)
    (tmp_path / "var" / node_id / "signing.seed").write_bytes(seed)
    return seed


def corrupt(key: str) -> str:
    return key[:20] + ("B" if key[20] != "B" else "C") + key[21:]


def test_a_key_with_a_bad_checksum_is_refused_before_anything_starts(tmp_path):
    path = registry_of(tmp_path, fr=seed_on_disk(tmp_path, "fr"), es=new_node_seed())
    text = path.read_text()
    sealing = next(line.split(": ")[1] for line in text.splitlines()[::-1] if "sealing_key" in line)  # es's
    path.write_text(text.replace(sealing, corrupt(sealing)))
    (tmp_path / "fr.toml").write_text(CONFIG)
    before = tree(tmp_path)
    done = up_check(tmp_path, CONFIG)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nodes.1.sealing_key (node es)" in done.stdout and "bad checksum" in done.stdout, done.stdout
    assert tree(tmp_path) == before


def test_a_node_without_its_seed_gets_no_new_key(tmp_path):
    registry_of(tmp_path, fr=new_node_seed())  # its seed is elsewhere: a new one could never match
    (tmp_path / "fr.toml").write_text(CONFIG)
    before = tree(tmp_path)
    done = up_check(tmp_path, CONFIG)
    assert done.returncode == 2 and "signing.seed does not exist" in done.stdout, done.stdout
    assert tree(tmp_path) == before and not (tmp_path / "var").exists()


@pytest.mark.parametrize("setup, config, message", [
    ("registry", 'node_id = "fr"\ndata_dir = "var"\nregistry_file = "nowhere.yaml"\n', "cannot read the registry"),
    ("registry", 'node_id = "cy"\ndata_dir = "var"\nregistry_file = "corridor.yaml"\n', "does not list node cy"),
    ("registry", 'node_id = "FR!"\ndata_dir = "var"\nregistry_file = "corridor.yaml"\n', "^[a-z][a-z0-9]{1,15}$"),
    ("registry", CONFIG + 'hub_url = "nats-leaf://127.0.0.1:7422"\nhub_password_file = "none"\n',
     "cannot read the hub password"),
    ("registry", "node_id = [", "not valid TOML"),
    ("nothing", CONFIG, "cannot read the registry"),
])
def test_bad_input_creates_nothing(tmp_path, setup, config, message):
    if setup == "registry":
        registry_of(tmp_path, fr=seed_on_disk(tmp_path, "fr"))
    (tmp_path / "fr.toml").write_text(config)
    before = tree(tmp_path)
    done = up_check(tmp_path, config)
    assert done.returncode == 2 and message in done.stdout, done.stdout
    assert tree(tmp_path) == before


def test_a_node_config_with_a_byte_order_mark_is_read(tmp_path):
    registry_of(tmp_path, es=new_node_seed())  # lists es only: the config is read, then refused for what it says
    done = up_check(tmp_path, "\ufeff".encode() + CONFIG.encode())
    assert done.returncode == 2 and "does not list node fr" in done.stdout, done.stdout
    assert "TOML" not in done.stdout


def test_corridor_node_with_a_bad_id_or_country_creates_nothing(tmp_path):
    for args, message in ((["--node-id", "Fr!"], "^[a-z][a-z0-9]{1,15}$"), (["--node-id", "fr", "--country", "France"], "country")):
        done = subprocess.run([str(CORRIDOR), "node", *args, "--data-dir", str(tmp_path / "var")], capture_output=True,
                              check=False, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
        assert done.returncode == 2 and message in done.stdout, done.stdout
        assert not (tmp_path / "var").exists()
