"""One matching round at corridor scale against the straightforward all-pairs baseline.

    .venv/bin/python benchmarks/matching_round.py [--volunteers 10000] [--opportunities 5000]
                                                  [--baseline-share 0.05 | --full-baseline]

The round (corridor_matching.assignment.plan_round) is timed in full. The baseline checks and scores
every pair in Python (assignment.all_pairs_round's loop); by default it is timed on a share of the
opportunities and scaled up (its cost is linear in the number of pairs), and said so in the table;
--full-baseline times all of it. Goal: a round under 2 s on the development machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from corridor_matching import taxonomy as taxonomy_module
from corridor_matching.assignment import plan_round
from corridor_matching.rules import bundled as bundled_rules
from corridor_matching.scoring import Opportunity, Requirement, Volunteer, score, violations

TODAY = date(2026, 11, 22)
HOME = "fr"
COUNTRIES = {"FR": ("fr", [("Île-de-France", "Paris"), ("Auvergne-Rhône-Alpes", "Lyon"), ("Occitanie", "Toulouse")]),
             "ES": ("es", [("Andalucía", "Sevilla"), ("Madrid", "Madrid"), ("Cataluña", "Barcelona")]),
             "IT": ("it", [("Basilicata", "Matera"), ("Lazio", "Roma"), ("Lombardia", "Milano")])}
NODES = {"FR": "fr", "ES": "es", "IT": "it"}
NATIVE = ["ar", "fa", "ti", "wo", "uk", "pt", "es", "en", "so", "ur", "bn", "am"]
SECTORS = ["care", "hospitality", "retail", "administration", "accounting", "it_digital", "teaching_languages",
           "translation_mediation", "community_work", "crafts", "agriculture"]


def corridor(n_volunteers: int, n_opportunities: int, seed: int = 7):
    rng = random.Random(seed)
    skills = [c for c in sorted(taxonomy_module.bundled().skills) if "." in c]
    volunteers = []
    for i in range(n_volunteers):
        country = rng.choices(list(COUNTRIES), weights=[6, 2, 2])[0]  # the home node's volunteers live mostly in France
        host_language, places = COUNTRIES[country]
        region, city = rng.choice(places)
        languages = {rng.choice(NATIVE): 5, host_language: rng.randint(1, 4)}
        if rng.random() < 0.4:
            languages["en"] = rng.randint(1, 4)
        start = TODAY + timedelta(days=rng.randint(-30, 60))
        volunteers.append(Volunteer(
            volunteer_id=f"v{i}", languages=languages, skills=frozenset(rng.sample(skills, rng.randint(2, 5))),
            country=country, region=region, city=rng.choice([city, None]), hours_per_week=rng.randint(4, 30),
            available_from=start, available_until=rng.choice([None, start + timedelta(days=rng.randint(60, 365))]),
            willing_to_move=rng.random() < 0.15, remote_only=rng.random() < 0.05,
            sectors=frozenset(rng.sample(SECTORS, rng.randint(0, 3))), shares_profile=rng.random() < 0.8,
            waiting_since=TODAY - timedelta(days=rng.randint(0, 300))))
    opportunities = []
    for j in range(n_opportunities):
        country = rng.choice(list(COUNTRIES))
        host_language, places = COUNTRIES[country]
        region, city = rng.choice(places)
        starts = TODAY + timedelta(days=rng.randint(0, 90))
        opportunities.append(Opportunity(
            opportunity_id=f"o{j}", host_node=NODES[country], host_kind=rng.choices(["ngo", "business", "public_body"], [6, 2, 2])[0],
            host_sector=rng.choice(SECTORS), host_country=country, country=country, region=region, city=rng.choice([city, None]),
            remote=rng.random() < 0.1, hours_per_week=rng.randint(3, 20), starts_on=starts,
            ends_on=rng.choice([None, starts + timedelta(days=rng.randint(60, 240))]), application_deadline=None,
            slots_free=rng.randint(1, 7),
            skills=tuple(Requirement(c, rng.random() < 0.7) for c in rng.sample(skills, rng.randint(1, 3))),
            languages={host_language: rng.randint(0, 3)}))
    return volunteers, opportunities


def baseline_pairs(volunteers, opportunities, taxonomy, rules) -> int:
    """The all-pairs loop: every pair checked and scored in Python."""
    eligible = 0
    for o in opportunities:
        for v in volunteers:
            if not violations(v, o, home_node=HOME, today=TODAY, rules=rules, taxonomy=taxonomy):
                score(v, o, taxonomy=taxonomy, today=TODAY)
                eligible += 1
    return eligible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--opportunities", type=int, default=5_000)
    parser.add_argument("--baseline-share", type=float, default=0.05)
    parser.add_argument("--full-baseline", action="store_true")
    args = parser.parse_args()

    taxonomy, rules = taxonomy_module.bundled(), bundled_rules()
    volunteers, opportunities = corridor(args.volunteers, args.opportunities)
    slots = sum(o.slots_free for o in opportunities)

    start = time.perf_counter()
    proposals = plan_round(volunteers, opportunities, home_node=HOME, today=TODAY, taxonomy=taxonomy, rules=rules)
    round_seconds = time.perf_counter() - start

    share = 1.0 if args.full_baseline else args.baseline_share
    sample = opportunities[: max(1, int(len(opportunities) * share))]
    start = time.perf_counter()
    baseline_pairs(volunteers, sample, taxonomy, rules)
    baseline_seconds = (time.perf_counter() - start) * len(opportunities) / len(sample)

    table = Table(title=f"matching round: {len(volunteers):,} volunteers × {len(opportunities):,} opportunities ({slots:,} slots)")
    for column in ("figure", "seconds", "note"):
        table.add_column(column)
    table.add_row("round (vectorised scoring + sparse global assignment)", f"{round_seconds:.2f}",
                  f"{len(proposals):,} proposals, total score {sum(p.match.score for p in proposals):,.1f}")
    table.add_row("baseline: all pairs scored in Python (scoring only)", f"{baseline_seconds:.1f}",
                  "measured in full" if share >= 1 else f"measured on {len(sample):,} opportunities, scaled ×{len(opportunities) / len(sample):.0f}")
    table.add_row("ratio baseline / round", f"{baseline_seconds / round_seconds:.0f}×", "goal: round < 2 s")
    Console().print(table)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out = results / f"matching-{stamp[:19].replace(':', '')}.json"
    out.write_text(json.dumps({"date": stamp, "machine": platform.node(), "volunteers": len(volunteers),
                               "opportunities": len(opportunities), "slots": slots, "round_seconds": round_seconds,
                               "baseline_seconds": baseline_seconds, "baseline_share": share,
                               "proposals": len(proposals)}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
