"""Small-count suppression: no published entry below the threshold, and no hidden entry that the
published ones determine (audited with linear programming over every row and column sum)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from corridor_reporting.suppression import suppress

THRESHOLD = 5


def recoverable(table, counts, rows, columns) -> list[tuple]:
    """Hidden entries whose value the published table pins down (min == max under its sums)."""
    entries = [(r, c) for r in rows for c in columns] + [(r, "T") for r in rows] + [("T", c) for c in columns] + [("T", "T")]
    published = {**{(r, c): table.cells[(r, c)] for r in rows for c in columns},
                 **{(r, "T"): table.row_totals[r] for r in rows}, **{("T", c): table.column_totals[c] for c in columns},
                 ("T", "T"): table.total}
    unknown = [e for e in entries if published[e] is None]
    if not unknown:
        return []
    index = {e: i for i, e in enumerate(unknown)}
    equations = []  # each: (coefficients over unknowns, constant) meaning Σ coeff·x = constant
    lines = [[(r, c) for c in columns] + [(r, "T")] for r in rows + ["T"]]
    lines += [[(r, c) for r in rows] + [("T", c)] for c in columns + ["T"]]
    for line in lines:
        *members, total = line
        coefficients = np.zeros(len(unknown))
        constant = 0.0
        for member in members:
            if member in index:
                coefficients[index[member]] += 1
            else:
                constant -= published[member]
        if total in index:
            coefficients[index[total]] -= 1
        else:
            constant += published[total]
        equations.append((coefficients, constant))
    a_eq = np.array([e[0] for e in equations])
    b_eq = np.array([e[1] for e in equations])
    pinned = []
    for entry, i in index.items():
        objective = np.zeros(len(unknown))
        objective[i] = 1
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if low.status == 0 and high.status == 0 and abs(-high.fun - low.fun) < 1e-6:
            pinned.append(entry)
    return pinned


tables = st.integers(1, 4).flatmap(lambda n_rows: st.integers(1, 4).flatmap(lambda n_cols: st.lists(
    st.lists(st.one_of(st.integers(0, 12), st.sampled_from([0, 1, 2, 3, 4, 5, 30])), min_size=n_cols, max_size=n_cols),
    min_size=n_rows, max_size=n_rows)))


@settings(max_examples=300, deadline=None)
@given(tables)
def test_nothing_small_is_published_and_nothing_hidden_can_be_worked_out(matrix):
    rows = [f"r{i}" for i in range(len(matrix))]
    columns = [f"c{j}" for j in range(len(matrix[0]))]
    counts = {(r, c): matrix[i][j] for i, r in enumerate(rows) for j, c in enumerate(columns)}
    table = suppress(counts, rows=rows, columns=columns, threshold=THRESHOLD)
    shown = [*table.cells.values(), *table.row_totals.values(), *table.column_totals.values(), table.total]
    assert all(v is None or v == 0 or v >= THRESHOLD for v in shown)
    for (r, c), v in table.cells.items():
        assert v is None or v == counts[(r, c)]
    truth = {**counts, **{(r, "T"): sum(counts[(r, c)] for c in columns) for r in rows},
             **{("T", c): sum(counts[(r, c)] for r in rows) for c in columns}, ("T", "T"): sum(counts.values())}
    small = [e for e in recoverable(table, counts, rows, columns) if 0 < truth[e] < THRESHOLD]
    assert small == [], (matrix, table.as_dict())


def test_a_known_table():
    rows, columns = ["FR", "ES"], ["care", "retail", "it"]
    counts = {("FR", "care"): 12, ("FR", "retail"): 3, ("FR", "it"): 7, ("ES", "care"): 9, ("ES", "retail"): 6, ("ES", "it"): 8}
    table = suppress(counts, rows=rows, columns=columns)
    # 3 is hidden; its row and column hide one more each (7 and 6). Then 8 would give 7 away through
    # the "it" column total, and 7 the 3 through the FR total: the audit hides 8 as well.
    assert table.as_dict()["cells"] == [[12, None, None], [9, None, None]]
    assert table.row_totals == {"FR": 22, "ES": 23} and table.column_totals == {"care": 21, "retail": 9, "it": 15}
    assert table.total == 45
