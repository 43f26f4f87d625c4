"""`corridor up --config node.toml`: one real partner node from its config file, a leaf of the hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corridor_contracts import PartnerNode, Registry
from corridor_runtime.node import NodeConfig, NodeLayout, ensure_keys
from corridor_runtime.registry_file import ConfigError, save_registry
from harness.servers import hub_server

pytestmark = pytest.mark.nats
ROOT = Path(__file__).parents[2]


def _corridor(*args, **kwargs):
    return subprocess.Popen([str(Path(sys.executable).parent / "corridor"), *args], cwd=kwargs.pop("cwd"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_the_example_node_configs_load():
    for path in (ROOT / "deploy" / "nodes").glob("*.toml"):
        config = NodeConfig.load(path)
        assert config.node_id == path.stem and config.registry_file == (ROOT / "deploy" / "corridor.yaml")


@pytest.mark.parametrize("text, message", [
    ('node_id = "fr"\ndata_dir = "v"\nregistry_file = "r.yaml"\nnats_prot = 4222\n', "nats_prot: Extra inputs are not permitted"),
    ('node_id = "fr"\ndata_dir = "v"\n', "registry_file: Field required"),
    ('node_id = "fr"\ndata_dir = "v"\nregistry_file = "r.yaml"\nhub_url = "nats-leaf://h:7422"\n', "hub_url needs hub_password_file"),
    ('node_id = "fr"\ndata_dir = "v"\nregistry_file = "r.yaml"\n[http_ports]\nprofile = 8000\n', "unknown services: profile"),
    ("node_id = [", "not valid TOML"),
])
def test_a_bad_node_config_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "node.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        NodeConfig.load(tmp_path / "node.toml")


def test_up_runs_a_node_as_a_leaf_of_the_hub_until_it_is_stopped(tmp_path):
    hub = hub_server(tmp_path, ["fr", "es"]).start()
    process = None
    try:
        seeds = {n: ensure_keys(NodeLayout(tmp_path / "var", n)) for n in ("fr", "es")}
        save_registry(Registry(nodes=[PartnerNode.of_seed(seeds[n], id=n, name=n, country=n.upper(), leafnode_user=n)
                                      for n in ("fr", "es")]), tmp_path / "corridor.yaml")
        (tmp_path / "fr.hub-password").write_text(next(u.password for u in hub.leaf_users if u.node_id == "fr"))
        (tmp_path / "fr.toml").write_text(
            'node_id = "fr"\ndata_dir = "var"\nregistry_file = "corridor.yaml"\n'
            f'hub_url = "nats-leaf://127.0.0.1:{hub.leafnode_port}"\nhub_password_file = "fr.hub-password"\n'
            f"nats_port = {_free_port()}\n")
        process = _corridor("up", "--config", "fr.toml", cwd=tmp_path, start_new_session=True)
        output = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "the node is running" in line:
                break
        text = "".join(output)
        assert "the node is running" in text, text
        assert text.count("│ up ") == 4, text  # the health table: four services up
        leafs = hub.varz("leafz")["leafs"]
        assert [(leaf["account"], leaf.get("name")) for leaf in leafs] == [("$G", "fr")], json.dumps(leafs)
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(60) == 0
        assert "node stopped" in process.stdout.read()
    finally:
        if process is not None:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            process.stdout.close()
        hub.stop()


def _free_port():
    from corridor_runtime.nats_server import free_port
    return free_port()
