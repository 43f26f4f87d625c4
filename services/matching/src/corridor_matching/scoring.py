"""Whether a volunteer may be proposed an opportunity (hard constraints), and how well it fits (score).

Pure functions over two small value types, so that a reviewer can read every rule here and the
tests can state named cases. Every score carries its reasons (codes and figures, rendered in her
language by notifications).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from corridor_contracts.types import CEFRLevel
from corridor_contracts.values import LanguageSkill, MatchReason, MatchSummary

from .rules import HostRules
from .taxonomy import Taxonomy

WEIGHTS = {"skills": 0.40, "languages": 0.15, "place": 0.15, "preference": 0.10, "waiting": 0.20}
WAITING_FULL_CREDIT_DAYS = 120
SKILL_LEVEL_WEIGHT = {"basic": 1.0, "intermediate": 1.0, "advanced": 1.0}


def rank(level: str | CEFRLevel) -> int:
    return CEFRLevel(level).rank


@dataclass(frozen=True)
class Volunteer:
    """A volunteer as matching sees her: her match profile, no name, no contact."""

    volunteer_id: str
    languages: dict[str, int]  # ISO 639-1 → CEFR rank (A1 = 0 … C2 = 5)
    skills: frozenset[str]  # taxonomy codes, free text already mapped
    country: str
    hours_per_week: int
    available_from: date
    available_until: date | None = None
    region: str | None = None
    city: str | None = None
    willing_to_move: bool = False
    remote_only: bool = False
    sectors: frozenset[str] = frozenset()
    shares_profile: bool = False  # her consent to share a pseudonymous match profile across the corridor
    waiting_since: date | None = None


@dataclass(frozen=True)
class Requirement:
    code: str
    essential: bool = True


@dataclass(frozen=True)
class Opportunity:
    """An open opportunity of the corridor, as its host node broadcast it."""

    opportunity_id: str
    host_node: str
    host_kind: str
    host_sector: str
    host_country: str
    country: str
    hours_per_week: int
    starts_on: date
    slots_free: int
    skills: tuple[Requirement, ...] = ()
    languages: dict[str, int] = field(default_factory=dict)  # ISO 639-1 → minimum CEFR rank
    region: str | None = None
    city: str | None = None
    remote: bool = False
    ends_on: date | None = None
    application_deadline: date | None = None
    trains_newcomers: bool = False  # an essential skill she lacks does not rule her out


def violations(v: Volunteer, o: Opportunity, *, home_node: str, today: date, rules: HostRules,
               taxonomy: Taxonomy) -> list[str]:
    """The hard constraints this pair breaks; empty when it may be proposed."""
    broken = []
    if not o.trains_newcomers:  # an essential skill: hers, or linked to hers in the taxonomy
        broken += [f"skill:{r.code}" for r in o.skills if r.essential and not taxonomy.credit(r.code, v.skills)[0]]
    for language, minimum in o.languages.items():
        if v.languages.get(language, -1) < minimum:
            broken.append(f"language:{language}")
    if v.hours_per_week < o.hours_per_week:
        broken.append("hours")
    until = v.available_until or date.max
    ends = o.ends_on or date.max
    if v.available_from > ends or o.starts_on > until:
        broken.append("dates")
    if not o.remote:
        if v.remote_only:
            broken.append("place:remote_only")
        elif not v.willing_to_move and not _same_area(v, o):
            broken.append("place")
    if o.host_node != home_node and not v.shares_profile:
        broken.append("consent:share_match_profile")
    if not rules.may_host(o.host_country, o.host_kind):
        broken.append(f"host_rules:{o.host_country}:{o.host_kind}")
    if o.slots_free <= 0:
        broken.append("full")
    if o.application_deadline is not None and o.application_deadline < today:
        broken.append("deadline")
    return broken


def _same_area(v: Volunteer, o: Opportunity) -> bool:
    if v.country != o.country:
        return False
    if o.city and v.city and o.city.casefold() == v.city.casefold():
        return True
    if o.region and v.region and o.region.casefold() == v.region.casefold():
        return True
    return not (o.city or o.region)  # an opportunity anywhere in the country


class Reason(NamedTuple):
    """One reason for a match: a code and its share of the score (MatchReason on the wire)."""

    code: str
    weight: float
    skill: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Match:
    """A pair's score and its reasons. Light on purpose: a round explains thousands of pairs; the
    contract model is built once, when a proposal is stored and its event emitted."""

    score: float
    reasons: tuple[Reason, ...]
    languages: tuple[tuple[str, str], ...]  # (language, her CEFR level) for each language asked
    skills: tuple[str, ...]  # the required skills she covers

    def summary(self) -> MatchSummary:
        return MatchSummary(score=self.score, reasons=[MatchReason(**r._asdict()) for r in self.reasons],
                            languages=[LanguageSkill(language=lang, level=level) for lang, level in self.languages],
                            skills=list(self.skills))


def score(v: Volunteer, o: Opportunity, *, taxonomy: Taxonomy, today: date) -> Match:
    """How well the opportunity fits her, 0..1, with the reasons. Assumes the pair is eligible."""
    reasons: list[Reason] = []

    if o.skills:
        total = sum(1.0 if r.essential else 0.5 for r in o.skills)
        earned = 0.0
        for requirement in o.skills:
            credit, via = taxonomy.credit(requirement.code, v.skills)
            weight = 1.0 if requirement.essential else 0.5
            earned += credit * weight
            if credit:
                code = "skill_covered" if credit == 1.0 else "skill_related"
                reasons.append(_reason(code, credit * weight / total * WEIGHTS["skills"], skill=requirement.code))
            elif requirement.essential and o.trains_newcomers:
                reasons.append(_reason("trains_newcomers", 0.0, skill=requirement.code))
        skills = earned / total
    else:
        skills = 0.5
    matched = [r.skill for r in reasons if r.skill]

    if o.languages:
        margins = [min(1.0, 0.6 + 0.2 * (v.languages[lang] - minimum)) for lang, minimum in o.languages.items()]
        languages = sum(margins) / len(margins)
        for lang in sorted(o.languages):
            reasons.append(_reason("language_fit", WEIGHTS["languages"] / len(o.languages), language=lang))
    else:
        languages = 0.5

    if o.remote:
        place, place_reason = 0.9, "remote"
    elif v.country == o.country and o.city and v.city and o.city.casefold() == v.city.casefold():
        place, place_reason = 1.0, "same_city"
    elif v.country == o.country and o.region and v.region and o.region.casefold() == v.region.casefold():
        place, place_reason = 0.8, "same_region"
    elif v.country == o.country:
        place, place_reason = 0.6, "same_country"
    else:
        place, place_reason = 0.3, "willing_to_move"
    reasons.append(_reason(place_reason, place * WEIGHTS["place"]))

    if not v.sectors:
        preference = 0.5
    elif o.host_sector in v.sectors:
        preference = 1.0
        reasons.append(_reason("sector_preferred", WEIGHTS["preference"]))
    else:
        preference = 0.0

    waited = (today - v.waiting_since).days if v.waiting_since else 0
    waiting = max(0.0, min(1.0, waited / WAITING_FULL_CREDIT_DAYS))
    if waiting >= 0.25:
        reasons.append(_reason("waiting_time", waiting * WEIGHTS["waiting"]))

    total_score = (WEIGHTS["skills"] * skills + WEIGHTS["languages"] * languages + WEIGHTS["place"] * place
                   + WEIGHTS["preference"] * preference + WEIGHTS["waiting"] * waiting)
    return Match(
        score=round(min(1.0, total_score), 6),
        reasons=tuple(sorted(reasons, key=lambda r: -r.weight)[:20]),
        languages=tuple((lang, LEVELS[v.languages[lang]].value) for lang in sorted(o.languages)),
        skills=tuple(sorted(set(matched))[:50]),
    )


LEVELS = list(CEFRLevel)


def _reason(code: str, weight: float, *, skill: str | None = None, language: str | None = None) -> Reason:
    return Reason(code, round(weight, 4), skill, language)
