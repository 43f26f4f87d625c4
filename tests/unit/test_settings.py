"""Settings come from CORRIDOR_* variables over a TOML node config; bad config is a clear error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from corridor_contracts import new_node_seed, public_key_of, sealing_key_of
from corridor_runtime.registry_file import ConfigError, load_registry
from corridor_runtime.settings import NodeSettings


def test_environment_over_config_file(tmp_path, monkeypatch):
    config = tmp_path / "node.toml"
    config.write_text('node_id = "es"\nnats_url = "nats://127.0.0.1:4333"\nbatch_size = 100\n')
    monkeypatch.setenv("CORRIDOR_CONFIG", str(config))
    monkeypatch.setenv("CORRIDOR_BATCH_SIZE", "500")
    settings = NodeSettings(service="matching")
    assert (settings.node_id, settings.nats_url, settings.batch_size) == ("es", "nats://127.0.0.1:4333", 500)
    assert settings.resolved_database_url().endswith("/var/es/matching.sqlite")


def test_database_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("CORRIDOR_DATABASE_URL", "postgresql+asyncpg://corridor@db/fr")
    assert NodeSettings().resolved_database_url() == "postgresql+asyncpg://corridor@db/fr"


@pytest.mark.parametrize(
    "variable, value, field",
    [("CORRIDOR_NODE_ID", "FR!", "node_id"), ("CORRIDOR_BATCH_SIZE", "lots", "batch_size"),
     ("CORRIDOR_LOG_LEVEL", "LOUD", "log_level"), ("CORRIDOR_MAX_DELIVER", "1", "max_deliver")],
)
def test_a_bad_value_names_its_field(monkeypatch, variable, value, field):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=field):
        NodeSettings()


def test_an_unknown_key_in_the_config_file_is_refused(tmp_path, monkeypatch):
    config = tmp_path / "node.toml"
    config.write_text('node_id = "es"\nnat_url = "nats://typo"\n')
    monkeypatch.setenv("CORRIDOR_CONFIG", str(config))
    with pytest.raises(ValidationError, match="nat_url"):
        NodeSettings()


def test_a_missing_config_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRIDOR_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(FileNotFoundError, match="nowhere.toml"):
        NodeSettings()


def test_the_signing_key_comes_from_a_seed_file(tmp_path):
    seed = new_node_seed()
    (tmp_path / "seed").write_bytes(seed + b"\n")
    assert NodeSettings(signing_seed_file=tmp_path / "seed").signer().public_key == public_key_of(seed)


def test_the_seed_never_shows_in_the_settings_repr():
    seed = new_node_seed().decode()
    settings = NodeSettings(signing_seed=seed)
    assert seed not in repr(settings) and seed not in str(settings.model_dump())


@pytest.mark.parametrize(
    "text, message",
    [
        ("nodes: [", "not valid YAML"),
        ("nodes: []", "nodes: List should have at least 1 item"),
        ("nodes: [{id: fr, name: Elan, country: FR, public_key: nope}]", r"nodes.0.public_key \(node fr\): String should match"),
        ("nodes: [{id: fr, name: Elan, country: FR, public_key: %s}]" % public_key_of(new_node_seed()), r"nodes.0.sealing_key \(node fr\): Field required"),
        ("corridor: x\nnodes: [{id: fr, name: A, country: FR, public_key: %s, sealing_key: %s}, {id: fr, name: B, country: FR, public_key: %s, sealing_key: %s}]"
         % (public_key_of(s1 := new_node_seed()), sealing_key_of(s1), public_key_of(s2 := new_node_seed()), sealing_key_of(s2)),
         "node ids appear more than once: fr"),
    ],
)
def test_a_bad_registry_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "corridor.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_registry(path)


def test_a_missing_registry_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the registry"):
        load_registry(tmp_path / "corridor.yaml")


def test_a_config_file_that_is_not_toml_is_a_clear_error(tmp_path, monkeypatch):
    from corridor_runtime.registry_file import ConfigError

    path = tmp_path / "node.toml"
    path.write_text('node_id = "fr\nlog_level = 3\n')
    monkeypatch.setenv("CORRIDOR_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"node.toml \(CORRIDOR_CONFIG\): not valid TOML: Illegal character"):
        NodeSettings()


def test_a_service_with_a_broken_config_says_so_and_exits_2(tmp_path):
    import os
    import subprocess
    import sys

    path = tmp_path / "node.toml"
    path.write_text('node_id = "fr\n')
    done = subprocess.run([sys.executable, "-m", "corridor_reporting"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CORRIDOR_CONFIG": str(path)})
    assert done.returncode == 2
    assert "corridor-reporting: invalid configuration:" in done.stderr and "not valid TOML" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_config_file_with_a_byte_order_mark_is_read(tmp_path, monkeypatch):
    config = tmp_path / "node.toml"
    config.write_bytes("\ufeffnode_id = \"es\"\nbatch_size = 100\n".encode())
    monkeypatch.setenv("CORRIDOR_CONFIG", str(config))
    settings = NodeSettings(service="matching")
    assert (settings.node_id, settings.batch_size) == ("es", 100)


def test_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path, monkeypatch):
    config = tmp_path / "node.toml"
    config.write_bytes('node_id = "es"\n# caf\xe9\n'.encode("latin-1"))
    monkeypatch.setenv("CORRIDOR_CONFIG", str(config))
    with pytest.raises(ConfigError, match="node.toml: the node config .* is not UTF-8"):
        NodeSettings()


def _entry(node_id: str, **extra) -> str:
    seed = new_node_seed()
    fields = {"id": node_id, "name": node_id, "country": "FR", "public_key": public_key_of(seed),
              "sealing_key": sealing_key_of(seed), **extra}
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def test_a_registry_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "corridor.yaml"
    path.write_bytes(f"\ufeffcorridor: x\nnodes: [{_entry('fr')}]\n".encode())
    assert load_registry(path).node("fr").id == "fr"


@pytest.mark.parametrize("field, prefix", [("public_key", "N"), ("sealing_key", "X")])
def test_a_registry_key_with_a_bad_checksum_names_the_node_and_the_field(tmp_path, field, prefix):
    good = _entry("fr")
    key = next(part.split(": ")[1] for part in good.strip("{}").split(", ") if part.startswith(field))
    assert key.startswith(prefix)
    changed = key[:30] + ("Q" if key[30] != "Q" else "R") + key[31:]
    path = tmp_path / "corridor.yaml"
    path.write_text(f"nodes: [{_entry('es')}, {good.replace(key, changed)}]\n")
    with pytest.raises(ConfigError, match=rf"nodes\.1\.{field} \(node fr\): .*bad checksum"):
        load_registry(path)


def test_leafnode_users_shared_by_nodes_are_refused(tmp_path):
    path = tmp_path / "corridor.yaml"
    path.write_text(f"nodes: [{_entry('fr')}, {_entry('es', leafnode_user='fr')}, {_entry('it')}]\n")
    with pytest.raises(ConfigError, match=r"leafnode_user .* shared: 'fr' \(nodes fr, es\)"):
        load_registry(path)
    path.write_text(f"nodes: [{_entry('fr', leafnode_user='a')}, {_entry('es', leafnode_user='b')}]\n")
    assert [n.leafnode_user for n in load_registry(path).nodes] == ["a", "b"]
