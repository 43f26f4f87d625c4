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

from .rules import HostRules
from .scoring import WAITING_FULL_CREDIT_DAYS, WEIGHTS, Match, Opportunity, Volunteer, score, violations
from .taxonomy import Taxonomy

CANDIDATES_PER_SLOT = 4
EXTRA_CANDIDATES = 8
GROUP_CHUNK = 256  # opportunities scored together as one matrix (bounds its memory)


@dataclass(frozen=True)
class Proposal:
    volunteer: Volunteer
    opportunity: Opportunity
    match: Match


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
        self.sector_ids = {sector: k for k, sector in enumerate(sorted(self.sectors))}
        self.sector_matrix = np.zeros((max(1, len(self.sector_ids)), n), dtype=bool)
        for sector, k in self.sector_ids.items():
            self.sector_matrix[k] = self.sectors[sector]
        self.held = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(skill_index)))
        self._skill_index = skill_index
        self._credit: dict[str, np.ndarray] = {}
        self._reachable_by: dict[int | None, np.ndarray] = {}
        self._language_fits: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

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

    def _ranks(self, language: str, idx: np.ndarray) -> np.ndarray:
        if language not in self.languages:
            return np.full(len(idx), -1, dtype=np.int8)
        return self.rank[idx, self.languages.index(language)]

    def _reachable(self, o: Opportunity) -> np.ndarray:
        """The index of who could go there at all: anyone for a remote role, else those in its
        country or willing to move (never those who work remotely only)."""
        key = None if o.remote else self.countries.get(o.country)
        if key not in self._reachable_by:
            if o.remote:
                self._reachable_by[key] = np.arange(len(self.volunteers))
            else:
                self._reachable_by[key] = np.flatnonzero(((self.country == key) | self.willing) & ~self.remote_only)
        return self._reachable_by[key]

    @staticmethod
    def _fit_key(o: Opportunity, cross_border: bool) -> tuple:
        return (o.remote, None if o.remote else o.country, tuple(sorted(o.languages.items())), cross_border)

    def _language_fit(self, o: Opportunity, *, cross_border: bool) -> tuple[np.ndarray, np.ndarray]:
        """Who can go there and speaks its languages well enough, with their language fit: the
        same for every opportunity that asks the same languages in the same place, so kept."""
        key = self._fit_key(o, cross_border)
        if key not in self._language_fits:
            idx = self._reachable(o)
            for language, minimum in o.languages.items():  # the most selective filters first, on the index
                idx = idx[self._ranks(language, idx) >= minimum]
            if cross_border:
                idx = idx[self.shares[idx]]
            fit = np.zeros(len(idx))
            if o.languages:
                fit = sum(np.minimum(1.0, 0.6 + 0.2 * (self._ranks(lang, idx).astype(np.float64) - minimum))
                          for lang, minimum in o.languages.items()) / len(o.languages)
            self._language_fits[key] = (idx, fit)
        return self._language_fits[key]

    def evaluate(self, o: Opportunity, *, home_node: str, rules: HostRules) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the eligible volunteers, their scores) for one opportunity."""
        return self.evaluate_many([o], home_node=home_node, rules=rules)[0]

    def evaluate_many(self, opportunities: Sequence[Opportunity], *, home_node: str,
                      rules: HostRules) -> list[tuple[np.ndarray, np.ndarray]]:
        """evaluate() for many opportunities at once: those that ask the same languages in the same
        place share their candidate index and are scored together as one matrix."""
        nothing = np.zeros(0, dtype=np.int64), np.zeros(0)
        results: list[tuple[np.ndarray, np.ndarray]] = [nothing] * len(opportunities)
        groups: dict[tuple, list[int]] = {}
        for k, o in enumerate(opportunities):
            if (o.slots_free <= 0 or not rules.may_host(o.host_country, o.host_kind)
                    or (o.application_deadline is not None and o.application_deadline < self.today)):
                continue
            cross_border = o.host_node != home_node
            groups.setdefault(self._fit_key(o, cross_border), []).append(k)
        codes = sorted({r.code for o in opportunities for r in o.skills})
        self._code_row = {code: k for k, code in enumerate(codes)}
        self._credit_matrix = np.stack([self.credit(code) for code in codes]) if codes else np.zeros((1, len(self.volunteers)))
        for members in groups.values():
            first = opportunities[members[0]]
            idx, fit = self._language_fit(first, cross_border=first.host_node != home_node)
            if not len(idx):
                continue
            for start in range(0, len(members), GROUP_CHUNK):
                chunk = members[start:start + GROUP_CHUNK]
                scores, ok = self._score_matrix([opportunities[k] for k in chunk], idx, fit)
                for row, k in enumerate(chunk):
                    keep = np.flatnonzero(ok[row])
                    results[k] = (idx[keep], scores[row, keep])
        return results

    def _score_matrix(self, os: list[Opportunity], idx: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (opportunities × candidates) and the hard constraints left after the index."""
        column = lambda values, dtype=None: np.array(values, dtype=dtype)[:, None]  # noqa: E731
        ok = self.hours[idx][None, :] >= column([o.hours_per_week for o in os])
        ok &= self.available_from[idx][None, :] <= column([(o.ends_on or date.max).toordinal() for o in os])
        ok &= self.available_until[idx][None, :] >= column([o.starts_on.toordinal() for o in os])

        remote = column([o.remote for o in os], bool)
        has_city = column([bool(o.city) for o in os], bool)
        has_region = column([bool(o.region) for o in os], bool)
        same_country = self.country[idx][None, :] == column([self.countries.get(o.country) for o in os])
        same_city = same_country & has_city & (self.city[idx][None, :] == column([self.places.get(o.city) for o in os]))
        same_region = same_country & has_region & (
            self.region[idx][None, :] == column([self.places.get(o.region) for o in os]))
        area = same_city | same_region | (same_country & ~(has_city | has_region))
        ok &= remote | self.willing[idx][None, :] | area
        # 1.0 same city, 0.8 same region, 0.6 same country, 0.3 elsewhere (willing to move), 0.9 remote
        place = 0.3 + 0.3 * same_country + 0.2 * (same_region & ~same_city) + 0.4 * same_city
        place[remote.ravel()] = 0.9

        # Skills: a sparse matrix of each opportunity's requirement weights times every volunteer's
        # credit toward each required code (computed once per round), then the candidates' columns.
        rows, cols, values = [], [], []
        for row, o in enumerate(os):
            if not o.trains_newcomers:  # each essential skill hers, or linked to hers (scoring.violations)
                for r in o.skills:
                    if r.essential:
                        ok[row] &= self._credit_matrix[self._code_row[r.code], idx] > 0
            total = sum(1.0 if r.essential else 0.5 for r in o.skills)
            for r in o.skills:
                rows.append(row)
                cols.append(self._code_row[r.code])
                values.append((1.0 if r.essential else 0.5) / total)
        if values:
            used, local = np.unique(cols, return_inverse=True)
            weights = csr_matrix((values, (rows, local)), shape=(len(os), len(used)))
            skills = np.ascontiguousarray(weights @ self._credit_matrix[used][:, idx])
        else:
            skills = np.zeros((len(os), len(idx)))
        skills += column([0.0 if o.skills else 0.5 for o in os])
        in_sector = self.sector_matrix[:, idx][column([self.sector_ids.get(o.host_sector, 0) for o in os]).ravel()]
        in_sector &= column([o.host_sector in self.sector_ids for o in os], bool)
        preference = np.where(self.no_sector[idx][None, :], 0.5, np.where(in_sector, 1.0, 0.0))
        languages = column([bool(o.languages) for o in os], bool)
        language_fit = np.where(languages, fit[None, :], 0.5)
        total_score = (WEIGHTS["skills"] * skills + WEIGHTS["languages"] * language_fit + WEIGHTS["place"] * place
                       + WEIGHTS["preference"] * preference + WEIGHTS["waiting"] * self.waiting[idx][None, :])
        return np.round(np.minimum(1.0, total_score), 6), ok


