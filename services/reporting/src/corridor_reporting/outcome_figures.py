"""Follow-up outcomes: counted at her home node, shared with the corridor only as suppressed figures.

One outcome, with her age band, the host's kind, sector and country and the month, singles her out
to a host that knows whom it hosted from her home node. So outcomes never leave their home node one
by one (`OutcomeRecorded` is a local event). Instead, every few minutes, this node's reporting
broadcasts its own counts by outcome and host country, suppressed with the node's threshold
(`OutcomeFigures`, with a revision that the next one raises), and every node adds the latest
figures of each node up into the corridor-wide table (docs/reporting.md).

- **What the home node publishes** (`publish_figures`): its outcomes of all time, by outcome × host
  country, suppressed as every table of the node (`suppression.suppress`). A host country's column
  changes from one publication to the next only when `threshold` outcomes or more are new in it
  (or have gone): a host comparing two publications learns about a group of at least `threshold`
  of the women it may have hosted, never about one or two. Until then the column is published as
  it was (a new host country appears with its first `threshold` outcomes). The counts a
  publication was computed from stay on the node (`outcome_release`), never published.
- **The corridor-wide table** (`corridor_table`): the sum, entry by entry, of each node's latest
  figures. A hidden entry of any node's figures hides the sum (it is shown hidden, never as a
  number that leaves it out). Each node's figures are safe on their own, and the sum is computed
  from them alone, so it tells nothing that they do not. On its own node, its own part is its live
  counts, suppressed; a node whose figures were suppressed with a lower threshold than this
  node's counts as hidden in full.
- **Partners on older code** still broadcast each outcome (`PlacementOutcome` v1). Their outcomes
  are kept one by one with their home node (`outcome_records`) and counted as that node's figures,
  suppressed here, until the node sends figures of its own, which then replace them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import Table, literal, select

from corridor_contracts.events.outcomes import OutcomeFigures
from corridor_contracts.events.placements import OutcomeKind
from corridor_runtime.service import ServiceHost
from corridor_runtime.unit_of_work import Incoming

from .suppression import DEFAULT_THRESHOLD, suppress
from .tables import outcome_records, outcome_release, outcomes, received_figures

log = structlog.get_logger("corridor.reporting.outcomes")

OUTCOMES = [kind.value for kind in OutcomeKind]  # the rows, a fixed list
EVERY = 300.0  # seconds between two looks at the node's own figures
# Published again, unchanged, at least this often: a node's latest figures stay in the streams
# (90 days), so a node that joins or rebuilds learns them.
REFRESH = timedelta(days=30)

Counts = Counter  # (outcome, host country) → people


def counts_of(rows: Iterable) -> Counts:
    return Counter((r.outcome, r.host_country) for r in rows if r.outcome in OUTCOMES)


def suppressed(counts: Counts, *, threshold: int) -> dict:
    """A node's counts as a published table: every host country with someone in it, small counts hidden."""
    columns = sorted({c for (_, c), v in counts.items() if v})
    return suppress(dict(counts), rows=OUTCOMES, columns=columns, threshold=threshold).as_dict()


def released(previous: Counts, current: Counts, *, threshold: int) -> Counts:
    """The counts to publish: each host country's column as it is now if at least `threshold`
    outcomes are new in it (or gone) since the previous publication, else as it was published."""
    result: Counts = Counter()
    for country in sorted({c for _, c in previous} | {c for _, c in current}):
        before = {o: previous[(o, country)] for o in OUTCOMES}
        now = {o: current[(o, country)] for o in OUTCOMES}
        changed = sum(abs(now[o] - before[o]) for o in OUTCOMES)
        chosen = now if changed >= threshold else before
        result.update({(o, country): v for o, v in chosen.items() if v})
    return result


def as_event(table: dict, *, revision: int) -> OutcomeFigures:
    return OutcomeFigures(revision=revision, threshold=table["threshold"], outcomes=table["rows"],
                          host_countries=table["columns"], counts=table["cells"], outcome_totals=table["row_totals"],
                          host_country_totals=table["column_totals"], total=table["total"])


def as_table(event: OutcomeFigures) -> dict:
    return {"rows": [o.value for o in event.outcomes], "columns": list(event.host_countries),
            "threshold": event.threshold, "cells": [list(row) for row in event.counts],
            "row_totals": list(event.outcome_totals), "column_totals": list(event.host_country_totals),
            "total": event.total}


def hidden_in_full(table: dict) -> dict:
    """Every non-zero entry hidden: figures suppressed with a lower threshold than this node's."""
    hide = lambda v: None if v else v  # noqa: E731
    return {**table, "cells": [[hide(v) for v in row] for row in table["cells"]],
            "row_totals": [hide(v) for v in table["row_totals"]],
            "column_totals": [hide(v) for v in table["column_totals"]], "total": hide(table["total"])}


def corridor_table(parts: Iterable[dict], *, threshold: int) -> dict:
    """The sum of published tables, entry by entry; hidden (None) where any of them is hidden. A
    table without a row or column counts 0 there (a host country is listed when someone is in it)."""
    parts = list(parts)
    columns = sorted({c for part in parts for c in part["columns"]})

    def total(values: list[int | None]) -> int | None:
        return None if None in values else sum(values)

    def entry(part: dict, r: str | None, c: str | None) -> int | None:
        rows, cols = part["rows"], part["columns"]
        if (r is not None and r not in rows) or (c is not None and c not in cols):
            return 0
        if r is None and c is None:
            return part["total"]
        if r is None:
            return part["column_totals"][cols.index(c)]
        if c is None:
            return part["row_totals"][rows.index(r)]
        return part["cells"][rows.index(r)][cols.index(c)]

    return {"rows": list(OUTCOMES), "columns": columns, "threshold": threshold,
            "cells": [[total([entry(p, r, c) for p in parts]) for c in columns] for r in OUTCOMES],
            "row_totals": [total([entry(p, r, None) for p in parts]) for r in OUTCOMES],
            "column_totals": [total([entry(p, None, c) for p in parts]) for c in columns],
            "total": total([entry(p, None, None) for p in parts])}


