"""The node's supervisor decides, for each service process that exits: start it again after a growing
pause, or report it failing. Real (short-lived) processes; the clock is passed in, so nothing waits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from corridor_runtime.node import NodeLayout
from corridor_runtime.service import status_subject
from corridor_runtime.supervisor import RestartPolicy, Supervisor


class ExitingNode:
    """A node whose services exit at once with `code` each time they are started."""

    def __init__(self, root: Path, code: int) -> None:
        self.layout = NodeLayout(root, "cy")
        self.code = code
        self.processes: dict[str, subprocess.Popen] = {}
        self.started = 0
        self.start_services(("matching",))
        self.started = 0  # the first start is the node's own, not a restart

    def start_services(self, services: tuple[str, ...]) -> None:
        for service in services:
            process = subprocess.Popen([sys.executable, "-c", f"import sys; sys.exit({self.code})"])
            process.wait()
            self.processes[service] = process
            self.started += 1


def supervisor(node: ExitingNode, said: list[str], **policy) -> Supervisor:
    return Supervisor(node, say=said.append, policy=RestartPolicy(**policy), answer_for_failing=False)


async def test_a_service_that_exits_is_started_again_after_pauses_that_double_up_to_a_cap(tmp_path):
    node, said = ExitingNode(tmp_path, code=1), []
    watch = supervisor(node, said, first_pause=1, max_pause=4, give_up_after=6, window=1000)
    now, pauses = 0.0, []
    for _ in range(5):
        await watch.check(now)  # sees the exit, schedules the start
        pauses.append(float(said[-1].rsplit("again in ", 1)[1].removesuffix(" s")))
        await watch.check(now + pauses[-1] - 0.01)
        assert node.started == len(pauses) - 1, "started again before its pause was over"
        now += pauses[-1]
        await watch.check(now)
        assert node.started == len(pauses)
    assert pauses == [1, 2, 4, 4, 4]
    assert "matching (pid" in said[0] and "exited with code 1; starting it again in 1 s" in said[0]
    assert said[1].startswith("matching started again as pid ") and said[1].endswith("(restart 1)")


async def test_a_service_that_keeps_exiting_is_reported_failing_and_left_alone(tmp_path):
    node, said = ExitingNode(tmp_path, code=1), []
    watch = supervisor(node, said, first_pause=1, max_pause=1, give_up_after=3, window=60)
    now = 0.0
    for _ in range(10):
        await watch.check(now)
        now += 1
    assert node.started == 2  # three exits within the window: the third is not followed by a start
    assert watch.failing("matching") and "exited 3 times within 60 s, last with code 1" in watch.failing("matching")
    assert "matching is failing" in said[-1]
    events = [json.loads(line)["event"] for line in (tmp_path / "cy" / "logs" / "node.log").read_text().splitlines()]
    assert events == ["service exited", "service restarted", "service exited", "service restarted", "service failing"]


async def test_exits_far_apart_do_not_add_up(tmp_path):
    node, said = ExitingNode(tmp_path, code=1), []
    watch = supervisor(node, said, first_pause=1, max_pause=30, give_up_after=2, window=60)
    for now in (0, 1, 100, 101, 200, 201):  # an exit, its restart, then a long quiet run
        await watch.check(now)
    assert watch.failing("matching") is None and node.started == 3
    assert [line.rsplit(" ", 2)[-2] for line in said if "starting it again" in line] == ["1", "1", "1"]


async def test_a_configuration_error_is_not_restarted(tmp_path):
    node, said = ExitingNode(tmp_path, code=2), []
    watch = supervisor(node, said)
    for now in (0, 10, 100):
        await watch.check(now)
    assert node.started == 0
    assert "exited with code 2 (invalid configuration); not started again" in watch.failing("matching")


async def test_nothing_is_started_once_the_node_stops(tmp_path):
    node, said = ExitingNode(tmp_path, code=0), []
    watch = supervisor(node, said, first_pause=1)
    await watch.check(0)
    watch.stop()
    await watch.check(5)
    assert node.started == 0


@pytest.mark.nats
async def test_the_node_answers_status_for_a_failing_service(tmp_path, nats_node):
    """`corridor status` asks each service on its status subject; a failing one cannot answer, the node does."""
    node, said = ExitingNode(tmp_path, code=2), []
    node.server = nats_node
    watch = Supervisor(node, say=said.append)
    nc = await nats.connect(nats_node.url)
    try:
        await watch.check(0)
        reply = json.loads((await nc.request(status_subject("cy", "matching"), b"", timeout=5)).data)
    finally:
        await nc.close()
        await watch.close()
    assert reply["service"] == "matching" and "invalid configuration" in reply["failing"]["process"]