def plan_round(volunteers: Sequence[Volunteer], opportunities: Sequence[Opportunity], *, home_node: str, today: date,
               taxonomy: Taxonomy, rules: HostRules, excluded: frozenset[tuple[str, str]] = frozenset()) -> list[Proposal]:
    """The proposals of one round: at most one per volunteer, at most `slots_free` per opportunity,
    maximising the total score. `excluded` holds (volunteer_id, opportunity_id) pairs never to propose
    again (declined by her or by the host)."""
    if not volunteers or not opportunities:
        return []
    pool = Pool(volunteers, taxonomy=taxonomy, today=today)
    position = {v.volunteer_id: i for i, v in enumerate(pool.volunteers)}
    excluded_for: dict[str, list[int]] = {}
    for volunteer_id, opportunity_id in excluded:
        if volunteer_id in position:
            excluded_for.setdefault(opportunity_id, []).append(position[volunteer_id])
    candidates: list[tuple[int, np.ndarray, np.ndarray]] = []  # (opportunity, volunteers, scores)
    evaluated = pool.evaluate_many(opportunities, home_node=home_node, rules=rules)
    for j, (o, (idx, scores)) in enumerate(zip(opportunities, evaluated)):
        if o.opportunity_id in excluded_for:
            keep = ~np.isin(idx, excluded_for[o.opportunity_id])
            idx, scores = idx[keep], scores[keep]
        limit = o.slots_free * CANDIDATES_PER_SLOT + EXTRA_CANDIDATES
        if len(idx) > limit:
            best = np.argpartition(-scores, limit - 1)[:limit]
            idx, scores = idx[best], scores[best]
        if len(idx):
            candidates.append((j, idx, scores))
    chosen = solve(candidates, [o.slots_free for o in opportunities])
    return [Proposal(pool.volunteers[i], opportunities[j],
                     score(pool.volunteers[i], opportunities[j], taxonomy=taxonomy, today=today)) for i, j in chosen]


