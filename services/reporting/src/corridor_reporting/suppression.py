"""Small-count suppression for every figure published corridor-wide or exported.

A table of counts is published with its row, column and grand totals. Seen as one table whose last
row and column are the totals, every row and every column is a sum: if exactly one of its entries
is hidden, the others give it away. So:

1. primary suppression hides every entry (cell or total) counting 1 to threshold-1 people;
2. secondary suppression then hides, in every row or column with exactly one hidden entry, its
   smallest other entry (a cell before a total), until no row or column has exactly one;
3. an audit then asks, by linear programming over all the sums (and counts being ≥ 0), whether the
   published entries still pin down a primary-suppressed one; if so, one more entry of its row or
   column is hidden and the steps repeat. Rows and columns alone are not enough: combinations of
   them, with the zeros, can still give a count away.

Zeros describe nobody and are published unless secondary suppression needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLD = 5
TOTAL = "__total__"


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


def suppress(counts: dict[tuple[str, str], int], *, rows: list[str], columns: list[str],
             threshold: int = DEFAULT_THRESHOLD) -> PublishedTable:
    value: dict[tuple[str, str], int] = {(r, c): int(counts.get((r, c), 0)) for r in rows for c in columns}
    for r in rows:
        value[(r, TOTAL)] = sum(value[(r, c)] for c in columns)
    for c in columns:
        value[(TOTAL, c)] = sum(value[(r, c)] for r in rows)
    value[(TOTAL, TOTAL)] = sum(value[(r, TOTAL)] for r in rows)

    primary = {key for key, v in value.items() if 0 < v < threshold}
    hidden = set(primary)
    all_rows, all_columns = [*rows, TOTAL], [*columns, TOTAL]
    lines = [[(r, c) for c in all_columns] for r in all_rows] + [[(r, c) for r in all_rows] for c in all_columns]

    def smallest(candidates):
        return min(candidates, key=lambda k: (value[k] == 0, value[k], TOTAL in k, k))

    while True:
        changed = True
        while changed:
            changed = False
            for line in lines:
                if sum(key in hidden for key in line) == 1:
                    candidates = [key for key in line if key not in hidden]
                    if candidates:
                        hidden.add(smallest(candidates))
                        changed = True
        exposed = _pinned(value, hidden & primary, hidden, lines)
        if not exposed:
            break
        for key in exposed:
            neighbours = [k for line in lines if key in line for k in line if k not in hidden]
            hidden.add(smallest(neighbours or [k for k in value if k not in hidden]))

    shown = {key: (None if key in hidden else v) for key, v in value.items()}
    return PublishedTable(
        rows=rows, columns=columns, threshold=threshold,
        cells={(r, c): shown[(r, c)] for r in rows for c in columns},
        row_totals={r: shown[(r, TOTAL)] for r in rows},
        column_totals={c: shown[(TOTAL, c)] for c in columns},
        total=shown[(TOTAL, TOTAL)],
    )


def suppress_figure(value: int | float | None, people: int, *, threshold: int = DEFAULT_THRESHOLD):
    """A single figure (a median, a rate) computed over `people`: published only if they are enough."""
    return value if people >= threshold else None


def _pinned(value: dict, watched: set, hidden: set, lines: list[list]) -> list:
    """The watched hidden entries whose value the published ones determine exactly."""
    if not watched:
        return []
    unknown = sorted(hidden)
    index = {key: i for i, key in enumerate(unknown)}
    a_eq, b_eq = [], []
    for line in lines:  # each line: its members sum to its total (the last member)
        *members, total = line
        row = np.zeros(len(unknown))
        constant = 0.0
        for key in members:
            if key in index:
                row[index[key]] += 1.0
            else:
                constant -= value[key]
        if total in index:
            row[index[total]] -= 1.0
        else:
            constant += value[total]
        if row.any():
            a_eq.append(row)
            b_eq.append(constant)
    # Imported here: scipy.optimize is ~50 MB of resident memory, needed only when indicators are
    # computed, not by the projections (a rebuild's process stays without it; benchmarks/README.md).
    from scipy.optimize import linprog

    exposed = []
    for key in sorted(watched):
        objective = np.zeros(len(unknown))
        objective[index[key]] = 1.0
        low = linprog(objective, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, None), method="highs")
        if low.status == 0 and high.status == 0 and (-high.fun) - low.fun < 0.5:
            exposed.append(key)
    return exposed
