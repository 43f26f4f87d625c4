"""One matching round: every eligible pair scored, then one global optimum over volunteers and slots.

Candidates are not found by an all-pairs Python loop. The volunteers are held as arrays (language
ranks, skill incidence as a sparse matrix, place codes, dates, consents); for each opportunity the
hard constraints are one boolean mask and the score one vector, computed in numpy, with each
required skill's credit vector computed once per round through the taxonomy. Each opportunity keeps
its best few candidates per free slot; the slots are expanded and the assignment that maximises the
total score is found with scipy's sparse minimum-weight full bipartite matching, where every
volunteer also has a private "no proposal" column, so leaving her out is always possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from corridor_contracts.values import MatchSummary

from .rules import HostRules
from .scoring import WAITING_FULL_CREDIT_DAYS, WEIGHTS, Opportunity, Volunteer, score, violations
from .taxonomy import Taxonomy

CANDIDATES_PER_SLOT = 4
EXTRA_CANDIDATES = 8


@dataclass(frozen=True)
class Proposal:
    volunteer: Volunteer
    opportunity: Opportunity
    match: MatchSummary


class _Codes:
    """Small integer codes for strings (casefolded), -1 for none."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def __call__(self, text: str | None) -> int:
        if not text:
            return -1
        return self._codes.setdefault(text.casefold(), len(self._codes))

    def get(self, text: str | None) -> int:
        return self._codes.get(text.casefold(), -2) if text else -1


