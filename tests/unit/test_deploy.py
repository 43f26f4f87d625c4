"""The deployment examples are valid: nats-server accepts its configs, the registry loads, and the
compose file points at files that exist."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from corridor_runtime.nats_server import find_binary
from corridor_runtime.registry_file import load_registry

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
ENVIRONMENT = {"LEAF_FR_PASSWORD": "a", "LEAF_ES_PASSWORD": "b", "LEAF_IT_PASSWORD": "c",
               "HUB_LEAF_URL": "nats-leaf://fr:a@hub:7422"}


@pytest.mark.parametrize("config", sorted((DEPLOY / "nats").glob("*.conf")), ids=lambda p: p.name)
def test_nats_server_accepts_the_config(config):
    done = subprocess.run([str(find_binary()), "-t", "-c", str(config)], capture_output=True, text=True,
                          env=ENVIRONMENT, timeout=30)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "is valid" in done.stderr + done.stdout


def test_leaf_configs_keep_node_subjects_on_the_node():
    for config in (DEPLOY / "nats").glob("leaf-*.conf"):
        node = config.stem.removeprefix("leaf-")
        assert f'deny_exports: ["node.{node}.>", "deadletter.{node}.>", "status.{node}.>"]' in config.read_text()


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
