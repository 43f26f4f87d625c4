"""A node's services kept running: a service process that exits when nobody asked it to is started
again, after a pause that doubles with each recent exit (1 s, 2 s, 4 s ... at most 30 s). One that
exits too often (8 times within 5 minutes) is given up on and reported as failing: the operator
sees it on the console, in `logs/node.log`, and in `corridor status` (the node answers for it).
A service that exits with code 2 found its configuration invalid: starting it again cannot help,
so it is reported as failing at once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nats.aio.client import Client
from rich.markup import escape

from .connection import connect
from .service import status_subject

if TYPE_CHECKING:
    from .node import RunningNode

CONFIG_ERROR = 2  # a service's exit code for a configuration it cannot run with (entrypoint.py)


@dataclass(frozen=True)
class RestartPolicy:
    first_pause: float = 1.0
    max_pause: float = 30.0
    give_up_after: int = 8  # exits ...
    window: float = 300.0  # ... within this many seconds: failing, not started again

    def pause(self, recent_exits: int) -> float:
        return min(self.max_pause, self.first_pause * 2 ** max(0, recent_exits - 1))


@dataclass
class ServiceWatch:
    exits: deque[float] = field(default_factory=deque)  # when it exited, within the policy's window
    restart_at: float | None = None
    restarts: int = 0
    failing: str | None = None


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"code {code}"
    return f"code {code}" + (" (invalid configuration)" if code == CONFIG_ERROR else "")


class Supervisor:
    """Watches a RunningNode's service processes from the event loop (a check every quarter second)."""

    def __init__(self, node: RunningNode, *, say: Callable[[str], None], policy: RestartPolicy | None = None,
                 answer_for_failing: bool = True) -> None:
        self.node = node
        self.say = say
        self.policy = policy or RestartPolicy()
        self.answer_for_failing = answer_for_failing
        self.watches: dict[str, ServiceWatch] = {}
        self.stopping = False
        self._task: asyncio.Task | None = None
        self._nc: Client | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"supervisor-{self.node.layout.node_id}")

    def stop(self) -> None:
        """From now on an exit is expected: nothing is started again."""
        self.stopping = True
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """Stop, and let go of the node's nats-server (held to answer for failing services)."""
        self.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    def failing(self, service: str) -> str | None:
        watch = self.watches.get(service)
        return watch.failing if watch else None

    def restarting(self, service: str) -> bool:
        """Whether the service has exited and will be started again."""
        process = self.node.processes.get(service)
        return (process is not None and process.poll() is not None and self.failing(service) is None
                and not self.stopping)

    async def _run(self) -> None:
        try:
            while not self.stopping:
                await self.check(time.monotonic())
                await asyncio.sleep(0.25)
        finally:
            if self._nc is not None and not self._nc.is_closed:
                await self._nc.close()

    async def check(self, now: float) -> None:
        for service, process in list(self.node.processes.items()):
            if self.stopping:
                return
            watch = self.watches.setdefault(service, ServiceWatch())
            if watch.failing is not None:
                continue
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    watch.restart_at = None
                    if process.poll() is None:
                        continue  # started again meanwhile (by an operator's command, a test)
                    watch.restarts += 1
                    self.node.start_services((service,))
                    pid = self.node.processes[service].pid
                    self._log("service restarted", service, restarts=watch.restarts, pid=pid)
                    self.say(f"{service} started again as pid {pid} (restart {watch.restarts})")
                continue
            code = process.poll()
            if code is None:
                continue
            watch.exits.append(now)
            while watch.exits and watch.exits[0] < now - self.policy.window:
                watch.exits.popleft()
            log = self.node.layout.logs / f"{service}.log"
            if code == CONFIG_ERROR:
                why = f"exited with {describe_exit(code)}; not started again: correct it, then restart the node (see {log})"
            elif len(watch.exits) >= self.policy.give_up_after:
                why = (f"exited {len(watch.exits)} times within {self.policy.window:g} s, last with {describe_exit(code)}; "
                       f"not started again (see {log})")
            else:
                pause = self.policy.pause(len(watch.exits))
                watch.restart_at = now + pause
                self._log("service exited", service, exit_code=code, pid=process.pid, restart_in_s=pause)
                self.say(f"{service} (pid {process.pid}) exited with {describe_exit(code)}; starting it again in {pause:g} s")
                continue
            watch.failing = why
            self._log("service failing", service, exit_code=code, pid=process.pid, why=why)
            self.say(f"[red]{service} is failing[/red]: {escape(why)}")
            if self.answer_for_failing:
                await self._answer_for(service, why)

    async def _answer_for(self, service: str, why: str) -> None:
        """`corridor status` and the node's health ask the service on its status subject: the node
        answers that it is failing, and why, since the service no longer can."""
        body = json.dumps({"node": self.node.layout.node_id, "service": service, "failing": {"process": why},
                           "consumers": [], "outbox_backlog": None, "http": None}).encode()

        async def answer(msg) -> None:
            await msg.respond(body)

        try:
            if self._nc is None:
                self._nc = await asyncio.wait_for(connect(self.node.server.url, name=f"{self.node.layout.node_id}-node"), 5)
            await self._nc.subscribe(status_subject(self.node.layout.node_id, service), cb=answer)
            await self._nc.flush(timeout=5)  # the server knows of the answer before anyone is told it is failing
        except (OSError, TimeoutError) as error:
            self.say(f"(cannot answer for {service} on the node's nats-server: {error!r})")

    def _log(self, event: str, service: str, **fields) -> None:
        """One JSON line in logs/node.log, like the services' own logs."""
        self.node.layout.logs.mkdir(parents=True, exist_ok=True)
        line = {"timestamp": datetime.now(UTC).isoformat(), "level": "warning", "event": event,
                "node": self.node.layout.node_id, "service": service, **fields}
        with (self.node.layout.logs / "node.log").open("a") as out:
            out.write(json.dumps(line) + "\n")
