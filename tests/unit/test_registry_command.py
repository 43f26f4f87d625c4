"""`corridor registry add` and `hub-config`: a node's keys are created once and its entry goes into the registry;
bad input, by hand or by command, is refused with a clear message and nothing created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from corridor_contracts import public_key_of
from corridor_runtime.registry_file import ConfigError, load_registry

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


def tree(root: Path) -> dict[str, tuple]:
    """Every file and folder under root with its content and mode: what a refused command must leave as it was."""
    return {str(p.relative_to(root)): (p.is_dir(), None if p.is_dir() else p.read_bytes(), p.stat().st_mode)
            for p in sorted(root.rglob("*"))}


def corrupt(key: str) -> str:
    """The key with one character changed: still of the right form, but its checksum no longer fits."""
    return key[:20] + ("B" if key[20] != "B" else "C") + key[21:]


def hub_config(path: Path):
    return subprocess.run([str(CORRIDOR), "registry", "hub-config", "--registry-file", str(path)], capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_a_bad_node_id_is_shown_with_the_real_pattern_and_nothing_is_created(tmp_path):
    before = tree(tmp_path)
    bad = add(tmp_path, "--node-id", "FR!", "--name", "Elan", "--country", "FR")
    assert bad.returncode == 2
    assert "^[a-z][a-z0-9]{1,15}$" in bad.stdout, bad.stdout
    assert tree(tmp_path) == before


@pytest.mark.parametrize("field", ["public_key", "sealing_key"])
def test_a_key_with_a_bad_checksum_is_refused_naming_the_node_and_the_field(tmp_path, field):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    assert add(tmp_path, "--node-id", "es", "--name", "Incoma", "--country", "ES").returncode == 0
    path = tmp_path / "corridor.yaml"
    key = getattr(load_registry(path).node("es"), field)
    path.write_text(path.read_text().replace(key, corrupt(key)))
    before = tree(tmp_path)

    with pytest.raises(ConfigError, match=rf"nodes.1.{field} \(node es\): .*bad checksum"):
        load_registry(path)
    refused = add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "CY")
    assert refused.returncode == 2 and f"{field} (node es)" in refused.stdout and "bad checksum" in refused.stdout
    printed = hub_config(path)
    assert printed.returncode == 2 and f"{field} (node es)" in printed.stdout and "bad checksum" in printed.stdout
    assert "authorization" not in printed.stdout
    assert tree(tmp_path) == before  # no key made for cy, the registry untouched


def test_a_leafnode_user_shared_by_two_nodes_is_refused_before_a_hub_config_is_written(tmp_path):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    assert add(tmp_path, "--node-id", "es", "--name", "Incoma", "--country", "ES").returncode == 0
    path = tmp_path / "corridor.yaml"
    path.write_text(path.read_text().replace("leafnode_user: es", "leafnode_user: fr"))
    printed = hub_config(path)
    assert printed.returncode == 2 and "authorization" not in printed.stdout
    assert "leafnode_user" in printed.stdout and "'fr' (nodes fr, es)" in printed.stdout, printed.stdout
    with pytest.raises(ConfigError, match="'fr' \\(nodes fr, es\\)"):
        load_registry(path)


def test_a_new_node_whose_id_is_another_nodes_leafnode_user_is_refused_and_nothing_is_created(tmp_path):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    path = tmp_path / "corridor.yaml"
    path.write_text(path.read_text().replace("leafnode_user: fr", "leafnode_user: es"))
    before = tree(tmp_path)
    refused = add(tmp_path, "--node-id", "es", "--name", "Incoma", "--country", "ES")
    assert refused.returncode == 2 and "'es' (nodes fr, es)" in refused.stdout, refused.stdout
    assert tree(tmp_path) == before


@pytest.mark.parametrize("args, registry_text, message", [
    (["--node-id", "cy", "--name", "Cardet", "--country", "Cyprus"], None, "country"),
    (["--node-id", "cy", "--name", "", "--country", "CY"], None, "name"),
    (["--node-id", "cy", "--name", "Cardet", "--country", "CY"], "nodes: [", "not valid YAML"),
    (["--node-id", "cy", "--name", "Cardet", "--country", "CY"], "corridor: x\nnodes: []\n", "at least 1 item"),
])
def test_registry_add_with_bad_input_creates_nothing(tmp_path, args, registry_text, message):
    if registry_text is not None:
        (tmp_path / "corridor.yaml").write_text(registry_text)
    before = tree(tmp_path)
    refused = add(tmp_path, *args)
    assert refused.returncode == 2 and message in refused.stdout, refused.stdout
    assert tree(tmp_path) == before


def test_a_listed_node_whose_seed_is_elsewhere_gets_no_new_key(tmp_path):
    assert add(tmp_path, "--node-id", "cy", "--name", "Cardet", "--country", "CY").returncode == 0
    (tmp_path / "var" / "cy" / "signing.seed").rename(tmp_path / "kept.seed")
    before = tree(tmp_path)
    refused = add(tmp_path, "--node-id", "cy", "--name", "Cardet Ltd", "--country", "CY")
    assert refused.returncode == 2 and "another key" in refused.stdout
    assert tree(tmp_path) == before


def test_the_registry_written_has_no_empty_or_default_fields_and_a_rename_keeps_what_was_set(tmp_path):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    assert add(tmp_path, "--node-id", "es", "--name", "Incoma", "--country", "ES").returncode == 0
    path = tmp_path / "corridor.yaml"
    written = yaml.safe_load(path.read_text())
    for node in written["nodes"]:
        assert "reads" not in node and None not in node.values(), node
    assert "reads: {}" not in path.read_text() and "null" not in path.read_text()

    path.write_text(path.read_text().replace("leafnode_user: es", "leafnode_user: es\n  reads:\n    OpportunityPublished: 1"))
    assert add(tmp_path, "--node-id", "es", "--name", "Incoma SL", "--country", "ES").returncode == 0
    es = load_registry(path).node("es")
    assert (es.name, es.reads, es.leafnode_user) == ("Incoma SL", {"OpportunityPublished": 1}, "es")
    assert [n.id for n in load_registry(path).nodes] == ["fr", "es"]


def test_a_registry_with_a_byte_order_mark_is_read(tmp_path):
    assert add(tmp_path, "--node-id", "fr", "--name", "Elan", "--country", "FR").returncode == 0
    path = tmp_path / "corridor.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_registry(path).node("fr").name == "Elan"
    assert add(tmp_path, "--node-id", "es", "--name", "Incoma", "--country", "ES").returncode == 0
    assert hub_config(path).returncode == 0
    assert [n.id for n in load_registry(path).nodes] == ["fr", "es"]


def test_markup_like_text_is_printed_as_it_is(tmp_path):
    done = add(tmp_path, "--node-id", "fr", "--name", "Elan [b]Interculturel[/b]", "--country", "FR")
    assert done.returncode == 0 and "Elan [b]Interculturel[/b]" in done.stdout, done.stdout
