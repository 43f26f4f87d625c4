"""The fault suite: a hub and three partner nodes on loopback (every service its own process) under
a steady load of registrations, opportunities and acceptances, while a nemesis SIGKILLs services,
nats-servers and the hub and pauses services (slow consumers). When the faults stop and the corridor
settles, the checker classifies every acknowledged operation and committed event: lost, duplicated,
overbooked, sagas on which home and host disagree. Any non-zero figure fails.

Profiles: `quick` (the default, part of `make test`) and `long`, on demand:
    CORRIDOR_FAULT_PROFILE=long make faults
The figures are printed and written to <tmp>/faults.json; CORRIDOR_FAULT_SEED replays a run's choices.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import time

import pytest
from rich.console import Console

from corridor_runtime.demo import Corridor
from harness.faults import PROFILES, History, Load, Nemesis, check, new_seed, revive, settle, write_figures

pytestmark = [pytest.mark.nats, pytest.mark.faults]


@pytest.mark.timeout(3600)
async def test_the_corridor_loses_and_duplicates_nothing_under_faults(tmp_path):
    name = os.environ.get("CORRIDOR_FAULT_PROFILE", "quick")
    profile = PROFILES[name]
    seed = new_seed()
    rng = random.Random(seed)
    corridor = Corridor(tmp_path / "corridor", Console(file=io.StringIO()))
    history = History()
    load = Load(corridor, history, rng)
    try:
        await corridor.start()
        await load.prepare()
        until = time.monotonic() + profile.seconds
        await asyncio.gather(load.run(until), Nemesis(corridor, history, rng).run(until, profile.fault_every))
        revive(corridor)
        await settle(corridor, profile.settle_timeout)
        verdict = await check(corridor, history)
    finally:
        await load.aclose()
        await corridor.stop()
    write_figures(tmp_path / "faults.json", name, verdict, seed)
    print(f"\nfault profile {name} (seed {seed}):\n{verdict.table()}")
    assert verdict.figures["operations acknowledged"] > 0 and verdict.figures["faults injected"] > 0
    assert [verdict.figures[k] for k in ("lost", "duplicated", "overbooked", "sagas disagreeing")] == [0, 0, 0, 0], \
        "\n".join(verdict.problems[:30])
