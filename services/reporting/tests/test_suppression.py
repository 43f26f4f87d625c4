"""Small-count suppression: no published entry below the threshold, no hidden zero, and no hidden
count of 1 to threshold-1 that a reader (knowing every hidden count is at least 1) can bound below
the threshold with linear programming over the sums."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from corridor_reporting.suppression import TOTAL, Bound, Grid, suppress, suppress_linked

THRESHOLD = 5


def highest(table, rows, columns) -> dict[tuple, float]:
    """The largest value the published table allows each hidden entry (every hidden entry ≥ 1)."""
    entries = [(r, c) for r in rows for c in columns] + [(r, "T") for r in rows] + [("T", c) for c in columns] + [("T", "T")]
    published = {**{(r, c): table.cells[(r, c)] for r in rows for c in columns},
                 **{(r, "T"): table.row_totals[r] for r in rows}, **{("T", c): table.column_totals[c] for c in columns},
                 ("T", "T"): table.total}
    unknown = [e for e in entries if published[e] is None]
    if not unknown:
        return {}
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
    found = {}
    for entry, i in index.items():
        objective = np.zeros(len(unknown))
        objective[i] = -1
        high = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(1, None), method="highs")
        assert high.status in (0, 3), high.message
        found[entry] = -high.fun if high.status == 0 else np.inf
    return found


tables = st.integers(1, 4).flatmap(lambda n_rows: st.integers(1, 4).flatmap(lambda n_cols: st.lists(
    st.lists(st.one_of(st.integers(0, 12), st.sampled_from([0, 1, 2, 3, 4, 5, 30])), min_size=n_cols, max_size=n_cols),
    min_size=n_rows, max_size=n_rows)))


@settings(max_examples=300, deadline=None)
@given(tables)
def test_nothing_small_is_published_and_nothing_hidden_can_be_bounded_below_the_threshold(matrix):
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
    bounds = highest(table, rows, columns)
    assert all(truth[e] > 0 for e in bounds), "a hidden zero: a reader may not assume hidden counts are at least 1"
    small = [e for e, high in bounds.items() if 0 < truth[e] < THRESHOLD and high < THRESHOLD - 1e-6]
    assert small == [], (matrix, table.as_dict())


def test_a_known_table():
    rows, columns = ["FR", "ES"], ["care", "retail", "it"]
    counts = {("FR", "care"): 12, ("FR", "retail"): 3, ("FR", "it"): 7, ("ES", "care"): 9, ("ES", "retail"): 6, ("ES", "it"): 8}
    table = suppress(counts, rows=rows, columns=columns)
    # 3 is hidden; its row and column hide one more each (7 and 6). Then 8 would give 6 away through
    # the ES total, and 6 the 3 through the retail total: 8 is hidden as well. The reader knows
    # 3 + 7 = 10 and 3 + 6 = 9, and that each is at least 1: the 3 could be up to 8.
    assert table.as_dict()["cells"] == [[12, None, None], [9, None, None]]
    assert table.row_totals == {"FR": 22, "ES": 23} and table.column_totals == {"care": 21, "retail": 9, "it": 15}
    assert table.total == 45


def test_two_ones_under_a_published_total_take_a_third_entry_with_them():
    """1 + 1 + 5 = 7: with the 5 and the 7 published, the two hidden cells, each at least 1, are 1 and 1."""
    rows, columns = ["care", "retail", "it"], ["withdrawn", "completed"]
    counts = {("care", "withdrawn"): 1, ("care", "completed"): 20, ("retail", "withdrawn"): 1, ("retail", "completed"): 30,
              ("it", "withdrawn"): 5, ("it", "completed"): 40}
    table = suppress(counts, rows=rows, columns=columns)
    assert table.cells[("it", "withdrawn")] is None or table.column_totals["withdrawn"] is None
    assert all(high >= THRESHOLD for (r, c), high in highest(table, rows, columns).items() if (r, c) in
               {("care", "withdrawn"), ("retail", "withdrawn")})


def test_a_figure_shared_by_two_tables_is_hidden_in_both_or_neither():
    """The row totals of one table are the column totals of another: one figure, hidden consistently."""
    status = ["proposed", "completed"]
    by_country = Grid({("proposed", "FR"): 2, ("completed", "FR"): 6, ("completed", "ES"): 9}, status, ["FR", "ES"],
                      shared={**{(s, TOTAL): ("status", s) for s in status}, (TOTAL, TOTAL): ("status", TOTAL)})
    by_sector = Grid({("care", "proposed"): 2, ("care", "completed"): 7, ("it", "completed"): 8}, ["care", "it"], status,
                     shared={**{(TOTAL, s): ("status", s) for s in status}, (TOTAL, TOTAL): ("status", TOTAL)})
    tables, withheld = suppress_linked({"by_country": by_country, "by_sector": by_sector}, threshold=THRESHOLD)
    assert withheld == set()
    for s in status:
        assert (tables["by_country"].row_totals[s] is None) == (tables["by_sector"].column_totals[s] is None)
    assert tables["by_country"].total == tables["by_sector"].total or tables["by_country"].total is None
    assert tables["by_country"].row_totals["proposed"] is None  # 2 people


def test_a_single_figure_that_would_give_a_count_away_is_withheld():
    """A rate 0.833 of 5 completed tells 1 withdrawn: the rate goes, not the 5 (nor everything else)."""
    rows = ["completed", "withdrawn", "started"]
    grid = Grid({("completed", "FR"): 5, ("withdrawn", "FR"): 1, ("started", "FR"): 30}, rows, ["FR"])
    completed, withdrawn = ("g", "completed", TOTAL), ("g", "withdrawn", TOTAL)
    rate = [Bound({completed: 1, withdrawn: 1}, THRESHOLD), Bound({completed: 1 - 0.8325, withdrawn: -0.8325}),
            Bound({completed: 0.8335 - 1, withdrawn: 0.8335})]
    tables, withheld = suppress_linked({"g": grid}, figures={"completion_rate": rate}, threshold=THRESHOLD)
    assert withheld == {"completion_rate"}
    assert tables["g"].row_totals["withdrawn"] is None


def test_the_same_counts_give_the_same_table():
    rows, columns = [f"r{i}" for i in range(6)], [f"c{j}" for j in range(5)]
    counts = {(r, c): (i * 7 + j * 3) % 9 for i, r in enumerate(rows) for j, c in enumerate(columns)}
    first = suppress(counts, rows=rows, columns=columns).as_dict()
    assert all(suppress(dict(counts), rows=rows, columns=columns).as_dict() == first for _ in range(3))
