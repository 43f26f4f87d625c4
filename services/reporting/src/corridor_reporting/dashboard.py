"""The operators' dashboard: the indicators as bar charts (inline SVG: no script, nothing fetched)."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

COLOURS = ["#2f6db3", "#2e8b57", "#c2671d", "#7a4fb3", "#b33a5a"]


@dataclass
class Bar:
    label: str
    value: int | None
    width: float = 0


def _bars(labels, values) -> list[Bar]:
    bars = [Bar(str(label), value) for label, value in zip(labels, values) if value != 0]
    largest = max([b.value for b in bars if b.value is not None] or [1])
    for bar in bars:
        if bar.value is not None:
            bar.width = max(2.0, 260 * bar.value / largest)
    return bars


def _column(table: dict, index: int = 0) -> list:
    return [row[index] for row in table["cells"]]


def charts(indicators: dict) -> list[dict]:
    by_status = indicators["placements_by_status_and_host_country"]
    by_month = indicators["placements_confirmed_by_month"]
    outcomes = indicators["outcomes_by_outcome_and_host_country"]
    demanded, offered = indicators["skills_demanded_by_group_and_country"], indicators["skills_offered_by_group_and_country"]
    return [
        {"id": "over-time", "title": "Placements confirmed, by month", "bars": _bars(by_month["rows"], _column(by_month))},
        {"id": "by-country", "title": "Placements by host country", "bars": _bars(by_status["columns"], by_status["column_totals"])},
        {"id": "by-status", "title": "Placements by status", "bars": _bars(by_status["rows"], by_status["row_totals"])},
        {"id": "skills-demanded", "title": "Skills demanded by opportunities", "bars": _bars(demanded["rows"], demanded["row_totals"])},
        {"id": "skills-offered", "title": "Skills offered by volunteers", "bars": _bars(offered["rows"], offered["row_totals"])},
        {"id": "outcomes", "title": "Outcomes after placement", "bars": _bars(outcomes["rows"], outcomes["row_totals"])},
    ]


_environment = jinja2.Environment(loader=jinja2.PackageLoader("corridor_reporting", "templates"), autoescape=True)


def render(indicators: dict, *, node: str) -> str:
    waits = indicators["days_from_registration_to_placement"]
    figures = [("placements (all statuses)", indicators["placements_by_status_and_host_country"]["total"]),
               ("days to placement (median)", waits["median"]), ("completion rate", indicators["completion_rate"]),
               ("hours volunteered", indicators["hours_volunteered"])]
    chart_list = charts(indicators)
    for i, chart in enumerate(chart_list):
        chart["colour"] = COLOURS[i % len(COLOURS)]
    return _environment.get_template("dashboard.html.j2").render(node=node, threshold=indicators["threshold"],
                                                                  figures=figures, charts=chart_list)
