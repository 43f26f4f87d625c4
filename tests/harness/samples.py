"""One realistic, valid sample of every event in the catalogue, keyed by type."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

from corridor_contracts import events as e
from corridor_contracts.events.opportunities import ClosingReason
from corridor_contracts.events.organisations import ContactPerson
from corridor_contracts.events.placements import DeclineReason, DisclosedContact, OutcomeKind, Side, WithdrawalReason
from corridor_contracts.events.volunteers import VolunteerProfile
from corridor_contracts.types import AgeBand, CEFRLevel, OrganisationKind, Sector, SkillLevel, WorldRegion
from corridor_contracts.values import (
    Availability,
    ConsentKind,
    Consents,
    HostSummary,
    LanguageSkill,
    MatchReason,
    MatchSummary,
    OpportunityPlace,
    SkillRequirement,
    VolunteerPlace,
)

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
VOLUNTEER = UUID("6f1c2a4e-0b9d-4c1e-9d3a-2f6b8e7c5a10")
ORGANISATION = UUID("1b7e9c2d-3f4a-4b5c-8d6e-7f8091a2b3c4")
OPPORTUNITY = UUID("9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")
PLACEMENT = UUID("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
PSEUDONYM = "q3X9vJ2kLm8nPq4rSt6uVw1xYz0aBc5dEf7gHi2jKl4"

PROFILE = VolunteerProfile(
    given_name="Amina",
    family_name="Haddad",
    email="amina.haddad@example.org",
    phone="+33 6 12 34 56 78",
    birth_date=date(1991, 4, 3),
    country_of_origin="SY",
    preferred_language="fr",
    place=VolunteerPlace(country="FR", region="Île-de-France", city="Paris", willing_to_move=False),
    languages=[LanguageSkill(language="ar", level=CEFRLevel.C2), LanguageSkill(language="fr", level=CEFRLevel.B2),
               LanguageSkill(language="en", level=CEFRLevel.B1)],
    skills=["care.elderly-care", "translation.community-interpreting"],
    free_text_skills=["couture"],
    availability=Availability(hours_per_week=12, available_from=date(2026, 12, 1)),
    sector_preferences=[Sector.CARE, Sector.TRANSLATION_MEDIATION],
    consents=Consents(processing=NOW, share_match_profile=NOW, disclose_contact=NOW),
)
MATCH = MatchSummary(
    score=0.82,
    reasons=[MatchReason(code="skill_covered", weight=0.5, skill="care.elderly-care"),
             MatchReason(code="language_fit", weight=0.3, language="es")],
    languages=[LanguageSkill(language="es", level=CEFRLevel.B1)],
    skills=["care.elderly-care"],
)
HOST = HostSummary(organisation_id=ORGANISATION, organisation_name="Fundación Abrazo", kind=OrganisationKind.NGO,
                   sector=Sector.CARE, country="ES")
OPPORTUNITY_FIELDS = dict(
    opportunity_id=OPPORTUNITY,
    host=HOST,
    title="Companion for elderly residents",
    description="Afternoon activities with residents of a care home in Triana.",
    required_skills=[SkillRequirement(code="care.elderly-care", level=SkillLevel.BASIC)],
    languages=[LanguageSkill(language="es", level=CEFRLevel.B1)],
    place=OpportunityPlace(country="ES", region="Andalucía", city="Sevilla"),
    hours_per_week=10,
    starts_on=date(2027, 1, 11),
    ends_on=date(2027, 6, 30),
    application_deadline=date(2026, 12, 20),
    slots_total=3,
    slots_free=3,
)

SAMPLES: dict[str, e.Event] = {
    "VolunteerRegistered": e.VolunteerRegistered(volunteer_id=VOLUNTEER, registered_at=NOW, profile=PROFILE),
    "VolunteerUpdated": e.VolunteerUpdated(volunteer_id=VOLUNTEER, profile=PROFILE),
    "VolunteerConsentChanged": e.VolunteerConsentChanged(volunteer_id=VOLUNTEER, consent=ConsentKind.DISCLOSE_CONTACT,
                                                         granted=False, changed_at=NOW),
    "VolunteerErased": e.VolunteerErased(volunteer_id=VOLUNTEER, erased_at=NOW),
    "OrganisationRegistered": e.OrganisationRegistered(
        organisation_id=ORGANISATION, name="Fundación Abrazo", kind=OrganisationKind.NGO, sector=Sector.CARE,
        country="ES", city="Sevilla",
        contact=ContactPerson(name="Lucía Romero", email="lucia@abrazo.example.es", preferred_language="es"),
        registered_at=NOW),
    "PlacementProposed": e.PlacementProposed(proposal_id=PLACEMENT, volunteer_id=VOLUNTEER, opportunity_id=OPPORTUNITY,
                                             host_node="es", match=MATCH, expires_at=NOW),
    "PlacementProposalExpiring": e.PlacementProposalExpiring(proposal_id=PLACEMENT, volunteer_id=VOLUNTEER,
                                                             opportunity_id=OPPORTUNITY, expires_at=NOW),
    "ProposalDeclined": e.ProposalDeclined(proposal_id=PLACEMENT, volunteer_id=VOLUNTEER, opportunity_id=OPPORTUNITY),
    "PlacementStatusChanged": e.PlacementStatusChanged(placement_id=PLACEMENT, volunteer_id=VOLUNTEER,
                                                       opportunity_id=OPPORTUNITY, status="declined_by_host",
                                                       changed_at=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)),
    "PlacementExpired": e.PlacementExpired(placement_id=PLACEMENT, volunteer_id=VOLUNTEER, opportunity_id=OPPORTUNITY,
                                           stage="request"),
    "OpportunityPublished": e.OpportunityPublished(**OPPORTUNITY_FIELDS),
    "OpportunityUpdated": e.OpportunityUpdated(**{**OPPORTUNITY_FIELDS, "slots_free": 2}),
    "OpportunityClosed": e.OpportunityClosed(opportunity_id=OPPORTUNITY, reason=ClosingReason.FILLED, slots_free=0),
    "PlacementRequested": e.PlacementRequested(placement_id=PLACEMENT, opportunity_id=OPPORTUNITY, volunteer=PSEUDONYM,
                                               match=MATCH, expires_at=NOW),
    "PlacementConfirmed": e.PlacementConfirmed(placement_id=PLACEMENT, opportunity_id=OPPORTUNITY, slots_free=2),
    "PlacementDeclined": e.PlacementDeclined(placement_id=PLACEMENT, opportunity_id=OPPORTUNITY, reason=DeclineReason.FULL),
    "ContactDisclosed": e.ContactDisclosed(
        placement_id=PLACEMENT, volunteer=PSEUDONYM,
        contact=DisclosedContact(given_name="Amina", family_name="Haddad", email="amina.haddad@example.org",
                                 preferred_language="fr"),
        consented_at=NOW),
    "PlacementWithdrawn": e.PlacementWithdrawn(placement_id=PLACEMENT, by=Side.HOME, reason=WithdrawalReason.FOUND_EMPLOYMENT),
    "PlacementStarted": e.PlacementStarted(placement_id=PLACEMENT, started_on=date(2027, 1, 11)),
    "HoursLogged": e.HoursLogged(placement_id=PLACEMENT, entry_id=VOLUNTEER, worked_on=date(2027, 1, 12), hours=Decimal("3.5")),
    "PlacementCompleted": e.PlacementCompleted(placement_id=PLACEMENT, completed_on=date(2027, 6, 30),
                                               total_hours=Decimal("212.5"), skills_practised=["care.elderly-care"]),
    "PlacementOutcome": e.PlacementOutcome(outcome_id=PLACEMENT, home_country="FR", host_country="ES",
                                           host_kind=OrganisationKind.NGO, host_sector=Sector.CARE, age_band=AgeBand.FROM_35,
                                           region_of_origin=WorldRegion.WESTERN_ASIA, outcome=OutcomeKind.EMPLOYED,
                                           recorded_month="2027-12", months_after_placement=6),
    "ErasureRequested": e.ErasureRequested(erasure_id=VOLUNTEER, volunteer=PSEUDONYM, placement_ids=[PLACEMENT]),
    "ErasureCompleted": e.ErasureCompleted(erasure_id=VOLUNTEER, volunteer=PSEUDONYM, erased_at=NOW, records_erased=3),
    "NotificationFailed": e.NotificationFailed(delivery_id=PLACEMENT, cause_event_id=VOLUNTEER, kind="proposal",
                                               recipient_kind="volunteer", channel="smtp",
                                               reason="550 5.1.1 mailbox unavailable", failed_at=NOW),
}

# Follow-up outcomes: the detailed one stays on her home node; the corridor gets suppressed figures.
SAMPLES["OutcomeRecorded"] = e.OutcomeRecorded(
    outcome_id=PLACEMENT, home_country="FR", host_country="ES", host_kind=OrganisationKind.NGO, host_sector=Sector.CARE,
    age_band=AgeBand.FROM_35, outcome=OutcomeKind.EMPLOYED, recorded_month="2027-12", months_after_placement=6)
SAMPLES["OutcomeFigures"] = e.OutcomeFigures(
    revision=1796112000, threshold=5, outcomes=["employed", "in_training", "studying", "none", "unknown"],
    host_countries=["ES", "IT"], counts=[[None, None], [None, 0], [0, 0], [None, None], [0, 0]],
    outcome_totals=[13, None, 0, None, 0], host_country_totals=[12, 9], total=21)
