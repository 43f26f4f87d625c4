"""Small-count suppression for every figure published corridor-wide or exported (docs/reporting.md).

What a reader is assumed to know
--------------------------------
The reader has everything the node publishes (every table, as JSON or CSV, and every single figure)
and this code. So the reader knows:

- every sum: a table is published with its row, column and grand totals;
- which entries are one figure in several tables (`Grid.shared`: the placements' per-status totals
  and their grand total are in three tables), and any other fact that holds by construction
  (`Bound`: placements confirmed are among those confirmed, started, withdrawn or completed;
  published hours are over at least `threshold` placements);
- that a category (row or column) listed because it occurs in the data is non-empty;
- that **a hidden count is never zero**: zeros describe nobody and are always published, so every
  hidden count is at least 1 (which makes every listed category non-empty, too).

What is guaranteed
------------------
Nothing of 1 to threshold-1 people is published. For every hidden count of 1 to threshold-1 (a
*primary* one), the values consistent with all the reader knows, every hidden count at least 1,
include one of at least `threshold`: the largest value a linear program over the linked tables gives
it is `threshold` or more, so the reader cannot tell that the count is small. An entry that is one
figure in several tables is one unknown here: hidden in all of them or in none.

How
---
1. primary suppression hides every count (cell or total) of 1 to threshold-1;
2. in every row or column (a *line*: its members sum to its total), if exactly one entry is hidden,
   or if the published total leaves the hidden members too little room (each is at least 1, so one
   of them is at most the rest of the total minus one per other hidden member), one more entry is
   hidden: the smallest non-zero published one, a cell before a total;
3. an audit maximises each primary count by linear programming over all the lines, shared entries
   and facts of the linked tables at once, every hidden entry at least 1. Below the threshold, the
   dual of that program says which published entries bound the maximum, and which facts: a single
   figure whose fact binds it is withheld (a median, a sum of hours: worth less than a count of
   the tables and all that hiding it would take), else the first of those entries (smallest
   first, cells before totals) that, hidden with what step 2 then hides, raises the maximum is
   hidden. Steps 2 and 3 repeat until every primary count is safe;
4. then each withheld figure, each hidden total (largest first) and each hidden cell not primary is
   published again, with what it then determines (a cell of a one-column table and its row total),
   if no primary count is among those and every primary count stays safe without them: what was
   hidden early may no longer be needed once later entries are hidden.

Hiding more only widens what a reader can infer, so a count found safe stays safe, and each round
hides one more entry. It ends, and safely: with every non-zero entry hidden and every figure
withheld, only zeros are published, and the values of the hidden entries scaled up by any factor
are consistent with them (every line is a sum, every fact a sum at least a number ≥ 0). Same input,
same output: no randomness, ties broken by the order of the grids, rows and columns.

Limits: the reader here is a linear program, over real values. A reader reasoning on whole numbers
can narrow a range further: the attacker test tries that too (integer programs) and has found no
count it could bound below the threshold, but that is not proved. A rounded rate would let it (a
ratio of small whole numbers): the indicators publish rates only with both their counts. That a
single figure (a median, the hours) is withheld tells that it was computed over fewer than
`threshold` people, or would have given a count away.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_THRESHOLD = 5
TOTAL = "__total__"
_TRIES = 4  # candidates tried, by linear programming, before hiding one the dual suggests
_EPSILON = 1e-7  # linear programs are solved in floating point: a maximum within this of the threshold is short of it


@dataclass(frozen=True)
class PublishedTable:
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], int | None]  # None = suppressed
    row_totals: dict[str, int | None]
    column_totals: dict[str, int | None]
    total: int | None
    threshold: int

    def as_dict(self) -> dict:
        return {
            "rows": self.rows, "columns": self.columns, "threshold": self.threshold,
            "cells": [[self.cells[(r, c)] for c in self.columns] for r in self.rows],
            "row_totals": [self.row_totals[r] for r in self.rows],
            "column_totals": [self.column_totals[c] for c in self.columns],
            "total": self.total,
        }


@dataclass(frozen=True)
class Grid:
    """A table to publish: counts by (row, column), published with its row, column and grand totals.

    `shared` names the entries that are one figure with an entry of another grid, or that a `Bound`
    speaks of: (row, column) → key, where row or column may be TOTAL. Any other entry's key is
    (grid name, row, column)."""

    counts: Mapping[tuple[str, str], int]
    rows: Sequence[str]
    columns: Sequence[str]
    shared: Mapping[tuple[str, str], Hashable] = field(default_factory=dict)


@dataclass(frozen=True)
class Bound:
    """A fact a reader knows besides the sums: Σ coefficient × entry ≥ at_least (entries by key)."""

    terms: Mapping[Hashable, float]
    at_least: float = 0.0


class _Line:
    """A row or column: its members sum to its total."""

    def __init__(self, members: list, total: Hashable):
        self.members, self.total = members, total
        self.entries = [*members, total]
        found: dict = {}
        for key in members:
            found[key] = found.get(key, 0) + 1
        found[total] = found.get(total, 0) - 1
        self.coefficients = {k: v for k, v in found.items() if v}


@dataclass(frozen=True)
class _Program:
    index: dict  # hidden entry → its column
    a_eq: np.ndarray | None
    b_eq: np.ndarray | None
    a_ub: np.ndarray | None
    b_ub: np.ndarray | None
    lines: list  # the line of each row of a_eq
    bounds: list  # the (bound, figure) of each row of a_ub


def suppress(counts: dict[tuple[str, str], int], *, rows: list[str], columns: list[str],
             threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    """One table that shares nothing with another."""
    tables, _ = suppress_linked({"table": Grid(counts, rows, columns)}, threshold=threshold)
    return tables["table"]


def suppress_linked(grids: Mapping[str, Grid], *, facts: Sequence[Bound] = (),
                    figures: Mapping[str, Sequence[Bound]] | None = None,
                    threshold: int = DEFAULT_THRESHOLD) -> tuple[dict[str, PublishedTable], set[str]]:
    """Tables that share figures, suppressed together.

    `facts` always hold; `figures` are single figures to publish with the tables (the days to
    placement, the hours), each with what it tells about the entries. Returns the published tables,
    and the names of the figures to withhold."""
    problem = _Problem(grids, facts, figures or {}, threshold)
    hidden, withheld = problem.solve()
    published = {}
    for name, grid in grids.items():
        rows, columns = list(grid.rows), list(grid.columns)
        shown = {}
        for r in [*rows, TOTAL]:
            for c in [*columns, TOTAL]:
                key = problem.key(name, grid, r, c)
                shown[(r, c)] = None if key in hidden else problem.value[key]
        published[name] = PublishedTable(
            rows=rows, columns=columns, threshold=threshold,
            cells={(r, c): shown[(r, c)] for r in rows for c in columns},
            row_totals={r: shown[(r, TOTAL)] for r in rows},
            column_totals={c: shown[(TOTAL, c)] for c in columns},
            total=shown[(TOTAL, TOTAL)],
        )
    return published, withheld


def suppress_figure(value: int | float | None, people: int, *, threshold: int = DEFAULT_THRESHOLD):
    """A single figure (a median, a rate) computed over `people`: published only if they are enough."""
    return value if people >= threshold else None


class _Problem:
    def __init__(self, grids: Mapping[str, Grid], facts: Sequence[Bound], figures: Mapping[str, Sequence[Bound]],
                 threshold: int):
        self.threshold = threshold
        self.value: dict = {}
        self.order: dict = {}  # ties are broken by the order of grids, rows and columns
        self.margins: set = set()  # entries that are the total of a line
        seen: dict = {}
        self.lines: list[_Line] = []
        for name, grid in grids.items():
            rows, columns = list(grid.rows), list(grid.columns)
            value = {(r, c): int(grid.counts.get((r, c), 0)) for r in rows for c in columns}
            for r in rows:
                value[(r, TOTAL)] = sum(value[(r, c)] for c in columns)
            for c in columns:
                value[(TOTAL, c)] = sum(value[(r, c)] for r in rows)
            value[(TOTAL, TOTAL)] = sum(value[(r, TOTAL)] for r in rows)
            for (r, c), v in value.items():
                key = self.key(name, grid, r, c)
                if self.value.setdefault(key, v) != v:
                    raise ValueError(f"{key!r} is {self.value[key]} in one table and {v} in {name}")
                self.order.setdefault(key, len(self.order))
            at = {(r, c): self.key(name, grid, r, c) for r in [*rows, TOTAL] for c in [*columns, TOTAL]}
            lines = [_Line([at[(r, c)] for c in columns], at[(r, TOTAL)]) for r in [*rows, TOTAL]]
            lines += [_Line([at[(r, c)] for r in rows], at[(TOTAL, c)]) for c in [*columns, TOTAL]]
            for line in lines:
                signature = frozenset(line.coefficients.items())
                if signature and signature not in seen:
                    seen[signature] = line
                    self.lines.append(line)
                    self.margins.add(line.total)
        self.bounds: list[tuple[Bound, str | None]] = [(b, None) for b in facts]
        self.bounds += [(b, name) for name in sorted(figures) for b in figures[name]]
        for bound, _ in self.bounds:
            unknown = [k for k in bound.terms if k not in self.value]
            if unknown:
                raise ValueError(f"a bound speaks of {unknown!r}, in no table")
            if bound.at_least < 0:  # scaled up, the hidden values must stay consistent (see How)
                raise ValueError(f"a bound at least {bound.at_least}: only bounds at least 0 are supported")
        self.primary = {k for k, v in self.value.items() if 0 < v < threshold}
        self.lines_of: dict = {}
        for line in self.lines:
            for key in line.entries:
                self.lines_of.setdefault(key, []).append(line)

    @staticmethod
    def key(name: str, grid: Grid, r: str, c: str) -> Hashable:
        return grid.shared.get((r, c), (name, r, c))

    def rank(self, key) -> tuple:
        """Which published entry to hide first: a cell before a total, then the smallest."""
        return key in self.margins, self.value[key], self.order[key]

    def solve(self) -> tuple[set, set[str]]:
        hidden, withheld, safe = set(self.primary), set(), set()
        while True:
            self._close_lines(hidden)
            unsafe = sorted(self.primary - safe, key=self.order.__getitem__)
            if not unsafe:
                break
            hide, withhold = self._audit(hidden, withheld, unsafe, safe)
            if not hide and not withhold and self.primary - safe:
                # Not expected (see How): fall back on what is safe by construction.
                hidden |= {k for k, v in self.value.items() if v > 0}
                withheld |= {figure for _, figure in self.bounds if figure is not None}
                return hidden, withheld
            hidden |= hide
            withheld |= withhold
        if hidden != self.primary or withheld:
            self._publish_back(hidden, withheld)
        return hidden, withheld

    def _publish_back(self, hidden: set, withheld: set[str]) -> None:
        """Step 4: an entry hidden early may be needed no more once later ones are hidden (a status total
        hidden for the grand total's sake, before the grand total itself had to go). Each figure, then
        each hidden total (largest first), then each hidden cell is published again, with what it then
        determines, if every primary count stays safe without them."""
        from scipy.optimize import linprog

        for figure in sorted(withheld):
            if self._all_safe(linprog, hidden, withheld - {figure}):
                withheld.discard(figure)
        for key in sorted(hidden - self.primary, key=lambda k: (k not in self.margins, -self.value[k], self.order[k])):
            if key not in hidden:
                continue
            trial = self._derivable(hidden - {key})
            if trial is None:
                continue
            closed = set(trial)
            self._close_lines(closed)
            if closed == trial and self._all_safe(linprog, trial, withheld):
                hidden.intersection_update(trial)

    def _derivable(self, hidden: set) -> set | None:
        """The hidden entries left once those that the published ones determine (alone hidden in a
        line) are published too, as they tell nothing more; None if a primary count is among them."""
        hidden = set(hidden)
        changed = True
        while changed:
            changed = False
            for line in self.lines:
                inside = [k for k in line.entries if k in hidden]
                if len(inside) == 1:
                    if inside[0] in self.primary:
                        return None
                    hidden.discard(inside[0])
                    changed = True
        return hidden

    def _all_safe(self, linprog, hidden: set, withheld: set[str]) -> bool:
        program = self._program(hidden, withheld)
        primary = sorted(self.primary, key=self.order.__getitem__)
        safe: set = set()
        self._certify(linprog, program, primary, safe)
        for key in primary:
            if key in safe:
                continue
            result = self._maximise(linprog, program, key)
            if result.status == 3:
                continue
            if result.status != 0 or -result.fun < self.threshold - _EPSILON:
                return False
            safe.update(k for k in primary if result.x[program.index[k]] >= self.threshold - _EPSILON)
        return True

    def _close_lines(self, hidden: set) -> None:
        """Step 2: no line with one hidden entry, nor one whose published total pins a primary count."""
        changed = True
        while changed:
            changed = False
            for line in self.lines:
                inside = [k for k in line.entries if k in hidden]
                if not inside:
                    continue
                short = len(inside) == 1
                if not short and line.total not in hidden:
                    room = self.value[line.total] - sum(self.value[k] for k in line.members if k not in hidden)
                    short = any(k in self.primary and room - (len(inside) - 1) < self.threshold for k in inside)
                if short:
                    candidates = [k for k in line.entries if k not in hidden and self.value[k] > 0]
                    if candidates:
                        hidden.add(min(candidates, key=self.rank))
                        changed = True

    def _audit(self, hidden: set, withheld: set[str], unsafe: list, safe: set) -> tuple[set, set[str]]:
        """Step 3: the largest value a reader can give each primary count; for each one below the
        threshold, the entry (or figure) to hide next."""
        # Imported here: scipy.optimize is ~50 MB of resident memory, needed only when indicators are
        # computed, not by the projections (a rebuild's process stays without it; benchmarks/README.md).
        from scipy.optimize import linprog

        program = self._program(hidden, withheld)
        self._certify(linprog, program, unsafe, safe)
        hide, withhold = set(), set()
        for key in unsafe:
            if key in safe:
                continue
            result = self._maximise(linprog, program, key)
            if result.status == 3:  # unbounded
                safe.add(key)
                continue
            helping, binding_figures, highest = set(), set(), -np.inf
            if result.status == 0:
                for other in unsafe:  # the values found are consistent: any count they put high enough is safe
                    if result.x[program.index[other]] >= self.threshold - _EPSILON:
                        safe.add(other)
                if key in safe:
                    continue
                highest = -result.fun
                binding_figures = {figure for (_, figure), m in zip(program.bounds, result.ineqlin.marginals)
                                   if abs(m) > 1e-9 and figure is not None}
                # How the maximum moves with each published entry, through the constraints it is in:
                # one it does not move with would be hidden in vain.
                moves: dict = {}
                for line, m in zip(program.lines, result.eqlin.marginals):
                    for k, coefficient in line.coefficients.items():
                        moves[k] = moves.get(k, 0.0) - m * coefficient
                for (bound, _), m in zip(program.bounds, result.ineqlin.marginals):
                    for k, coefficient in bound.terms.items():
                        moves[k] = moves.get(k, 0.0) + m * coefficient
                helping = {k for k, v in moves.items() if abs(v) > 1e-9}
            figures, entries = self._remedies(key, hidden, withheld, helping, binding_figures)
            if withhold & set(figures) or hide & set(entries):
                continue  # what this round hides for another count may be enough for this one: the next round tells
            if figures:
                withhold.add(figures[0])
            elif entries:
                tried = self._first_that_helps(linprog, key, highest, hidden, withheld, entries[:_TRIES])
                hide.add(tried or entries[0])
        return hide, withhold

    def _first_that_helps(self, linprog, key, highest: float, hidden: set, withheld: set[str], candidates: list):
        """The first candidate that, hidden (with what step 2 then hides), raises the maximum of `key`.
        The dual cannot tell alone: an entry equal to another published one (a cell of a one-column
        table and its row total) moves the maximum only if both are hidden, and then maybe not."""
        for candidate in candidates:
            trial = {*hidden, candidate}
            self._close_lines(trial)
            result = self._maximise(linprog, self._program(trial, withheld), key)
            if result.status == 3 or (result.status == 0 and -result.fun > highest + _EPSILON):
                return candidate
        return None

    def _program(self, hidden: set, withheld: set[str]) -> _Program:
        """The reader's linear program: the hidden entries are the unknowns, each at least 1."""
        unknown = sorted(hidden, key=self.order.__getitem__)
        index = {k: i for i, k in enumerate(unknown)}

        def row(terms: Mapping) -> tuple[np.ndarray, float]:
            a, constant = np.zeros(len(unknown)), 0.0
            for k, coefficient in terms.items():
                if k in index:
                    a[index[k]] += coefficient
                else:
                    constant += coefficient * self.value[k]
            return a, constant

        a_eq, b_eq, lines = [], [], []
        for line in self.lines:
            a, constant = row(line.coefficients)
            if a.any():
                a_eq.append(a)
                b_eq.append(-constant)
                lines.append(line)
        a_ub, b_ub, bounds = [], [], []
        for bound, figure in self.bounds:
            if figure in withheld:
                continue
            a, constant = row(bound.terms)
            if a.any():  # Σ a·x + constant ≥ at_least, as -Σ a·x ≤ constant - at_least
                a_ub.append(-a)
                b_ub.append(constant - bound.at_least)
                bounds.append((bound, figure))
        return _Program(index, np.array(a_eq) if a_eq else None, np.array(b_eq) if a_eq else None,
                        np.array(a_ub) if a_ub else None, np.array(b_ub) if a_ub else None, lines, bounds)

    @staticmethod
    def _maximise(linprog, program: _Program, key):
        objective = np.zeros(len(program.index))
        objective[program.index[key]] = -1.0
        return linprog(objective, A_ub=program.a_ub, b_ub=program.b_ub, A_eq=program.a_eq, b_eq=program.b_eq,
                       bounds=(1, None), method="highs")

    def _certify(self, linprog, program: _Program, unsafe: list, safe: set) -> None:
        """Fewer programs: values consistent with what is published that put many primary counts at
        the threshold at once (maximise Σ min(count, threshold)) prove them all safe."""
        n, index = len(program.index), program.index
        while True:
            open_ = [k for k in unsafe if k not in safe]
            if len(open_) < 2:
                return
            # variables: the hidden entries, then y_k ≤ entry k and ≤ threshold for each open count
            m = len(open_)
            objective = np.concatenate([np.zeros(n), -np.ones(m)])
            cap = np.zeros((m, n + m))
            for j, k in enumerate(open_):
                cap[j, index[k]], cap[j, n + j] = -1.0, 1.0
            a_ub = cap if program.a_ub is None else np.vstack([np.hstack([program.a_ub, np.zeros((len(program.a_ub), m))]), cap])
            b_ub = np.zeros(m) if program.b_ub is None else np.concatenate([program.b_ub, np.zeros(m)])
            a_eq = None if program.a_eq is None else np.hstack([program.a_eq, np.zeros((len(program.a_eq), m))])
            result = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=program.b_eq,
                             bounds=[(1, None)] * n + [(0, self.threshold)] * m, method="highs")
            if result.status != 0:
                return
            proved = [k for k in open_ if result.x[index[k]] >= self.threshold - _EPSILON]
            safe.update(proved)
            if not proved:
                return

    def _remedies(self, key, hidden: set, withheld: set[str], helping: set, figures: set[str]) -> tuple[list, list]:
        """What may be hidden for an exposed count, best first: the figures whose facts bind it, else
        the published entries its maximum moves with (smallest first, cells before totals), else
        those of its lines, else any."""
        figures = sorted(figures - withheld)
        if figures:
            return figures, []
        def published(keys) -> list:
            return sorted({k for k in keys if k not in hidden and self.value[k] > 0}, key=self.rank)

        for candidates in (published(helping),
                           published([k for line in self.lines_of.get(key, []) for k in line.entries]),
                           published(self.value)):
            if candidates:
                return [], candidates
        return sorted({figure for _, figure in self.bounds if figure is not None} - withheld), []
