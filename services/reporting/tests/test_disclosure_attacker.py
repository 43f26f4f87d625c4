"""An attacker against the published indicators, written as a test.

It reads only what a node publishes: every table as CSV text (the same as the JSON, which it checks)
and the single figures of `/indicators`. It knows what docs/reporting.md says any reader may know:

- a category (row or column) is listed only if it is non-empty, except the fixed lists (statuses,
  outcomes, age bands) and the skills tables' groups and countries (in either of the two);
- a hidden count is never zero, so it is at least 1;
- the same figure in two tables is one figure: the placements' per-status totals and their grand
  total are in three tables, and the placements without a known opportunity are the host country
  "??", the host sector "unknown" and the host kind "unknown" at once;
- placements confirmed (the by-month table) are among those confirmed, started, withdrawn or
  completed; the people of "days to placement" among those confirmed; a published rate is over at
  least `threshold` ended placements and, rounded to three places, bounds completed / ended; published
  hours are over at least `threshold` placements started, withdrawn or completed.

With linear programs over all of it, it bounds every hidden count from below and above, and a small
count also in whole numbers (integer programs). A hidden count of 1 to threshold-1 people whose upper
bound is below the threshold is a breach: the reader knows it is small. The histories are random
and seeded, so a failure can be replayed.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from corridor_reporting.api import table_csv
from corridor_reporting.indicators import compute
from corridor_reporting.outcome_figures import OUTCOMES, corridor_table, suppressed
from corridor_reporting.suppression import suppress
from corridor_reporting.tables import (
    PROJECTIONS,
    metadata,
    notification_failures,
    opportunities,
    outcome_records,
    placements,
    volunteers,
)
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

THRESHOLD = 5
SLACK = 1e-6
NODES = 25  # random whole histories through compute(): each is some 0.5 s of linear programs
TABLES = 200  # random single tables through suppress()
MARKER = "suppressed"
OPPORTUNITY_TABLES = {"skills_demanded_by_group_and_country"}  # counts of opportunities, not of people
STATUS = "placements by status"  # the figure the three placement tables share
NO_OPPORTUNITY = "placements without a known opportunity"
MONTHS = "placements_confirmed_by_month"
# Categories not listed because they are non-empty: the fixed lists (statuses, outcomes, age bands), and
# the skills tables' groups and countries, listed if they are in either table (non-empty in one of the two).
NOT_FROM_DATA = {"placements_by_status_and_host_country": "rows", "placements_by_host_sector_and_status": "columns",
                 "placements_by_host_kind_and_status": "columns", "volunteers_by_age_band_and_origin": "rows",
                 "outcomes_by_outcome_and_host_country": "rows",
                 "outcomes_of_this_node_by_outcome_and_host_country": "rows",
                 "skills_demanded_by_group_and_country": "both",
                 "skills_offered_by_group_and_country": "both"}


def read_csv(text: str) -> dict:
    """A table as the CSV gives it: None for anything that is not a count."""
    lines = list(csv.reader(io.StringIO(text)))
    header, *body, last = lines
    number = lambda v: int(v) if v.isdigit() else None
    assert last[0] == "total"
    return {"rows": [line[0] for line in body], "columns": header[1:-1],
            "cells": [[number(v) for v in line[1:-1]] for line in body], "row_totals": [number(line[-1]) for line in body],
            "column_totals": [number(v) for v in last[1:-1]], "total": number(last[-1]), "text": text}


def entries(table: dict):
    """(row, column, value) of every entry, totals as "total"."""
    for r, cells, total in zip(table["rows"], table["cells"], table["row_totals"]):
        yield from ((r, c, v) for c, v in zip(table["columns"], cells))
        yield r, "total", total
    yield from (("total", c, v) for c, v in zip(table["columns"], table["column_totals"]))
    yield "total", "total", table["total"]


def linked(name: str, r: str, c: str):
    """The figure an entry is, across tables (docs/reporting.md: what is published twice)."""
    if name == "placements_by_status_and_host_country":
        if c == "total":
            return (STATUS, r)
        if c == "??":
            return (NO_OPPORTUNITY, r)
    if name in ("placements_by_host_sector_and_status", "placements_by_host_kind_and_status"):
        if r == "total":
            return (STATUS, c)
        if r == "unknown":
            return (NO_OPPORTUNITY, c)
    return (name, r, c)


class Attacker:
    def __init__(self, threshold: int = THRESHOLD, *, hidden_at_least: int = 1):
        self.threshold, self.hidden_at_least = threshold, hidden_at_least
        self.published: dict = {}
        self.hidden: set = set()
        self.shown_and_hidden: set = set()  # one figure, published in one place and hidden in another
        self.equal: list[dict] = []  # Σ coefficient·figure = 0
        self.at_least: list[tuple[dict, float]] = []  # Σ coefficient·figure ≥ bound

    def read(self, name: str, table: dict, *, link=linked) -> None:
        key = lambda r, c: link(name, r, c)
        for r, c, v in entries(table):
            k = key(r, c)
            if v is None:
                self.hidden.add(k)
            elif k in self.published and self.published[k] != v:
                raise AssertionError(f"{k} published as {self.published[k]} and {v}")
            else:
                self.published[k] = v
        rows, columns = [*table["rows"], "total"], [*table["columns"], "total"]
        for r in rows:
            self.line([key(r, c) for c in table["columns"]], key(r, "total"))
        for c in columns:
            self.line([key(r, c) for r in table["rows"]], key("total", c))
        fixed = NOT_FROM_DATA.get(name)
        if fixed not in ("rows", "both"):
            for r in table["rows"]:
                self.at_least.append(({key(r, "total"): 1}, 1))
        if fixed not in ("columns", "both"):
            for c in table["columns"]:
                self.at_least.append(({key("total", c): 1}, 1))

    def line(self, members: list, total) -> None:
        terms: dict = {}
        for k in members:
            terms[k] = terms.get(k, 0) + 1
        terms[total] = terms.get(total, 0) - 1
        self.equal.append(terms)

    def bounds(self, whole: set = frozenset()) -> dict:
        """Every hidden figure: (lowest, highest) value consistent with all that was read, and for those
        in `whole` the highest in whole numbers as well (else None)."""
        self.shown_and_hidden = self.hidden & set(self.published)
        unknown = sorted(self.hidden - set(self.published), key=repr)
        constraints = [(terms, "=", 0) for terms in self.equal] + [(terms, ">=", bound) for terms, bound in self.at_least]
        parent = {k: k for k in unknown}  # figures tied by no constraint are bounded apart (smaller programs)

        def root(k):
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k
        for terms, _, _ in constraints:
            tied = [k for k in terms if k in parent]
            for k in tied[1:]:
                parent[root(k)] = root(tied[0])
        groups: dict = {}
        for k in unknown:
            groups.setdefault(root(k), []).append(k)
        found = {}
        for group in groups.values():
            found.update(self._bounds(group, [c for c in constraints if any(k in c[0] and root(k) == root(group[0])
                                                                               for k in c[0] if k in parent)], whole))
        return found

    def _bounds(self, unknown: list, constraints: list, whole: set) -> dict:
        index = {k: i for i, k in enumerate(unknown)}
        a_eq, b_eq, a_ub, b_ub = [], [], [], []
        for terms, kind, bound in constraints:
            a, constant = np.zeros(len(unknown)), 0.0
            for k, coefficient in terms.items():
                if k in index:
                    a[index[k]] += coefficient
                else:
                    constant += coefficient * self.published.get(k, 0)
            if not a.any():
                continue
            if kind == "=":
                a_eq.append(a)
                b_eq.append(-constant)
            else:
                a_ub.append(-a)
                b_ub.append(constant - bound)
        problem = {"A_eq": np.array(a_eq) if a_eq else None, "b_eq": np.array(b_eq) if b_eq else None,
                   "A_ub": np.array(a_ub) if a_ub else None, "b_ub": np.array(b_ub) if b_ub else None,
                   "bounds": (self.hidden_at_least, None), "method": "highs"}
        found = {}
        for k, i in index.items():
            objective = np.zeros(len(unknown))
            objective[i] = 1
            low = linprog(objective, **problem)
            if low.status == 2:  # what was read contradicts what the attacker assumed (a hidden zero, say)
                return {k: (np.nan, np.nan, None) for k in index}
            high = linprog(-objective, **problem)
            assert low.status in (0, 3) and high.status in (0, 3), (k, low.message, high.message)
            found[k] = (low.fun if low.status == 0 else -np.inf, -high.fun if high.status == 0 else np.inf, None)
            if k in whole and high.status == 0:  # a reader who knows counts are whole numbers
                constraints = [LinearConstraint(problem["A_eq"], problem["b_eq"], problem["b_eq"])] if a_eq else []
                constraints += [LinearConstraint(problem["A_ub"], -np.inf, problem["b_ub"])] if a_ub else []
                result = milp(-objective, constraints=constraints, integrality=np.ones(len(unknown)),
                              bounds=Bounds(self.hidden_at_least, np.inf))
                assert result.status == 0, (k, result.message)
                found[k] = (*found[k][:2], -result.fun)
        return found

    def breaches(self, truth: dict) -> list[str]:
        """What the reader learns of a count of 1 to threshold-1 people, or is shown wrongly."""
        found = []
        for k, v in self.published.items():
            if v != truth[k]:
                found.append(f"{k}: published {v}, is {truth[k]}")
            elif 0 < v < self.threshold:
                found.append(f"{k}: {v} published")
        small = {k for k in self.hidden if 0 < truth[k] < self.threshold}
        for k, (low, high, whole_high) in self.bounds(small).items():
            if np.isnan(low):
                found.append(f"{k}: no values fit what was published and what a reader is told to assume")
                break
            if not low - SLACK <= truth[k] <= high + SLACK:
                found.append(f"{k}: is {truth[k]}, outside [{low}, {high}]: a fact the attacker assumed is wrong")
            elif 0 < truth[k] < self.threshold and high < self.threshold - SLACK:
                found.append(f"{k}: is {truth[k]}, at most {high:.2f} to the attacker")
            elif whole_high is not None and whole_high < self.threshold - SLACK:
                found.append(f"{k}: is {truth[k]}, at most {whole_high:.0f} to the attacker in whole numbers")
        found += [f"{k}: hidden in one table, {self.published[k]} in another" for k in sorted(self.shown_and_hidden, key=repr)
                  if 0 < truth[k] < self.threshold]
        found += [f"{k}: a hidden zero" for k in sorted(self.hidden, key=repr) if truth[k] == 0]
        return found


def truth_of(name: str, table: dict, link=linked) -> dict:
    return {link(name, r, c): v for r, c, v in entries(table)}


# --- one table at a time ---------------------------------------------------------------------------------

def random_table(rnd: random.Random) -> tuple[list[str], list[str], dict]:
    """Small counts, every row and column non-empty (as in a table whose categories come from the data)."""
    while True:
        rows = [f"r{i}" for i in range(rnd.randint(1, 5))]
        columns = [f"c{j}" for j in range(rnd.randint(1, 5))]
        counts = {(r, c): rnd.choice([0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 12, 30]) for r in rows for c in columns}
        if all(any(counts[(r, c)] for c in columns) for r in rows) and all(any(counts[(r, c)] for r in rows) for c in columns):
            return rows, columns, counts


def test_the_attacker_learns_nothing_from_random_tables():
    rnd = random.Random(20261202)
    tried, breaches = 0, []
    for _ in range(TABLES):
        rows, columns, counts = random_table(rnd)
        published = suppress(counts, rows=rows, columns=columns, threshold=THRESHOLD).as_dict()
        truth = suppress(counts, rows=rows, columns=columns, threshold=1).as_dict()
        attacker = Attacker()
        table = read_csv(table_csv(published))
        assert table["cells"] == published["cells"] and table["total"] == published["total"]
        attacker.read("t", table)
        breaches += [(counts, b) for b in attacker.breaches(truth_of("t", truth))]
        tried += 1
    assert tried == TABLES and breaches == [], f"{len(breaches)} breaches, the first: {breaches[:3]}"


def test_two_hidden_ones_in_a_column_whose_total_is_published_with_the_other_cell():
    """The case an auditor found: withdrawn 1 (care), 1 (retail), 5 (it), total 7. The 5 and the 7 were
    published, so the two hidden cells (each at least 1) were 1 and 1."""
    rows, columns = ["care", "retail", "it"], ["withdrawn", "completed"]
    counts = {("care", "withdrawn"): 1, ("care", "completed"): 20, ("retail", "withdrawn"): 1, ("retail", "completed"): 30,
              ("it", "withdrawn"): 5, ("it", "completed"): 40}
    published = suppress(counts, rows=rows, columns=columns, threshold=THRESHOLD).as_dict()
    attacker = Attacker()
    attacker.read("t", read_csv(table_csv(published)))
    assert attacker.breaches(truth_of("t", suppress(counts, rows=rows, columns=columns, threshold=1).as_dict())) == []
    bounds = attacker.bounds()
    assert bounds[("t", "care", "withdrawn")][1] >= THRESHOLD and bounds[("t", "retail", "withdrawn")][1] >= THRESHOLD


def test_a_hidden_csv_cell_reads_as_the_marker():
    text = table_csv({"rows": ["completed", "withdrawn"], "columns": ["FR", "ES"], "cells": [[5, 20], [None, None]],
                      "row_totals": [25, None], "column_totals": [None, None], "total": 27})
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[2] == ["withdrawn", MARKER, MARKER, MARKER]
    assert lines[3] == ["total", MARKER, MARKER, "27"]
    assert "" not in [v for line in lines[1:] for v in line[1:]]  # nothing hidden reads as a blank (or as 0)


# --- whole indicators: the tables that share figures, and the single figures -------------------------------

SECTORS = ["care", "retail", "it_digital", "crafts", "hospitality", "administration", "accounting", "teaching_languages",
           "translation_mediation", "community_work", "agriculture", "other"]
STATUSES = ["proposed", "confirmed", "started", "completed", "withdrawn", "declined", "expired"]
COUNTRIES = ["FR", "ES", "IT", "DE", "PT", "GR"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def history(rnd: random.Random, *, placements_count: int, sectors: int, countries: int, volunteers_count: int,
            opportunities_count: int, outcomes_count: int, failures_count: int) -> dict[str, list[dict]]:
    """Rows of the projections, as the events would leave them."""
    uid = lambda: str(uuid.UUID(int=rnd.getrandbits(128)))
    skill = lambda: f"g{rnd.randrange(6)}.s{rnd.randrange(3)}"
    weights = [rnd.random() ** 2 + 0.02 for _ in STATUSES]
    roles = [{"opportunity_id": uid(), "host_country": rnd.choice(COUNTRIES[:countries]),
              "host_kind": rnd.choice(["ngo", "ngo", "business", "public_body"]), "host_sector": rnd.choice(SECTORS[:sectors]),
              "skills": sorted({skill() for _ in range(rnd.randint(1, 3))})} for _ in range(opportunities_count)]
    people = [{"volunteer_id": uid(), "registered_at": START + timedelta(days=rnd.randrange(400)),
               "country": rnd.choice(COUNTRIES[:countries]), "origin": rnd.choice(["SY", "AF", "UA", "ER"]),
               "age_band": rnd.choice(["18-24", "25-34", "35-44", "45-54", "55+", "unknown"]),
               "skills": sorted({skill() for _ in range(rnd.randint(0, 3))})} for _ in range(volunteers_count)]
    places = []
    for _ in range(placements_count):
        status = rnd.choices(STATUSES, weights)[0]
        volunteer = rnd.choice(people)
        confirmed = status in ("confirmed", "started", "completed", "withdrawn") and rnd.random() < 0.95
        places.append({"placement_id": uid(), "volunteer_id": volunteer["volunteer_id"] if rnd.random() < 0.95 else uid(),
                       "opportunity_id": rnd.choice(roles)["opportunity_id"] if rnd.random() < 0.93 else uid(),
                       "status": status, "status_rank": 0, "proposed_at": volunteer["registered_at"],
                       "confirmed_at": volunteer["registered_at"] + timedelta(days=rnd.randrange(1, 120)) if confirmed else None,
                       "hours": Decimal(rnd.randrange(1, 90)) if status in ("started", "completed", "withdrawn")
                       and rnd.random() < 0.8 else Decimal(0)})
    # Outcomes one by one: this node's own (fr), and those of two partners still on older code.
    ends = [{"outcome_id": uid(), "home_node": node, "home_country": node.upper(),
             "host_country": rnd.choice(COUNTRIES[:countries]), "host_sector": rnd.choice(SECTORS[:sectors]),
             "outcome": rnd.choice(["employed", "in_training", "none"]), "recorded_month": "2026-07"}
            for node in rnd.choices(["fr", "es", "it"], k=outcomes_count)]
    failures = [{"delivery_id": uid(), "channel": rnd.choice(["email", "webhook"]),
                 "kind": rnd.choice(["PlacementConfirmed", "PlacementProposed"])} for _ in range(failures_count)]
    return {"reporting_volunteers": people, "reporting_placements": places, "reporting_opportunities": roles,
            "reporting_outcome_records": ends, "reporting_notification_failures": failures}


def small_history(rnd: random.Random) -> dict[str, list[dict]]:
    return history(rnd, placements_count=rnd.randint(3, 60), sectors=rnd.randint(1, 4), countries=rnd.randint(1, 3),
                   volunteers_count=rnd.randint(1, 25), opportunities_count=rnd.randint(1, 8),
                   outcomes_count=rnd.randint(0, 15), failures_count=rnd.randint(0, 8))


def realistic_history(seed: int) -> dict[str, list[dict]]:
    """A busy node: ~2000 placements, 12 sectors, 6 host countries, 7 statuses."""
    return history(random.Random(seed), placements_count=2000, sectors=12, countries=6, volunteers_count=1500,
                   opportunities_count=300, outcomes_count=800, failures_count=60)


def attack(figures: dict, threshold: int = THRESHOLD, *, hidden_at_least: int = 1) -> Attacker:
    """Everything a node publishes, read as a reader would."""
    attacker = Attacker(threshold, hidden_at_least=hidden_at_least)
    tables = {name: t for name, t in figures.items() if isinstance(t, dict) and "cells" in t}
    for name, table in tables.items():
        text = table_csv(table)
        read = read_csv(text)
        for field in ("rows", "columns", "cells", "row_totals", "column_totals", "total"):
            assert read[field] == table[field], (name, field, text)  # the CSV says what the JSON says
        if name not in OPPORTUNITY_TABLES:
            attacker.read(name, read)
    # The skills demanded count opportunities, which every node broadcasts: all published, and known to
    # the reader anyway. The offered table lists the same groups and countries: a group or country is
    # listed if it is in either table, so where no opportunity asks for it, volunteers offer it.
    demanded = tables["skills_demanded_by_group_and_country"]
    assert None not in [v for _, _, v in entries(demanded)]
    for r, total in zip(demanded["rows"], demanded["row_totals"]):
        if total == 0:
            attacker.at_least.append(({("skills_offered_by_group_and_country", r, "total"): 1}, 1))
    for c, total in zip(demanded["columns"], demanded["column_totals"]):
        if total == 0:
            attacker.at_least.append(({("skills_offered_by_group_and_country", "total", c): 1}, 1))
    confirmed = (MONTHS, "total", "total")
    attacker.at_least.append(({(STATUS, "confirmed"): 1, (STATUS, "started"): 1, (STATUS, "withdrawn"): 1,
                               (STATUS, "completed"): 1, confirmed: -1}, 0))
    people = figures["days_from_registration_to_placement"]["people"]
    if people is not None:
        attacker.at_least.append(({confirmed: 1}, people))
    if figures["hours_volunteered"] is not None:
        attacker.at_least.append(({(STATUS, "started"): 1, (STATUS, "withdrawn"): 1, (STATUS, "completed"): 1}, threshold))
    completed, withdrawn = (STATUS, "completed"), (STATUS, "withdrawn")
    for rate, of in ((figures["completion_rate"], completed), (figures["withdrawal_rate"], withdrawn)):
        if rate is not None:  # rate - 0.0005 <= of / (completed + withdrawn) <= rate + 0.0005, and at least threshold ended
            low, high = rate - 0.0005, rate + 0.0005
            other = withdrawn if of == completed else completed
            attacker.at_least.append(({of: 1 - low, other: -low}, 0))
            attacker.at_least.append(({of: high - 1, other: high}, 0))
            attacker.at_least.append(({completed: 1, withdrawn: 1}, threshold))
    return attacker


def truth_of_all(figures: dict) -> dict:
    truth = {}
    for name, table in figures.items():
        if isinstance(table, dict) and "cells" in table:
            truth.update(truth_of(name, table))
    return truth


class Node:
    """An in-memory SQLite database holding the reporting projections."""

    def __init__(self):
        self.engine = create_async_engine("sqlite+aiosqlite://")
        self.sessions = async_sessionmaker(self.engine)

    async def __aenter__(self):
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return self

    async def __aexit__(self, *exc):
        await self.engine.dispose()

    async def holding(self, rows: dict[str, list[dict]]) -> None:
        async with self.engine.begin() as conn:
            for table in (*PROJECTIONS, outcome_records):
                await conn.execute(delete(table))
            for table in (volunteers, placements, opportunities, outcome_records, notification_failures):
                if rows[table.name]:
                    await conn.execute(table.insert(), rows[table.name])

    async def indicators(self, threshold: int) -> dict:
        async with self.sessions() as session:
            return await compute(session, threshold=threshold, node="fr")


async def test_the_attacker_learns_nothing_from_random_nodes():
    rnd = random.Random(4242)
    tried, breaches = 0, []
    async with Node() as node:
        for i in range(NODES):
            await node.holding(small_history(rnd))
            published, truth = await node.indicators(THRESHOLD), await node.indicators(1)
            breaches += [(i, b) for b in attack(published).breaches(truth_of_all(truth))]
            tried += 1
    assert tried == NODES and breaches == [], f"{len(breaches)} breaches, the first: {breaches[:5]}"


async def test_the_attacker_learns_nothing_from_a_busy_node():
    async with Node() as node:
        await node.holding(realistic_history(7))
        published, truth = await node.indicators(THRESHOLD), await node.indicators(1)
    assert attack(published).breaches(truth_of_all(truth)) == []
    status = published["placements_by_status_and_host_country"]
    assert status["total"] == 2000 and published["completion_rate"] is not None  # the headline figures survive


async def test_a_total_hidden_in_one_table_is_hidden_in_all():
    """Seven started (six in Spain, one in France), two withdrawn, two expired, all in care. Suppressed
    one table at a time, the host-kind table hid the 7 started that the host-country and host-sector
    tables published."""
    def placement(status, country, kind):
        return {"placement_id": str(uuid.uuid4()), "volunteer_id": None, "opportunity_id": f"{country}-{kind}", "status": status,
                "status_rank": 0, "proposed_at": START, "hours": Decimal(0),
                "confirmed_at": START + timedelta(days=3) if status in ("started", "withdrawn") else None}
    rows = {"reporting_volunteers": [], "reporting_outcome_records": [], "reporting_notification_failures": [],
            "reporting_opportunities": [{"opportunity_id": f"{country}-{kind}", "host_country": country, "host_kind": kind,
                                         "host_sector": "care", "skills": []}
                                        for country in ("ES", "FR") for kind in ("ngo", "public_body")],
            "reporting_placements": [*(placement("started", "ES", "ngo") for _ in range(6)), placement("started", "FR", "ngo"),
                                     *(placement("withdrawn", "ES", "public_body") for _ in range(2)),
                                     placement("expired", "FR", "ngo"), placement("expired", "ES", "ngo")]}
    async with Node() as node:
        await node.holding(rows)
        published, truth = await node.indicators(THRESHOLD), await node.indicators(1)
    attacker = attack(published)
    assert attacker.breaches(truth_of_all(truth)) == []
    assert not attacker.shown_and_hidden
    for status in STATUSES:
        shown = {published["placements_by_status_and_host_country"]["row_totals"][STATUSES.index(status)],
                 *(published[name]["column_totals"][STATUSES.index(status)]
                   for name in ("placements_by_host_sector_and_status", "placements_by_host_kind_and_status"))}
        assert len(shown) == 1, (status, shown)


def test_the_attacker_learns_nothing_from_the_corridors_outcomes():
    """The corridor-wide outcomes: each node's figures suppressed on their own (as each node
    publishes them), then added up entry by entry, hidden where any node's entry is hidden."""
    rnd = random.Random(20261203)
    name = "outcomes_by_outcome_and_host_country"
    breaches, hidden = [], 0
    for _ in range(60):
        parts, truths = [], []
        for _node in range(rnd.randint(1, 4)):
            countries = rnd.sample(COUNTRIES, rnd.randint(1, 4))
            counts = Counter({(o, c): rnd.choice([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 9, 14])
                              for o in OUTCOMES[:4] for c in countries})
            parts.append(suppressed(counts, threshold=THRESHOLD))
            truths.append(suppressed(counts, threshold=1))
        published, truth = corridor_table(parts, threshold=THRESHOLD), corridor_table(truths, threshold=1)
        attacker = Attacker()
        attacker.read(name, read_csv(table_csv(published)))
        breaches += attacker.breaches(truth_of(name, truth))
        hidden += len(attacker.hidden)
    assert breaches == [], breaches[:5]
    assert hidden > 100  # the histories have small counts to hide
