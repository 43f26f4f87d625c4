"""The corridor's indicators, computed from the projections, every one suppressed before it is shown.

The placements are counted in four tables (by status and host country, by host sector and status,
by host kind and status, confirmed by month) and behind four single figures (days to placement,
hours, completion and withdrawal rates). A reader can combine them, so they are suppressed together
(`suppression.suppress_linked`), with what links them:

- the per-status totals and the grand total are one figure in the three status tables;
- a placement whose opportunity the node does not know is at once of host country "??", host
  sector "unknown" and host kind "unknown": those counts are one figure in the three tables;
- placements confirmed (by month) are among those confirmed, started, withdrawn or completed, and
  the people of "days to placement" are among those confirmed;
- published hours are over at least `threshold` placements started, withdrawn or completed.

The completion and withdrawal rates are published only when the completed and withdrawn counts are:
a rate rounded to three places is a fraction of whole numbers, and with one of them it tells the other.

The other tables share no figure and are suppressed one by one. The skills demanded count
opportunities' required skills, not people: every node receives each opportunity as its host node
broadcast it, so they are published as they are, and so are the counts of opportunities.

Outcomes come as figures, not one by one (`outcome_figures.py`): the corridor-wide table adds up each
node's latest published figures (on this node, its own live counts), hidden where any of them is
hidden; this node's own outcomes are a table of their own.
"""

from __future__ import annotations

import statistics
from collections import Counter
from decimal import Decimal

from corridor_runtime.authority import define_table as define_authority_table
from sqlalchemy import MetaData, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import outcome_figures
from .suppression import DEFAULT_THRESHOLD, TOTAL, Bound, Grid, suppress, suppress_figure, suppress_linked
from .tables import notification_failures, opportunities, placements, volunteers

STATUSES = ["proposed", "requested", "confirmed", "started", "completed", "withdrawn", "declined", "declined_by_host",
            "expired", "compensated"]
OUTCOMES = outcome_figures.OUTCOMES
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+", "unknown"]
NO_HOST_COUNTRY, NO_HOST = "??", "unknown"  # a placement whose opportunity this node does not know

BY_STATUS = "placements by status"  # the figures the three status tables share
NO_OPPORTUNITY = "placements without a known opportunity"
CONFIRMED_BY_MONTH = "placements_confirmed_by_month"


# Who stated each opportunity (the authority ledger the reporting service keeps beside its projections):
# its host node. The opportunities this node hosts are those whose owner is this node.
_authority = define_authority_table(MetaData(), "reporting")


async def _hosted_here(session: AsyncSession, node: str | None) -> set[str]:
    """The ids of the opportunities that this node's host organisations published."""
    if node is None or not await session.run_sync(lambda s: inspect(s.connection()).has_table(_authority.name)):
        return set()
    rows = await session.execute(select(_authority.c.datum).where(_authority.c.owner == node,
                                                                 _authority.c.datum.like("opportunity/%")))
    return {datum.split("/", 1)[1] for (datum,) in rows}


def _table(counts: Counter, rows, columns, threshold):
    return suppress(dict(counts), rows=list(rows), columns=list(columns), threshold=threshold).as_dict()


