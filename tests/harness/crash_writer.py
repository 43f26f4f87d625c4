"""A service process that dies by SIGKILL at a chosen moment of the outbox's life.

    python -m harness.crash_writer after-commit   # commit state + outbox row, die before publishing
    python -m harness.crash_writer after-publish  # publish and get the ack, die before marking sent

Settings come from the environment (CORRIDOR_*), like any service. Prints the event id first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from corridor_runtime.outbox import OutboxRelay
from corridor_runtime.settings import NodeSettings
from harness import ledger
from harness.samples import SAMPLES


class DyingRelay(OutboxRelay):
    async def _record(self, sent, failed):
        assert sent and not failed, (sent, failed)
        os.kill(os.getpid(), signal.SIGKILL)


async def main(mode: str) -> None:
    service = ledger.host(NodeSettings(), ledger.Ledger())
    await service.db.create_tables(service.metadata)
    async with service.unit_of_work() as uow:
        envelope = uow.emit(SAMPLES["VolunteerRegistered"])
    print(envelope.event_id, flush=True)
    if mode == "after-commit":
        os.kill(os.getpid(), signal.SIGKILL)
    service.nc = await service._connect()
    relay = DyingRelay(service.db, service.tables, service.nc)
    await relay.publish_pending()
    raise SystemExit("the relay should have died")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
