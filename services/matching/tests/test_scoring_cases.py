"""Scoring on named cases a reviewer can read, with the bundled taxonomy and host rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from corridor_matching import rules, taxonomy
from corridor_matching.scoring import Opportunity, Requirement, Volunteer, score, violations

TODAY = date(2026, 11, 22)
TAXONOMY, RULES = taxonomy.bundled(), rules.bundled()
A2, B1, B2, C1, C2 = 1, 2, 3, 4, 5


def check(v, o, home="fr"):
    return violations(v, o, home_node=home, today=TODAY, rules=RULES, taxonomy=TAXONOMY)


def fit(v, o):
    return score(v, o, taxonomy=TAXONOMY, today=TODAY)


# A Spanish-speaking accountant from Venezuela, living in Seville, registered on the Spanish node.
LUCIA = Volunteer(volunteer_id="lucia", languages={"es": C2, "en": B1}, skills=frozenset({"accounting.bookkeeping"}),
                  country="ES", region="Andalucía", city="Sevilla", hours_per_week=12, available_from=TODAY,
                  sectors=frozenset({"accounting"}), shares_profile=True, waiting_since=TODAY - timedelta(days=20))
TREASURER = Opportunity(opportunity_id="treasurer", host_node="es", host_kind="ngo", host_sector="accounting",
                        host_country="ES", country="ES", region="Andalucía", city="Sevilla", hours_per_week=6,
                        starts_on=TODAY + timedelta(days=30), slots_free=1,
                        skills=(Requirement("accounting.bookkeeping"),), languages={"es": B2})


def test_a_spanish_speaking_accountant_fits_a_treasurer_role_in_seville():
    assert check(LUCIA, TREASURER, home="es") == []
    match = fit(LUCIA, TREASURER)
    assert match.score > 0.75
    codes = [r.code for r in match.reasons]
    assert codes[0] == "skill_covered" and {"language_fit", "same_city", "sector_preferred"} <= set(codes)
    assert match.skills == ("accounting.bookkeeping",)
    assert match.summary().skills == ["accounting.bookkeeping"]  # and as it goes on the wire


def test_the_same_accountant_cannot_take_a_role_that_needs_french():
    in_lyon = replace(TREASURER, host_node="fr", host_country="FR", country="FR", region="Auvergne-Rhône-Alpes",
                      city="Lyon", languages={"fr": B1})
    assert check(LUCIA, in_lyon, home="es") == ["language:fr", "place"]
    assert check(replace(LUCIA, languages={**LUCIA.languages, "fr": B2}, willing_to_move=True), in_lyon, home="es") == []


# A translator from Eritrea living in Matera who can only work remotely.
SENAIT = Volunteer(volunteer_id="senait", languages={"ti": C2, "ar": C1, "it": C1, "en": B2},
                   skills=frozenset({"translation.community-interpreting"}), country="IT", region="Basilicata", city="Matera",
                   hours_per_week=10, available_from=TODAY, remote_only=True, shares_profile=True)
REMOTE_INTERPRETING = Opportunity(opportunity_id="helpline", host_node="es", host_kind="ngo", host_sector="translation_mediation",
                                  host_country="ES", country="ES", remote=True, hours_per_week=4, starts_on=TODAY,
                                  slots_free=2, skills=(Requirement("translation.community-interpreting"),),
                                  languages={"ar": B2, "en": B1})


def test_a_remote_translator_is_proposed_a_remote_role_abroad():
    assert check(SENAIT, REMOTE_INTERPRETING, home="it") == []
    match = fit(SENAIT, REMOTE_INTERPRETING)
    assert "remote" in [r.code for r in match.reasons]
    assert match.score > 0.6


def test_a_remote_only_translator_is_not_sent_to_an_office():
    office = replace(REMOTE_INTERPRETING, remote=False, region="Andalucía", city="Sevilla")
    assert check(SENAIT, office, home="it") == ["place:remote_only"]


def test_no_role_of_another_node_without_her_consent_to_share_her_profile():
    assert check(replace(SENAIT, shares_profile=False), REMOTE_INTERPRETING, home="it") == ["consent:share_match_profile"]
    assert check(replace(SENAIT, shares_profile=False), replace(REMOTE_INTERPRETING, host_node="it"), home="it") == []


# A care worker from Senegal in Lyon whose French is not yet at the level a care home asks.
AWA = Volunteer(volunteer_id="awa", languages={"wo": C2, "fr": A2}, skills=frozenset({"care.elderly-care"}), country="FR",
                region="Auvergne-Rhône-Alpes", city="Lyon", hours_per_week=20, available_from=TODAY, shares_profile=True)
CARE_HOME = Opportunity(opportunity_id="ehpad", host_node="fr", host_kind="ngo", host_sector="care", host_country="FR",
                        country="FR", region="Auvergne-Rhône-Alpes", city="Lyon", hours_per_week=8, starts_on=TODAY,
                        slots_free=1, skills=(Requirement("care.elderly-care"),), languages={"fr": B1})


def test_a_care_worker_without_the_required_french_level_is_not_proposed():
    assert check(AWA, CARE_HOME) == ["language:fr"]
    assert check(replace(AWA, languages={"wo": C2, "fr": B1}), CARE_HOME) == []


def test_a_business_may_host_in_spain_but_not_in_france():
    assert check(AWA, replace(CARE_HOME, host_kind="business", languages={})) == ["host_rules:FR:business"]
    assert check(LUCIA, replace(TREASURER, host_kind="business"), home="es") == []


def test_related_skills_earn_partial_credit_through_the_taxonomy():
    exact = fit(AWA, replace(CARE_HOME, languages={}))
    broader = fit(replace(AWA, skills=frozenset({"care"})), replace(CARE_HOME, languages={}))
    sibling = fit(replace(AWA, skills=frozenset({"care.childcare"})), replace(CARE_HOME, languages={}))
    none = fit(replace(AWA, skills=frozenset({"accounting.bookkeeping"})), replace(CARE_HOME, languages={}))
    assert exact.score > broader.score > sibling.score > none.score
    assert [r.code for r in broader.reasons if r.skill] == ["skill_related"]


def test_waiting_longer_raises_the_score_so_nobody_waits_forever():
    newcomer = fit(replace(AWA, languages={"fr": B2}, waiting_since=TODAY), CARE_HOME)
    waited = fit(replace(AWA, languages={"fr": B2}, waiting_since=TODAY - timedelta(days=200)), CARE_HOME)
    assert waited.score - newcomer.score == pytest.approx(0.20)
    assert "waiting_time" in [r.code for r in waited.reasons]


@pytest.mark.parametrize("text, code", [
    ("garde d'enfants", "care.childcare"),
    ("Babysitting", "care.childcare"),
    ("cuidado de personas mayores", "care.elderly-care"),
    ("contabilità", "accounting"),
])
def test_free_text_skills_are_found_in_any_language(text, code):
    found = TAXONOMY.code_for(text)
    assert found == code or (found is not None and code in TAXONOMY.ancestors(found) | {found}), (text, found)


def test_free_text_that_names_no_skill_maps_to_nothing():
    assert TAXONOMY.code_for("xylophone tuning on Mars") is None


def test_the_taxonomy_is_whole():
    assert 300 <= len(TAXONOMY) <= 400
    for skill in TAXONOMY.skills.values():
        assert set(skill.labels) >= {"en", "fr", "es", "it", "el"}, skill.code
        assert all(skill.labels.values()), skill.code


def test_the_explanation_reads_in_her_language():
    from corridor_matching.explanations import explain

    match = fit(LUCIA, TREASURER)
    spanish = explain(match, language="es", taxonomy=TAXONOMY)
    assert spanish[0] == f"Tiene la competencia solicitada: {TAXONOMY.skills['accounting.bookkeeping'].label('es')}"
    assert "Vive en la misma ciudad" in spanish
    greek = explain(match, language="el", taxonomy=TAXONOMY)
    assert greek[0].startswith("Διαθέτει τη δεξιότητα που ζητείται: ")
    assert explain(match, language="xx", taxonomy=TAXONOMY)[0].startswith("Has the skill asked for: ")


def test_languages_are_named_in_her_language():
    from corridor_matching.explanations import explain

    match = fit(LUCIA, TREASURER)
    assert "Habla español al nivel requerido" in explain(match, language="es", taxonomy=TAXONOMY)
    assert "Parle espagnol au niveau requis" in explain(match, language="fr", taxonomy=TAXONOMY)
    assert "Speaks Spanish at the level required" in explain(match, language="en", taxonomy=TAXONOMY)


def test_the_reasons_in_her_letter_speak_to_her_and_her_operator_reads_them_about_her():
    from corridor_matching.explanations import TEMPLATES, TO_HER, explain

    match = fit(LUCIA, TREASURER)
    to_her = {lang: explain(match, language=lang, taxonomy=TAXONOMY, to_her=True) for lang in ("en", "fr", "es", "it", "el")}
    assert "You speak Spanish at the level required" in to_her["en"]
    assert "Vous parlez espagnol au niveau requis" in to_her["fr"]
    assert "Usted habla español al nivel requerido" in to_her["es"]
    assert "Lei parla spagnolo al livello richiesto" in to_her["it"]
    assert to_her["el"][0].startswith("Διαθέτετε τη δεξιότητα που ζητείται: ")
    assert "Lives in the same city" in explain(match, language="en", taxonomy=TAXONOMY)  # the operator's view
    assert set(TO_HER) == set(TEMPLATES) and all(set(t) == set(TEMPLATES[c]) for c, t in TO_HER.items())
    # No sentence of her letter speaks of her in the third person.
    third_person = ("Has the", "Has a", "Speaks", "Lives", "Is willing", "she prefers", "Has been", "A la", "A une",
                    "Parle ", "Habite", "Est prête", "qu'elle", "Attend", "Διαθέτει ", "Μιλά ", "Μένει", "Είναι πρόθυμη")
    assert not [line for lines in to_her.values() for line in lines if line.startswith(third_person) or "she " in line]


# A carer, and a beekeeping role whose one skill is essential: nothing in the taxonomy links them.
CARER = replace(LUCIA, volunteer_id="carer", skills=frozenset({"care.elderly-care"}), sectors=frozenset())
BEEKEEPING = replace(TREASURER, opportunity_id="bees", host_sector="agriculture",
                     skills=(Requirement("agriculture.livestock.beekeeping"),))


def test_an_essential_skill_is_a_hard_constraint_unless_the_host_trains_newcomers():
    from corridor_matching.assignment import plan_round
    from corridor_matching.explanations import explain

    assert check(CARER, BEEKEEPING, home="es") == ["skill:agriculture.livestock.beekeeping"]
    assert plan_round([CARER], [BEEKEEPING], home_node="es", today=TODAY, taxonomy=TAXONOMY, rules=RULES) == []
    # An optional skill she lacks only lowers the score.
    optional = replace(BEEKEEPING, skills=(Requirement("agriculture.livestock.beekeeping", essential=False),))
    assert check(CARER, optional, home="es") == []
    # A skill linked to hers in the taxonomy meets an essential one (partial credit).
    care_role = replace(BEEKEEPING, skills=(Requirement("care"),)) if "care" in TAXONOMY.skills else None
    if care_role is not None:
        assert check(CARER, care_role, home="es") == []
    # A host that trains newcomers may be proposed to her, and her letter says why.
    training = replace(BEEKEEPING, trains_newcomers=True)
    assert check(CARER, training, home="es") == []
    [proposal] = plan_round([CARER], [training], home_node="es", today=TODAY, taxonomy=TAXONOMY, rules=RULES)
    assert [r.code for r in proposal.match.reasons if r.skill] == ["trains_newcomers"]
    label = TAXONOMY.skills["agriculture.livestock.beekeeping"].label("en")
    assert f"You do not need this skill yet; the host will teach it: {label}" in explain(
        proposal.match, language="en", taxonomy=TAXONOMY, to_her=True)