class Pool:
    """The round's volunteers as arrays, and the vectorised form of scoring.violations and scoring.score."""

    def __init__(self, volunteers: Sequence[Volunteer], *, taxonomy: Taxonomy, today: date) -> None:
        self.volunteers = list(volunteers)
        self.taxonomy = taxonomy
        self.today = today
        n = len(self.volunteers)
        self.languages = sorted({lang for v in self.volunteers for lang in v.languages})
        lang_index = {lang: i for i, lang in enumerate(self.languages)}
        self.rank = np.full((n, max(1, len(self.languages))), -1, dtype=np.int8)
        self.countries, self.places = _Codes(), _Codes()
        self.country = np.empty(n, dtype=np.int32)
        self.region = np.empty(n, dtype=np.int32)
        self.city = np.empty(n, dtype=np.int32)
        self.hours = np.empty(n, dtype=np.int32)
        self.available_from = np.empty(n, dtype=np.int64)
        self.available_until = np.empty(n, dtype=np.int64)
        self.willing = np.empty(n, dtype=bool)
        self.remote_only = np.empty(n, dtype=bool)
        self.shares = np.empty(n, dtype=bool)
        self.waiting = np.empty(n, dtype=np.float64)
        self.sectors: dict[str, np.ndarray] = {}
        self.no_sector = np.empty(n, dtype=bool)
        skill_index = {code: i for i, code in enumerate(sorted(taxonomy.skills))}
        rows, cols = [], []
        for i, v in enumerate(self.volunteers):
            for lang, r in v.languages.items():
                self.rank[i, lang_index[lang]] = r
            self.country[i] = self.countries(v.country)
            self.region[i] = self.places(v.region)
            self.city[i] = self.places(v.city)
            self.hours[i] = v.hours_per_week
            self.available_from[i] = v.available_from.toordinal()
            self.available_until[i] = (v.available_until or date.max).toordinal()
            self.willing[i] = v.willing_to_move
            self.remote_only[i] = v.remote_only
            self.shares[i] = v.shares_profile
            waited = (today - v.waiting_since).days if v.waiting_since else 0
            self.waiting[i] = max(0.0, min(1.0, waited / WAITING_FULL_CREDIT_DAYS))
            self.no_sector[i] = not v.sectors
            for sector in v.sectors:
                self.sectors.setdefault(sector, np.zeros(n, dtype=bool))[i] = True
            for code in v.skills:
                if code in skill_index:
                    rows.append(i)
                    cols.append(skill_index[code])
        self.held = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(skill_index)))
        self._skill_index = skill_index
        self._credit: dict[str, np.ndarray] = {}

    def credit(self, code: str) -> np.ndarray:
        """Every volunteer's credit toward one required skill (as Taxonomy.credit), computed once."""
        if code not in self._credit:
            def holds(codes) -> np.ndarray:
                indicator = np.zeros(len(self._skill_index), dtype=np.float32)
                indicator[[self._skill_index[c] for c in codes if c in self._skill_index]] = 1.0
                return np.asarray(self.held @ indicator).ravel() > 0

            t = self.taxonomy
            siblings = {s for p in t.skills[code].broader for s in t.narrower[p]} if code in t.skills else set()
            exact = holds({code} | t.descendants(code))
            self._credit[code] = np.where(exact, 1.0, np.where(holds(t.ancestors(code)), 0.5,
                                                                np.where(holds(siblings), 0.3, 0.0)))
        return self._credit[code]

    def _ranks(self, language: str) -> np.ndarray:
        if language not in self.languages:
            return np.full(len(self.volunteers), -1, dtype=np.int8)
        return self.rank[:, self.languages.index(language)]

    def evaluate(self, o: Opportunity, *, home_node: str, rules: HostRules) -> tuple[np.ndarray, np.ndarray]:
        """(eligible mask, scores) of every volunteer for one opportunity."""
        n = len(self.volunteers)
        if (o.slots_free <= 0 or not rules.may_host(o.host_country, o.host_kind)
                or (o.application_deadline is not None and o.application_deadline < self.today)):
            return np.zeros(n, dtype=bool), np.zeros(n)
        ok = self.hours >= o.hours_per_week
        ok &= self.available_from <= (o.ends_on or date.max).toordinal()
        ok &= self.available_until >= o.starts_on.toordinal()
        for language, minimum in o.languages.items():
            ok &= self._ranks(language) >= minimum
        if o.host_node != home_node:
            ok &= self.shares
        same_country = self.country == self.countries.get(o.country)
        same_city = same_country & (self.city == self.places.get(o.city)) if o.city else np.zeros(n, dtype=bool)
        same_region = same_country & (self.region == self.places.get(o.region)) if o.region else np.zeros(n, dtype=bool)
        if not o.remote:
            area = same_city | same_region | (same_country if not (o.city or o.region) else False)
            ok &= ~self.remote_only & (self.willing | area)

        if o.skills:
            total = sum(1.0 if r.essential else 0.5 for r in o.skills)
            skills = sum(self.credit(r.code) * (1.0 if r.essential else 0.5) for r in o.skills) / total
        else:
            skills = 0.5
        if o.languages:
            margins = [np.minimum(1.0, 0.6 + 0.2 * (self._ranks(lang).astype(np.float64) - minimum))
                       for lang, minimum in o.languages.items()]
            languages = sum(margins) / len(margins)
        else:
            languages = 0.5
        if o.remote:
            place = 0.9
        else:
            place = np.where(same_city, 1.0, np.where(same_region, 0.8, np.where(same_country, 0.6, 0.3)))
        in_sector = self.sectors.get(o.host_sector, np.zeros(n, dtype=bool))
        preference = np.where(self.no_sector, 0.5, np.where(in_sector, 1.0, 0.0))
        total_score = (WEIGHTS["skills"] * skills + WEIGHTS["languages"] * languages + WEIGHTS["place"] * place
                       + WEIGHTS["preference"] * preference + WEIGHTS["waiting"] * self.waiting)
        return ok, np.round(np.minimum(1.0, total_score), 6)


