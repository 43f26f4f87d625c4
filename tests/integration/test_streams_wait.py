"""`corridor streams provision --wait N`, as a compose file starts it beside its nats-server: it waits for a
server that comes up late, and gives up cleanly (one line, exit 2, no traceback) when none comes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from corridor_contracts import PartnerNode, Registry
from corridor_runtime.nats_server import NatsServer, free_port
from corridor_runtime.node import NodeLayout, ensure_keys
from corridor_runtime.registry_file import save_registry

pytestmark = pytest.mark.nats
CORRIDOR = Path(sys.executable).parent / "corridor"


def _registry(tmp_path: Path) -> Path:
    seeds = {n: ensure_keys(NodeLayout(tmp_path / "var", n)) for n in ("fr", "es")}
    path = tmp_path / "corridor.yaml"
    save_registry(Registry(nodes=[PartnerNode.of_seed(seeds[n], id=n, name=n, country=n.upper(), leafnode_user=n)
                                  for n in ("fr", "es")]), path)
    return path


def _provision(registry: Path, port: int, wait: str) -> subprocess.Popen:
    return subprocess.Popen([str(CORRIDOR), "streams", "provision", "--node-id", "fr", "--registry-file", str(registry),
                             "--nats-url", f"nats://127.0.0.1:{port}", "--wait", wait],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={"COLUMNS": "300"})


async def _streams(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        return sorted([s.config.name for s in await nc.jetstream().streams_info()])
    finally:
        await nc.close()


def test_provisioning_waits_for_a_nats_server_that_comes_up_late(tmp_path):
    port = free_port()
    server = NatsServer(name="fr", store_dir=tmp_path / "nats", domain="fr", port=port)
    process = _provision(_registry(tmp_path), port, wait="120")
    try:
        first = process.stdout.readline()  # it says it waits, then waits: only now does the server start
        assert first.startswith("waiting up to 120 s for the nats-server at nats://127.0.0.1:"), first
        server.start()
        assert process.wait(150) == 0
        rest = process.stdout.read()
        assert "streams of node fr provisioned; IN sources from: es" in rest, first + rest
        assert asyncio.run(_streams(server.url)) == ["DEADLETTER", "IN", "LOCAL", "OUT"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        server.stop()


def test_provisioning_gives_up_cleanly_when_no_server_comes(tmp_path):
    process = _provision(_registry(tmp_path), free_port(), wait="1")
    try:
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2, output
    assert "Traceback" not in output and "NoServersError" not in output, output
    lines = output.splitlines()
    assert lines[-1].startswith("error: no nats-server with JetStream answered at nats://127.0.0.1:"), output
    assert lines[-1].endswith("within 1 s (connection refused)"), output
    assert len(lines) == 2 and lines[0].startswith("waiting up to 1 s"), output