async def tables(session, *, node: str | None, threshold: int = DEFAULT_THRESHOLD) -> tuple[dict, dict]:
    """(this node's own outcomes, live and suppressed; the corridor-wide table) for the indicators.

    `node` is this node's id: its own part of the corridor is its live counts. Without it, this
    node counts as any other (its figures, as they come back through IN), and the own table is empty."""
    records = (await session.execute(select(outcome_records))).all()
    figures = {r.node: r for r in (await session.execute(select(received_figures))).all() if r.node != node}
    by_node: dict[str, list] = {}
    for record in records:
        by_node.setdefault(record.home_node, []).append(record)
    own = suppressed(counts_of(by_node.get(node, [])) if node is not None else Counter(), threshold=threshold)
    parts = [own]
    for name, row in sorted(figures.items()):
        parts.append(row.figures if row.threshold >= threshold else hidden_in_full(row.figures))
    for name in sorted(set(by_node) - set(figures) - {node}):  # partners on older code: their events, one by one
        parts.append(suppressed(counts_of(by_node[name]), threshold=threshold))
    table = corridor_table(parts, threshold=threshold)
    table["nodes"] = sorted({*figures, *by_node})
    return own, table


def received(row: dict | None, incoming: Incoming) -> dict | None:
    """A node's figures (the projection of OutcomeFigures): they replace its figures before them if
    their revision is higher (the authority ledger passes over older ones already)."""
    event: OutcomeFigures = incoming.event
    if row is not None and row["revision"] >= event.revision:
        return row
    return {"node": incoming.envelope.origin, "revision": event.revision, "threshold": event.threshold,
            "figures": as_table(event)}


async def publish_figures(host: ServiceHost, *, threshold: int, now: datetime | None = None) -> OutcomeFigures | None:
    """Publish this node's figures if they changed (or were last published `REFRESH` ago), in one
    transaction with what was published; returns the event, or None when there was nothing new."""
    now = now or datetime.now(timezone.utc)
    me = host.settings.node_id
    if host.emitter.signer is None:
        log.warning("no signing key: this node's outcome figures cannot be published")
        return None
    async with host.unit_of_work() as uow:
        session = uow.session
        last = (await session.execute(select(outcome_release).where(outcome_release.c.node == me)
                                      .with_for_update())).first()
        records = outcome_records.c
        mine = select(records.outcome, records.host_country).where(records.home_node == me)
        current = counts_of((await session.execute(mine)).all())
        previous = Counter({(o, c): v for o, c, v in last.counts}) if last is not None else Counter()
        counts = released(previous, current, threshold=threshold)
        table = suppressed(counts, threshold=threshold)
        if last is None and not counts:
            return None  # nothing to say yet
        if last is not None and last.published == table and now - last.published_at < REFRESH:
            return None
        # The revision only this node raises. Its clock sets a floor, so that a node that lost its
        # database still publishes revisions higher than those the corridor holds.
        revision = max((last.revision + 1) if last is not None else 1, int(now.timestamp()))
        event = as_event(table, revision=revision)
        uow.emit(event)
        values = {"revision": revision, "counts": [[o, c, v] for (o, c), v in sorted(counts.items())],
                  "published": table, "published_at": now}
        if last is None:
            await session.execute(outcome_release.insert().values(node=me, **values))
        else:
            await session.execute(outcome_release.update().where(outcome_release.c.node == me).values(**values))
    log.info("outcome figures published", revision=revision, total=table["total"], host_countries=table["columns"])
    return event


async def adopt_older_outcomes(host: ServiceHost) -> int:
    """Outcomes projected before they had their home node (reporting_outcomes) into outcome_records,
    with the node the authority ledger learnt as each one's author. Idempotent."""
    authority: Table = host.tables.authority
    known = select(outcome_records.c.outcome_id)
    source = (select(outcomes.c.outcome_id, authority.c.owner, outcomes.c.home_country, outcomes.c.host_country,
                     outcomes.c.host_sector, outcomes.c.outcome, outcomes.c.recorded_month)
              .join(authority, authority.c.datum == literal("outcome/") + outcomes.c.outcome_id)
              .where(outcomes.c.outcome_id.not_in(known)))
    async with host.unit_of_work() as uow:
        columns = ["outcome_id", "home_node", "home_country", "host_country", "host_sector", "outcome",
                   "recorded_month"]
        result = await uow.session.execute(outcome_records.insert().from_select(columns, source))
    adopted = result.rowcount or 0
    if adopted:
        log.info("outcomes projected before they had their home node, adopted", outcomes=adopted)
    return adopted


class FiguresLoop:
    """Every `every` seconds: this node's figures, published if they changed (idempotent)."""

    def __init__(self, host: ServiceHost, *, threshold: int, every: float = EVERY) -> None:
        self._host, self._threshold, self._every = host, threshold, every

    async def run_forever(self) -> None:
        adopted = False
        while True:
            try:
                if not adopted:
                    await adopt_older_outcomes(self._host)
                    adopted = True
                await publish_figures(self._host, threshold=self._threshold)
            except Exception:  # the database or the outbox: the next turn tries again
                log.exception("outcome figures not published; trying again later")
            await asyncio.sleep(self._every)
