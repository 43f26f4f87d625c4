"""Properties of a matching round, on generated corridors (hypothesis).

- no proposal ever breaks a hard constraint;
- no volunteer is proposed twice and no opportunity gets more proposals than free slots;
- the vectorised scoring used by the round equals the readable rules in scoring.py, pair by pair;
- on small instances the round's total score equals a brute-force optimum.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor_matching.assignment import Pool, plan_round
from corridor_matching.rules import HostRules
from corridor_matching.scoring import Opportunity, Requirement, Volunteer, score, violations
from corridor_matching.taxonomy import from_data

TODAY = date(2026, 11, 22)
HOME = "fr"
TAXONOMY = from_data({"skills": [
    {"code": c, "broader": b, "labels": {"en": c}} for c, b in [
        ("care", []), ("care.elderly-care", ["care"]), ("care.elderly-care.dementia", ["care.elderly-care"]),
        ("care.childcare", ["care"]), ("accounting", []), ("accounting.bookkeeping", ["accounting"]),
        ("accounting.payroll", ["accounting"]), ("translation", []), ("translation.community-interpreting", ["translation"]),
    ]]})
RULES = HostRules.from_data({"default": {"ngo": True, "public_body": True, "business": False},
                             "countries": {"ES": {"ngo": True, "public_body": True, "business": True}}})
SKILLS = sorted(TAXONOMY.skills)
LANGUAGES = ("fr", "es", "en", "ar")
PLACES = {"FR": (("Île-de-France", "Paris"), ("Occitanie", "Toulouse")), "ES": (("Andalucía", "Sevilla"), ("Madrid", "Madrid"))}
days = st.integers(min_value=-60, max_value=200).map(lambda d: TODAY + timedelta(days=d))


@st.composite
def volunteers(draw, index=st.integers(0, 10**9)):
    country = draw(st.sampled_from(sorted(PLACES)))
    region, city = draw(st.sampled_from(PLACES[country]))
    start = draw(days)
    return Volunteer(
        volunteer_id=f"v{draw(index)}",
        languages=draw(st.dictionaries(st.sampled_from(LANGUAGES), st.integers(0, 5), min_size=1, max_size=3)),
        skills=frozenset(draw(st.lists(st.sampled_from(SKILLS), max_size=3))),
        country=country, region=draw(st.sampled_from([region, None])), city=draw(st.sampled_from([city, None])),
        hours_per_week=draw(st.integers(1, 30)), available_from=start,
        available_until=draw(st.sampled_from([None, start + timedelta(days=120)])),
        willing_to_move=draw(st.booleans()), remote_only=draw(st.booleans()),
        sectors=frozenset(draw(st.lists(st.sampled_from(["care", "accounting", "translation_mediation"]), max_size=2))),
        shares_profile=draw(st.booleans()), waiting_since=draw(st.sampled_from([None, TODAY - timedelta(days=200), TODAY - timedelta(days=30)])),
    )


@st.composite
def opportunities(draw, index=st.integers(0, 10**9)):
    host_country = draw(st.sampled_from(sorted(PLACES)))
    region, city = draw(st.sampled_from(PLACES[host_country]))
    starts = draw(days)
    return Opportunity(
        opportunity_id=f"o{draw(index)}", host_node=draw(st.sampled_from(["fr", "es"])),
        host_kind=draw(st.sampled_from(["ngo", "business", "public_body"])),
        host_sector=draw(st.sampled_from(["care", "accounting", "translation_mediation"])),
        host_country=host_country, country=host_country,
        region=draw(st.sampled_from([region, None])), city=draw(st.sampled_from([city, None])),
        remote=draw(st.booleans()), hours_per_week=draw(st.integers(1, 25)), starts_on=starts,
        ends_on=draw(st.sampled_from([None, starts + timedelta(days=90)])),
        application_deadline=draw(st.sampled_from([None, TODAY - timedelta(days=1), TODAY + timedelta(days=10)])),
        slots_free=draw(st.integers(0, 3)),
        skills=tuple(Requirement(c, e) for c, e in draw(st.lists(st.tuples(st.sampled_from(SKILLS), st.booleans()),
                                                                  max_size=3, unique_by=lambda t: t[0]))),
        languages=draw(st.dictionaries(st.sampled_from(LANGUAGES), st.integers(0, 4), max_size=2)),
    )


def unique(items, key):
    seen, out = set(), []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            out.append(item)
    return out


corridors = st.tuples(
    st.lists(volunteers(), min_size=1, max_size=25).map(lambda vs: unique(vs, lambda v: v.volunteer_id)),
    st.lists(opportunities(), min_size=1, max_size=12).map(lambda os: unique(os, lambda o: o.opportunity_id)),
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(corridors)
def test_no_proposal_breaks_a_hard_constraint_and_no_slot_is_given_twice(corridor):
    vols, opps = corridor
    proposals = plan_round(vols, opps, home_node=HOME, today=TODAY, taxonomy=TAXONOMY, rules=RULES)
    for p in proposals:
        assert violations(p.volunteer, p.opportunity, home_node=HOME, today=TODAY, rules=RULES, taxonomy=TAXONOMY) == []
    proposed = [p.volunteer.volunteer_id for p in proposals]
    assert len(proposed) == len(set(proposed))
    for o in opps:
        assert sum(p.opportunity.opportunity_id == o.opportunity_id for p in proposals) <= o.slots_free


@SETTINGS
@given(corridors)
def test_excluded_pairs_are_never_proposed_again(corridor):
    vols, opps = corridor
    first = plan_round(vols, opps, home_node=HOME, today=TODAY, taxonomy=TAXONOMY, rules=RULES)
    declined = frozenset((p.volunteer.volunteer_id, p.opportunity.opportunity_id) for p in first)
    again = plan_round(vols, opps, home_node=HOME, today=TODAY, taxonomy=TAXONOMY, rules=RULES, excluded=declined)
    assert not {(p.volunteer.volunteer_id, p.opportunity.opportunity_id) for p in again} & declined


@SETTINGS
@given(corridors)
def test_the_vectorised_rules_equal_the_readable_ones(corridor):
    vols, opps = corridor
    pool = Pool(vols, taxonomy=TAXONOMY, today=TODAY)
    for o in opps:
        idx, scores = pool.evaluate(o, home_node=HOME, rules=RULES)
        vectorised = dict(zip(idx.tolist(), scores.tolist()))
        for i, v in enumerate(vols):
            broken = violations(v, o, home_node=HOME, today=TODAY, rules=RULES, taxonomy=TAXONOMY)
            assert (i in vectorised) == (not broken), (v, o, broken)
            if not broken:
                assert abs(vectorised[i] - score(v, o, taxonomy=TAXONOMY, today=TODAY).score) <= 2e-6


def brute_force_best(vols, opps) -> float:
    """The best total score over every way to give each volunteer one slot or none."""
    options = []
    for v in vols:
        options.append([None] + [o for o in opps
                                 if not violations(v, o, home_node=HOME, today=TODAY, rules=RULES, taxonomy=TAXONOMY)])
    best = 0.0
    for choice in itertools.product(*options):
        taken = {}
        for o in choice:
            if o is not None:
                taken[o.opportunity_id] = taken.get(o.opportunity_id, 0) + 1
        if any(taken[o.opportunity_id] > o.slots_free for o in opps if o.opportunity_id in taken):
            continue
        total = sum(score(v, o, taxonomy=TAXONOMY, today=TODAY).score for v, o in zip(vols, choice) if o is not None)
        best = max(best, total)
    return best


def eligible_mostly(v: Volunteer) -> Volunteer:
    """The same volunteer made eligible for most opportunities, so that the optimum has choices to make."""
    return replace(v, languages={**v.languages, "fr": 5, "es": 5}, hours_per_week=30, available_from=TODAY - timedelta(days=90),
                   available_until=None, willing_to_move=True, remote_only=False, shares_profile=True)


def open_mostly(o: Opportunity) -> Opportunity:
    return replace(o, host_kind="ngo", hours_per_week=min(o.hours_per_week, 10), application_deadline=None,
                   slots_free=max(1, min(o.slots_free, 2)), languages={k: v for k, v in o.languages.items() if k in ("fr", "es")})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.lists(volunteers(), min_size=2, max_size=5).map(lambda vs: unique(vs, lambda v: v.volunteer_id)),
                 st.lists(opportunities(), min_size=1, max_size=3).map(lambda os: unique(os, lambda o: o.opportunity_id))),
       st.booleans())
def test_on_small_instances_the_round_is_as_good_as_brute_force(corridor, crowded):
    vols, opps = corridor
    if crowded:  # most pairs eligible, more volunteers than slots: the choice is what is being tested
        vols, opps = [eligible_mostly(v) for v in vols], [open_mostly(o) for o in opps]
    proposals = plan_round(vols, opps, home_node=HOME, today=TODAY, taxonomy=TAXONOMY, rules=RULES)
    total = sum(p.match.score for p in proposals)
    assert abs(total - brute_force_best(vols, opps)) < 1e-5
