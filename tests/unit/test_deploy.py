"""The deployment examples are valid: nats-server accepts its configs, the registry loads, and the
compose file points at files that exist."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corridor_runtime.nats_server import find_binary
from corridor_runtime.registry_file import load_registry

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
ENVIRONMENT = {"LEAF_FR_PASSWORD": "a", "LEAF_ES_PASSWORD": "b", "LEAF_IT_PASSWORD": "c",
               "HUB_LEAF_URL": "nats-leaf://fr:a@hub:7422"}
CORRIDOR = Path(sys.executable).parent / "corridor"


@pytest.mark.parametrize("config", sorted((DEPLOY / "nats").glob("*.conf")), ids=lambda p: p.name)
def test_nats_server_accepts_the_config(config):
    done = subprocess.run([str(find_binary()), "-t", "-c", str(config)], capture_output=True, text=True,
                          env=ENVIRONMENT, timeout=30)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "is valid" in done.stderr + done.stdout


def test_the_hub_config_is_the_one_generated_from_the_registry():
    generated = subprocess.run([str(CORRIDOR), "registry", "hub-config", "--registry-file", str(DEPLOY / "corridor.yaml")],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    assert (DEPLOY / "nats" / "hub.conf").read_text() == generated, "run: corridor registry hub-config > deploy/nats/hub.conf"


def test_leaf_configs_keep_node_subjects_on_the_node():
    for config in [*(DEPLOY / "nats").glob("leaf-*.conf"), *(DEPLOY / "nats").glob("cluster-*.conf")]:
        node = config.stem.removeprefix("leaf-").removeprefix("cluster-").split("-")[0]
        assert f'deny_exports: ["node.{node}.>", "deadletter.{node}.>", "status.{node}.>", "replay.{node}.>"]' in config.read_text()


def test_the_registry_example_lists_every_leaf():
    registry = load_registry(DEPLOY / "corridor.yaml")
    leaves = {p.stem.removeprefix("leaf-") for p in (DEPLOY / "nats").glob("leaf-*.conf")}
    assert {n.id for n in registry.nodes} == leaves


def test_the_compose_file_refers_to_files_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for env_file in [service["env_file"]] if "env_file" in service else []:
            assert (ROOT / env_file).is_file(), (name, env_file)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file()


def test_docker_compose_accepts_the_compose_file(tmp_path):
    """Debian's docker-compose validates the file (no Docker engine needed for `config`)."""
    compose = shutil.which("docker-compose")
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: .ci/run installs Debian's package")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    secrets = ROOT / "deploy" / "secrets"
    created = []
    if not secrets.exists():  # the secrets compose refers to are never committed: placeholders
        secrets.mkdir()
        created.append(secrets)
    try:
        for node in ("fr", "es"):
            for kind in ("seed", "pseudonym"):
                path = secrets / f"{node}.{kind}"
                if not path.exists():
                    path.write_text("placeholder\n")
                    created.append(path)
        done = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, **ENVIRONMENT}, cwd=ROOT)
        assert done.returncode == 0, done.stderr + done.stdout
    finally:
        for path in reversed(created):
            path.rmdir() if path.is_dir() else path.unlink()


def _compose_services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_command_of_the_compose_file_exists_in_the_code():
    from typer.main import get_command

    from corridor_runtime.cli import app

    cli = get_command(app)
    for name, service in _compose_services().items():
        command = service.get("command")
        if command is None or name == "hub" or name.startswith("nats-"):
            continue
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(f"{command[2]}.__main__") is not None, (name, command)
        else:
            assert command[0] == "corridor", (name, command)
            group = cli
            for word in command[1:]:
                group = group.commands[word]  # KeyError: no such subcommand
            assert group.callback is not None, (name, command)


def test_every_corridor_variable_the_deployment_sets_is_a_setting():
    from corridor_notifications.settings import NotificationSettings
    from corridor_reporting.bootstrap import ReportingSettings
    from corridor_runtime.settings import NodeSettings

    known = {f"CORRIDOR_{f.upper()}" for f in NodeSettings.model_fields}
    known |= {f"CORRIDOR_NOTIFY_{f.upper()}" for f in NotificationSettings.model_fields}
    known |= {f"CORRIDOR_REPORTING_{f.upper()}" for f in ReportingSettings.model_fields}
    known |= {"CORRIDOR_STREAM_REPLICAS", "CORRIDOR_NODE_CONFIG"}  # options of `corridor streams provision` / `up`
    used = set()
    for env_file in (DEPLOY / "env").glob("*.env"):
        used |= {line.split("=", 1)[0] for line in env_file.read_text().splitlines() if line and not line.startswith("#")}
    for service in _compose_services().values():
        used |= set((service.get("environment") or {}).keys()) if isinstance(service.get("environment"), dict) else set()
    corridor_variables = {v for v in used if v.startswith("CORRIDOR_")}
    assert corridor_variables and corridor_variables <= known, sorted(corridor_variables - known)
    cli_source = (ROOT / "runtime" / "src" / "corridor_runtime" / "cli.py").read_text()
    assert 'envvar="CORRIDOR_STREAM_REPLICAS"' in cli_source and 'envvar="CORRIDOR_NODE_CONFIG"' in cli_source