def solve(candidates: list[tuple[int, np.ndarray, np.ndarray]], slots: Sequence[int]) -> list[tuple[int, int]]:
    """The (volunteer, opportunity) pairs of a maximum-total-score assignment of volunteers to slots.

    Each opportunity becomes as many columns as it can fill; each volunteer also gets a private
    column meaning "no proposal this round". Weights are 2 - score (all positive), so the minimum
    weight full matching of the volunteers is the maximum total score.
    """
    if not candidates:
        return []
    rows_parts, cols_parts, weight_parts, column_opportunity = [], [], [], []
    next_column = 0
    for j, idx, scores in candidates:
        copies = min(slots[j], len(idx))
        column_opportunity.append(np.full(copies, j))
        next_column += copies
        rows_parts.append(np.repeat(idx, copies))
        cols_parts.append(next_column - copies + np.arange(len(idx) * copies) % copies)
        weight_parts.append(np.repeat(2.0 - scores, copies))
    volunteers, rows = np.unique(np.concatenate(rows_parts), return_inverse=True)
    n_rows, slot_columns = len(volunteers), next_column
    rows = np.concatenate([rows, np.arange(n_rows)])
    cols = np.concatenate([*cols_parts, slot_columns + np.arange(n_rows)])
    weights = np.concatenate([*weight_parts, np.full(n_rows, 2.0)])
    graph = csr_matrix((weights, (rows, cols)), shape=(n_rows, slot_columns + n_rows))
    matched_rows, matched_columns = min_weight_full_bipartite_matching(graph)
    opportunity_of = np.concatenate(column_opportunity)
    return sorted((int(volunteers[r]), int(opportunity_of[c])) for r, c in zip(matched_rows, matched_columns)
                  if c < slot_columns)


def all_pairs_round(volunteers: Sequence[Volunteer], opportunities: Sequence[Opportunity], *, home_node: str,
                    today: date, taxonomy: Taxonomy, rules: HostRules) -> list[Proposal]:
    """The straightforward way, kept as the benchmark's baseline: every pair checked and scored in Python."""
    candidates = []
    for j, o in enumerate(opportunities):
        eligible = [(i, score(v, o, taxonomy=taxonomy, today=today).score) for i, v in enumerate(volunteers)
                    if not violations(v, o, home_node=home_node, today=today, rules=rules, taxonomy=taxonomy)]
        if eligible:
            candidates.append((j, np.array([i for i, _ in eligible]), np.array([s for _, s in eligible])))
    chosen = solve(candidates, [o.slots_free for o in opportunities])
    return [Proposal(volunteers[i], opportunities[j], score(volunteers[i], opportunities[j], taxonomy=taxonomy, today=today))
            for i, j in chosen]