async def compute(session: AsyncSession, *, threshold: int = DEFAULT_THRESHOLD, node: str | None = None) -> dict:
    """Every figure. `node` is this node's id (by default the session's `info["node"]`, which the
    service's sessions carry): its own outcomes are counted live, the other nodes' from their figures."""
    vols = (await session.execute(select(volunteers))).all()
    places = (await session.execute(select(placements))).all()
    roles = {r.opportunity_id: r for r in (await session.execute(select(opportunities))).all()}
    node = node or session.info.get("node")
    own_outcomes, corridor_outcomes = await outcome_figures.tables(session, node=node, threshold=threshold)
    hosted = sorted(o for o in await _hosted_here(session, node) if o in roles)
    failures = (await session.execute(select(notification_failures))).all()

    host_country = lambda p: roles[p.opportunity_id].host_country if p.opportunity_id in roles else NO_HOST_COUNTRY
    host_sector = lambda p: roles[p.opportunity_id].host_sector if p.opportunity_id in roles else NO_HOST
    host_kind = lambda p: roles[p.opportunity_id].host_kind if p.opportunity_id in roles else NO_HOST
    by_status_country = Counter((p.status, host_country(p)) for p in places)
    by_status_sector = Counter((host_sector(p), p.status) for p in places)
    by_kind_status = Counter((host_kind(p), p.status) for p in places)
    by_age_origin = Counter((v.age_band, v.origin) for v in vols)
    by_failure = Counter((f.channel, f.kind) for f in failures)
    by_month = Counter((f"{p.confirmed_at:%Y-%m}", "placements") for p in places if p.confirmed_at is not None)

    registered = {v.volunteer_id: v.registered_at for v in vols}
    waits = sorted((p.confirmed_at - registered[p.volunteer_id]).total_seconds() / 86400 for p in places
                   if p.confirmed_at is not None and p.volunteer_id in registered)
    ended = [p for p in places if p.status in ("completed", "withdrawn")]
    completed = sum(p.status == "completed" for p in ended)
    hours_people = [p for p in places if Decimal(str(p.hours)) > 0]

    demanded = Counter((code.split(".")[0], roles[o].host_country) for o in roles for code in roles[o].skills)
    offered = Counter((code.split(".")[0], v.country) for v in vols for code in set(v.skills))
    skill_groups = sorted({g for g, _ in demanded} | {g for g, _ in offered})
    countries = sorted({c for _, c in demanded} | {c for _, c in offered})

    waits_figures = {
        "people": suppress_figure(len(waits), len(waits), threshold=threshold),
        "median": suppress_figure(round(statistics.median(waits), 1) if waits else None, len(waits), threshold=threshold),
        "p90": suppress_figure(round(statistics.quantiles(waits, n=10, method="inclusive")[-1], 1) if len(waits) >= 2 else None,
                               len(waits), threshold=threshold),
    }
    completion_rate = suppress_figure(round(completed / len(ended), 3) if ended else None, len(ended), threshold=threshold)
    withdrawal_rate = suppress_figure(round(1 - completed / len(ended), 3) if ended else None, len(ended), threshold=threshold)
    hours = suppress_figure(str(sum((Decimal(str(p.hours)) for p in hours_people), Decimal(0))), len(hours_people),
                            threshold=threshold)

    statuses_countries = sorted({c for _, c in by_status_country})
    sectors, kinds = sorted({s for s, _ in by_status_sector}), sorted({k for k, _ in by_kind_status})
    months = sorted({m for m, _ in by_month})
    grids = {
        CONFIRMED_BY_MONTH: Grid(by_month, months, ["placements"]),
        "placements_by_status_and_host_country": Grid(by_status_country, STATUSES, statuses_countries, shared={
            **{(s, TOTAL): (BY_STATUS, s) for s in [*STATUSES, TOTAL]},
            **({(s, NO_HOST_COUNTRY): (NO_OPPORTUNITY, s) for s in [*STATUSES, TOTAL]} if NO_HOST_COUNTRY in statuses_countries else {}),
        }),
        "placements_by_host_sector_and_status": Grid(by_status_sector, sectors, STATUSES, shared=_by_status(sectors)),
        "placements_by_host_kind_and_status": Grid(by_kind_status, kinds, STATUSES, shared=_by_status(kinds)),
    }
    status = lambda *names: {(BY_STATUS, s): 1 for s in names}
    facts = [Bound({**status("confirmed", "started", "withdrawn", "completed"), (CONFIRMED_BY_MONTH, TOTAL, TOTAL): -1})]
    figures = {}
    if waits_figures["people"] is not None:
        figures["days_from_registration_to_placement"] = [Bound({(CONFIRMED_BY_MONTH, TOTAL, TOTAL): 1}, waits_figures["people"])]
    if hours is not None:
        figures["hours_volunteered"] = [Bound(status("started", "withdrawn", "completed"), threshold)]
    tables, withheld = suppress_linked(grids, facts=facts, figures=figures, threshold=threshold)
    placement_tables = {name: t.as_dict() for name, t in tables.items()}
    if "days_from_registration_to_placement" in withheld:
        waits_figures = dict.fromkeys(waits_figures)
    if "hours_volunteered" in withheld:
        hours = None
    totals = tables["placements_by_status_and_host_country"].row_totals
    if totals["completed"] is None or totals["withdrawn"] is None:
        # A rate rounded to three places is a fraction of small whole numbers (0.417 = 5/12): with one
        # of its two counts, or their bounds, it gives the other away. Published only with both.
        completion_rate = withdrawal_rate = None

    return {
        "threshold": threshold,
        "placements_confirmed_by_month": placement_tables[CONFIRMED_BY_MONTH],
        "placements_by_status_and_host_country": placement_tables["placements_by_status_and_host_country"],
        "placements_by_host_sector_and_status": placement_tables["placements_by_host_sector_and_status"],
        "placements_by_host_kind_and_status": placement_tables["placements_by_host_kind_and_status"],
        "volunteers_by_age_band_and_origin": _table(by_age_origin, AGE_BANDS, sorted({o for _, o in by_age_origin}), threshold),
        "outcomes_by_outcome_and_host_country": corridor_outcomes,
        "outcomes_of_this_node_by_outcome_and_host_country": own_outcomes,
        # Opportunities, not people: what every node receives in the broadcasts (threshold 1: nothing hidden).
        "skills_demanded_by_group_and_country": _table(demanded, skill_groups, countries, 1),
        "skills_offered_by_group_and_country": _table(offered, skill_groups, countries, threshold),
        "notification_failures_by_channel_and_kind": _table(by_failure, sorted({c for c, _ in by_failure}),
                                                            sorted({k for _, k in by_failure}), threshold),
        "days_from_registration_to_placement": waits_figures,
        "completion_rate": completion_rate,
        "withdrawal_rate": withdrawal_rate,
        "hours_volunteered": hours,
        "opportunities": {"in_the_corridor": len(roles), "hosted_by_this_node": len(hosted)},
        "opportunities_hosted_by_this_node_by_skill_group": dict(sorted(Counter(
            group for o in hosted for group in {code.split(".")[0] for code in roles[o].skills}).items())),
    }


def _by_status(rows: list[str]) -> dict:
    """The shared entries of a table of placements by something (rows) and status (columns)."""
    shared = {(TOTAL, s): (BY_STATUS, s) for s in [*STATUSES, TOTAL]}
    if NO_HOST in rows:
        shared.update({(NO_HOST, s): (NO_OPPORTUNITY, s) for s in [*STATUSES, TOTAL]})
    return shared
