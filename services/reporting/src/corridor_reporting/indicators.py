"""The corridor's indicators, computed from the projections, every one suppressed before it is shown."""

from __future__ import annotations

import statistics
from collections import Counter
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .suppression import DEFAULT_THRESHOLD, suppress, suppress_figure
from .tables import notification_failures, opportunities, outcomes, placements, volunteers

STATUSES = ["proposed", "confirmed", "started", "completed", "withdrawn", "declined", "expired"]
OUTCOMES = ["employed", "in_training", "studying", "none", "unknown"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+", "unknown"]


def _table(counts: Counter, rows, columns, threshold):
    return suppress(dict(counts), rows=list(rows), columns=list(columns), threshold=threshold).as_dict()


async def compute(session: AsyncSession, *, threshold: int = DEFAULT_THRESHOLD) -> dict:
    vols = (await session.execute(select(volunteers))).all()
    places = (await session.execute(select(placements))).all()
    roles = {r.opportunity_id: r for r in (await session.execute(select(opportunities))).all()}
    ends = (await session.execute(select(outcomes))).all()
    failures = (await session.execute(select(notification_failures))).all()

    host_country = lambda p: roles[p.opportunity_id].host_country if p.opportunity_id in roles else "??"  # noqa: E731
    host_sector = lambda p: roles[p.opportunity_id].host_sector if p.opportunity_id in roles else "unknown"  # noqa: E731
    by_status_country = Counter((p.status, host_country(p)) for p in places)
    by_status_sector = Counter((host_sector(p), p.status) for p in places)
    host_kind = lambda p: roles[p.opportunity_id].host_kind if p.opportunity_id in roles else "unknown"  # noqa: E731
    by_kind_status = Counter((host_kind(p), p.status) for p in places)
    by_age_origin = Counter((v.age_band, v.origin) for v in vols)
    by_outcome_country = Counter((o.outcome, o.host_country) for o in ends)
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

    return {
        "threshold": threshold,
        "placements_confirmed_by_month": _table(by_month, sorted({m for m, _ in by_month}), ["placements"], threshold),
        "placements_by_status_and_host_country": _table(by_status_country, STATUSES, sorted({c for _, c in by_status_country}),
                                                        threshold),
        "placements_by_host_sector_and_status": _table(by_status_sector, sorted({s for s, _ in by_status_sector}), STATUSES,
                                                       threshold),
        "placements_by_host_kind_and_status": _table(by_kind_status, sorted({k for k, _ in by_kind_status}), STATUSES,
                                                     threshold),
        "volunteers_by_age_band_and_origin": _table(by_age_origin, AGE_BANDS, sorted({o for _, o in by_age_origin}), threshold),
        "outcomes_by_outcome_and_host_country": _table(by_outcome_country, OUTCOMES,
                                                       sorted({c for _, c in by_outcome_country}), threshold),
        "skills_demanded_by_group_and_country": _table(demanded, skill_groups, countries, threshold),
        "skills_offered_by_group_and_country": _table(offered, skill_groups, countries, threshold),
        "notification_failures_by_channel_and_kind": _table(by_failure, sorted({c for c, _ in by_failure}),
                                                            sorted({k for _, k in by_failure}), threshold),
        "days_from_registration_to_placement": {
            "people": suppress_figure(len(waits), len(waits), threshold=threshold),
            "median": suppress_figure(round(statistics.median(waits), 1) if waits else None, len(waits), threshold=threshold),
            "p90": suppress_figure(round(statistics.quantiles(waits, n=10, method="inclusive")[-1], 1) if len(waits) >= 2 else None,
                                   len(waits), threshold=threshold),
        },
        "completion_rate": suppress_figure(round(completed / len(ended), 3) if ended else None, len(ended), threshold=threshold),
        "withdrawal_rate": suppress_figure(round(1 - completed / len(ended), 3) if ended else None, len(ended), threshold=threshold),
        "hours_volunteered": suppress_figure(str(sum((Decimal(str(p.hours)) for p in hours_people), Decimal("0"))),
                                             len(hours_people), threshold=threshold),
    }
