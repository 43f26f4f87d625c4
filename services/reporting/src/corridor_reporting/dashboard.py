"""The operators' dashboard: the indicators as bar charts (inline SVG: no script, nothing fetched).

Every figure says whose it is. "This node" is split in two: what it hosts (the opportunities its
host organisations publish) and what its volunteers do (their placements, wherever they are hosted,
and their outcomes). "Whole corridor" figures add up every partner node (the outcomes each node
publishes) or count what every node receives (the opportunities broadcast): the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

COLOURS = {"hosts": "#2e8b57", "volunteers": "#2f6db3", "corridor": "#7a4fb3"}


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


def percent(rate: float | None) -> str | None:
    """A rate (0.833) as people read it (83.3 %)."""
    return None if rate is None else f"{rate * 100:.1f} %"


def sections(indicators: dict, *, node: str) -> list[dict]:
    """The dashboard's sections, each with its figures and charts, labelled with whose they are."""
    by_status = indicators["placements_by_status_and_host_country"]
    by_month = indicators["placements_confirmed_by_month"]
    corridor_outcomes = indicators["outcomes_by_outcome_and_host_country"]
    own_outcomes = indicators["outcomes_of_this_node_by_outcome_and_host_country"]
    demanded, offered = indicators["skills_demanded_by_group_and_country"], indicators["skills_offered_by_group_and_country"]
    opportunities = indicators["opportunities"]
    hosted = indicators["opportunities_hosted_by_this_node_by_skill_group"]
    waits = indicators["days_from_registration_to_placement"]
    return [
        {"id": "hosts", "title": f"What node {node} hosts", "scope": "this node",
         "note": "Opportunities that this node's host organisations publish. Counts of opportunities, not of people: "
                 "never hidden.",
         "figures": [("opportunities hosted here", opportunities["hosted_by_this_node"])],
         "charts": [{"id": "hosted-skills", "title": "Opportunities hosted here, by skill group asked for",
                     "bars": _bars(hosted, hosted.values())}]},
        {"id": "volunteers", "title": f"What node {node}'s volunteers do", "scope": "this node",
         "note": "The placements of the volunteers this node supports, wherever they are hosted, and their outcomes.",
         "figures": [("placements (all statuses)", by_status["total"]), ("days to placement (median)", waits["median"]),
                     ("completion rate", percent(indicators["completion_rate"])),
                     ("withdrawal rate", percent(indicators["withdrawal_rate"])),
                     ("hours volunteered", indicators["hours_volunteered"])],
         "charts": [
             {"id": "over-time", "title": "Placements confirmed, by month", "bars": _bars(by_month["rows"], _column(by_month))},
             {"id": "by-country", "title": "Placements by host country", "bars": _bars(by_status["columns"], by_status["column_totals"])},
             {"id": "by-status", "title": "Placements by status", "bars": _bars(by_status["rows"], by_status["row_totals"])},
             {"id": "skills-offered", "title": "Skills offered by this node's volunteers (people)",
              "bars": _bars(offered["rows"], offered["row_totals"])},
             {"id": "outcomes-here", "title": "Outcomes after placement, this node's volunteers",
              "bars": _bars(own_outcomes["rows"], own_outcomes["row_totals"])},
         ]},
        {"id": "corridor", "title": "Whole corridor (every partner node)", "scope": "whole corridor",
         "note": "The same on every node: the opportunities every node receives, and the outcomes every node "
                 "publishes, added up.",
         "figures": [("opportunities in the corridor", opportunities["in_the_corridor"])],
         "charts": [
             {"id": "skills-demanded", "title": "Skills the corridor's opportunities ask for (counted per opportunity)",
              "bars": _bars(demanded["rows"], demanded["row_totals"])},
             {"id": "outcomes", "title": "Outcomes after placement, whole corridor",
              "bars": _bars(corridor_outcomes["rows"], corridor_outcomes["row_totals"])},
         ]},
    ]


_environment = jinja2.Environment(loader=jinja2.PackageLoader("corridor_reporting", "templates"), autoescape=True)


def render(indicators: dict, *, node: str) -> str:
    found = sections(indicators, node=node)
    for section in found:
        for chart in section["charts"]:
            chart["colour"] = COLOURS[section["id"]]
    return _environment.get_template("dashboard.html.j2").render(node=node, threshold=indicators["threshold"],
                                                                  sections=found)
