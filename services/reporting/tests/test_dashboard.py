"""The dashboard says whose each figure is, shows rates as percentages, and never hides a count of
opportunities (rendered from indicators as `compute()` returns them; the browser test in
test_indicators.py renders a real node's)."""

from __future__ import annotations

import re

from corridor_reporting.dashboard import percent, render


def table(rows, columns, cells, row_totals, column_totals, total) -> dict:
    return {"rows": rows, "columns": columns, "cells": cells, "row_totals": row_totals,
            "column_totals": column_totals, "total": total}


INDICATORS = {
    "threshold": 5,
    "placements_confirmed_by_month": table(["2027-01"], ["placements"], [[6]], [6], [6], 6),
    "placements_by_status_and_host_country": table(["completed", "withdrawn"], ["ES"], [[10], [2]], [10, 2], [12], 12),
    "placements_by_host_sector_and_status": table([], [], [], [], [], 0),
    "placements_by_host_kind_and_status": table([], [], [], [], [], 0),
    "volunteers_by_age_band_and_origin": table([], [], [], [], [], 0),
    "outcomes_by_outcome_and_host_country": table(["employed", "none"], ["ES"], [[7], [None]], [7, None], [None], None),
    "outcomes_of_this_node_by_outcome_and_host_country": table(["employed"], ["ES"], [[0]], [0], [0], 0),
    "skills_demanded_by_group_and_country": table(["accounting", "care"], ["ES"], [[2], [1]], [2, 1], [3], 3),
    "skills_offered_by_group_and_country": table(["accounting", "care"], ["FR"], [[6], [None]], [6, None], [9], 9),
    "notification_failures_by_channel_and_kind": table([], [], [], [], [], 0),
    "days_from_registration_to_placement": {"people": 6, "median": 12.5, "p90": 30.0},
    "completion_rate": 0.833, "withdrawal_rate": 0.167, "hours_volunteered": "120.00",
    "opportunities": {"in_the_corridor": 3, "hosted_by_this_node": 1},
    "opportunities_hosted_by_this_node_by_skill_group": {"care": 1},
}


def part(html: str, section: str) -> str:
    """One part of the page (its top-level section)."""
    found = re.search(rf'<section class="part" id="{section}".*?(?=<section class="part"|</body>)', html, re.DOTALL)
    assert found, section
    return found.group(0)


def test_corridor_wide_figures_are_labelled_so_and_apart_from_the_nodes_own():
    html = render(INDICATORS, node="fr")
    corridor = part(html, "corridor")
    assert "Whole corridor (every partner node)" in corridor
    assert 'id="outcomes"' in corridor and 'data-value="7"' in corridor  # "employed 7" is the corridor's
    volunteers = part(html, "volunteers")
    assert "node fr&#39;s volunteers" in volunteers and 'id="outcomes-here"' in volunteers and 'id="outcomes"' not in volunteers
    assert 'id="skills-demanded"' in corridor and 'id="skills-offered"' in volunteers


def test_what_the_node_hosts_is_beside_what_its_volunteers_do():
    html = render(INDICATORS, node="fr")
    hosts = part(html, "hosts")
    assert "What node fr hosts" in hosts and "<b>1</b>opportunities hosted here" in hosts
    assert html.index('id="hosts"') < html.index('id="volunteers"') < html.index('id="corridor"')


def test_rates_read_as_percentages_and_opportunity_counts_are_never_hidden():
    html = render(INDICATORS, node="fr")
    volunteers = part(html, "volunteers")
    assert "<b>83.3 %</b>completion rate" in volunteers and "<b>16.7 %</b>withdrawal rate" in volunteers
    assert percent(None) is None and percent(1.0) == "100.0 %"
    # One opportunity asks for care skills: a count of opportunities, shown as it is (people below 5 are hidden).
    corridor = part(html, "corridor")
    assert re.search(r'<text x="0" y="\d+">care</text>\s*<rect class="bar"[^>]*data-value="1"', corridor)
    assert "<b>3</b>opportunities in the corridor" in corridor
    assert 'class="suppressed bar"' in volunteers  # a small count of people stays hidden