def plan_round(volunteers: Sequence[Volunteer], opportunities: Sequence[Opportunity], *, home_node: str, today: date,
               taxonomy: Taxonomy, rules: HostRules, excluded: frozenset[tuple[str, str]] = frozenset()) -> list[Proposal]:
    """The proposals of one round: at most one per volunteer, at most `slots_free` per opportunity,
    maximising the total score. `excluded` holds (volunteer_id, opportunity_id) pairs never to propose
    again (declined by her or by the host)."""
    if not volunteers or not opportunities:
        return []
    pool = Pool(volunteers, taxonomy=taxonomy, today=today)
    position = {v.volunteer_id: i for i, v in enumerate(pool.volunteers)}
    edges: list[tuple[int, int, float]] = []  # (volunteer, opportunity, score)
    for j, o in enumerate(opportunities):
        eligible, scores = pool.evaluate(o, home_node=home_node, rules=rules)
        for volunteer_id, opportunity_id in excluded:
            if opportunity_id == o.opportunity_id and volunteer_id in position:
                eligible[position[volunteer_id]] = False
        candidates = np.flatnonzero(eligible)
        keep = min(len(candidates), o.slots_free * CANDIDATES_PER_SLOT + EXTRA_CANDIDATES)
        if keep < len(candidates):
            candidates = candidates[np.argpartition(-scores[candidates], keep - 1)[:keep]]
        edges.extend((int(i), j, float(scores[i])) for i in candidates)
    chosen = solve(edges, [o.slots_free for o in opportunities])
    return [Proposal(pool.volunteers[i], opportunities[j],
                     score(pool.volunteers[i], opportunities[j], taxonomy=taxonomy, today=today)) for i, j in chosen]


def solve(edges: list[tuple[int, int, float]], slots: Sequence[int]) -> list[tuple[int, int]]:
    """The (volunteer, opportunity) pairs of a maximum-total-score assignment of volunteers to slots."""
    if not edges:
        return []
    rows = sorted({i for i, _, _ in edges})
    row_of = {i: r for r, i in enumerate(rows)}
    candidates_of: dict[int, int] = {}
    for _, j, _ in edges:
        candidates_of[j] = candidates_of.get(j, 0) + 1
    first_column, opportunity_of = {}, []
    for j in sorted(candidates_of):  # expand each opportunity into as many columns as it can fill
        first_column[j] = len(opportunity_of)
        opportunity_of.extend([j] * min(slots[j], candidates_of[j]))
    slot_columns = len(opportunity_of)
    r_idx, c_idx, weights = [], [], []
    for i, j, s in edges:
        for k in range(min(slots[j], candidates_of[j])):
            r_idx.append(row_of[i])
            c_idx.append(first_column[j] + k)
            weights.append(2.0 - s)  # minimise Σ(2 - score) = maximise Σ score; all weights > 0
    for r in range(len(rows)):  # her private "no proposal this round" column, worth a score of 0
        r_idx.append(r)
        c_idx.append(slot_columns + r)
        weights.append(2.0)
    graph = csr_matrix((weights, (r_idx, c_idx)), shape=(len(rows), slot_columns + len(rows)))
    matched_rows, matched_columns = min_weight_full_bipartite_matching(graph)
    return sorted((rows[r], opportunity_of[c]) for r, c in zip(matched_rows, matched_columns) if c < slot_columns)


def all_pairs_round(volunteers: Sequence[Volunteer], opportunities: Sequence[Opportunity], *, home_node: str,
                    today: date, taxonomy: Taxonomy, rules: HostRules) -> list[Proposal]:
    """The straightforward way, kept as the benchmark's baseline: every pair checked and scored in Python."""
    edges = []
    for i, v in enumerate(volunteers):
        for j, o in enumerate(opportunities):
            if not violations(v, o, home_node=home_node, today=today, rules=rules):
                edges.append((i, j, score(v, o, taxonomy=taxonomy, today=today).score))
    chosen = solve(edges, [o.slots_free for o in opportunities])
    return [Proposal(volunteers[i], opportunities[j], score(volunteers[i], opportunities[j], taxonomy=taxonomy, today=today))
            for i, j in chosen]
