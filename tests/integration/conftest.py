from __future__ import annotations

import nats
import pytest

from corridor_runtime.streams import provision
from harness import ledger


@pytest.fixture
async def js(nats_node):
    """A JetStream client on the node's server, with the node's streams provisioned."""
    nc = await nats.connect(nats_node.url)
    context = nc.jetstream()
    await provision(context, ledger.NODE, peers=[])
    try:
        yield context
    finally:
        await nc.close()


@pytest.fixture
def node_settings(tmp_path, nats_node, database_url, js):
    return ledger.settings(tmp_path, nats_node.url, database_url)


@pytest.fixture
async def running(node_settings):
    """Start ledger services on the node; every one started is stopped, even when the test fails."""
    started = []

    async def start(the_ledger=None, settings=None, **options):
        service = ledger.host(settings or node_settings, the_ledger or ledger.Ledger(), **options)
        await service.start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            await service.stop()
