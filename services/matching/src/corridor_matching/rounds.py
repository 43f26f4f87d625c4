"""Matching rounds: on new events (debounced) and on a schedule, with the deadlines checked each time."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timezone

import structlog
from sqlalchemy import select

from corridor_runtime.service import ServiceHost
from corridor_runtime.tasks import stop_if_cancelled

from . import saga
from .assignment import plan_round
from .explanations import explain
from .read_models import opportunity_of, volunteer_of
from .rules import HostRules
from .tables import exclusions, opportunities, placements, volunteers
from .taxonomy import Taxonomy

log = structlog.get_logger("corridor.matching.rounds")


class Rounds:
    def __init__(self, host: ServiceHost, *, taxonomy: Taxonomy, rules: HostRules, deadlines: saga.Deadlines,
                 every: float = 60.0, debounce: float = 0.005) -> None:
        self._host = host
        self._taxonomy = taxonomy
        self._rules = rules
        self._deadlines = deadlines
        self._every = every
        self._debounce = debounce
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def wake(self) -> None:
        """Something changed (a volunteer, an opportunity, a decline): run a round soon."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._every)
                # Events that land together go in one round; those that land during a round wake
                # the next one, straight after it. A fixed wait of 0.5 s here was most of the time
                # from an opportunity to its proposal (benchmarks/README.md).
                await asyncio.sleep(self._debounce)
            except TimeoutError:
                pass
            stop_if_cancelled()  # a cancellation wait_for swallowed as something woke the round
            self._wake.clear()
            if await self.run_once():
                # Each opportunity keeps only its best candidates (assignment.plan_round): when
                # many open at once, their lists can overlap and leave slots open that others could
                # fill. The next round, without the volunteers just proposed, fills them; rounds
                # stop when one proposes nothing.
                self.wake()

    async def run_once(self) -> list[uuid.UUID]:
        """Expire what is due, then propose the round's optimum; returns the new proposals' ids."""
        async with self._lock:
            async with self._host.unit_of_work() as uow:
                expired = await saga.expire_due(uow)
                await saga.remind_due(uow, self._deadlines)
                proposed = await self._propose(uow)
            if proposed or expired:
                log.info("matching round", proposed=len(proposed), expired=expired)
            return proposed

    async def _propose(self, uow) -> list[uuid.UUID]:
        session = uow.session
        busy = select(placements.c.volunteer_id).where(placements.c.status.in_([s.value for s in saga.OPEN]))
        rows = [r for r in await session.execute(select(volunteers).where(
            volunteers.c.active.is_(True), volunteers.c.volunteer_id.not_in(busy))) if r.profile]
        if not rows:  # nobody to propose: the opportunities need not be read (most rounds of a host-only node)
            return []
        in_flight = Counter(r[0] for r in await session.execute(
            select(placements.c.opportunity_id).where(placements.c.status.in_([saga.Status.PROPOSED.value,
                                                                               saga.Status.REQUESTED.value]))))
        pool = [volunteer_of(r) for r in rows]
        language_of = {r.volunteer_id: r.profile.get("preferred_language") or "en" for r in rows}
        open_roles = []
        for row in await session.execute(select(opportunities).where(opportunities.c.open.is_(True))):
            free = row.slots_free - in_flight[row.opportunity_id]
            if free > 0 and row.details:
                open_roles.append(opportunity_of(row, free))
        excluded = frozenset((r.volunteer_id, r.opportunity_id) for r in await session.execute(select(exclusions)))
        chosen = plan_round(pool, open_roles, home_node=self._host.settings.node_id,
                            today=datetime.now(timezone.utc).date(), taxonomy=self._taxonomy, rules=self._rules,
                            excluded=excluded)
        return [await saga.propose(uow, volunteer_id=p.volunteer.volunteer_id, opportunity_id=p.opportunity.opportunity_id,
                                   host_node=p.opportunity.host_node, match=p.match.summary(), deadlines=self._deadlines,
                                   explanation=explain(p.match, language=language_of[p.volunteer.volunteer_id],
                                                       taxonomy=self._taxonomy, to_her=True))
                for p in chosen]
