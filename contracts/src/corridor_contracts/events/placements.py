"""The placement saga: proposed at home, requested from the host, then its life.

Addressed events carry the volunteer only as her pseudonym toward the host node; the one
exception is ContactDisclosed, which she consents to and which goes to the host node only.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from ..catalogue import Event, Scope
from ..types import AgeBand, CountryCode, NodeId, OrganisationKind, Pseudonym, Sector, ShortText, SkillCode, UtcDatetime, WorldRegion, LanguageCode
from ..values import Email, Hours, MatchSummary, Phone, TotalHours, Value


class PlacementProposed(Event):
    """Matching proposes an opportunity to one of this node's volunteers (local)."""

    TYPE = "PlacementProposed"
    SCOPE = Scope.LOCAL

    proposal_id: UUID
    volunteer_id: UUID
    opportunity_id: UUID
    host_node: NodeId
    match: MatchSummary
    expires_at: UtcDatetime
    explanation: list[ShortText] = Field(default_factory=list, max_length=20,
                                         description="the reasons as sentences addressed to her, in her preferred language")


class ProposalDeclined(Event):
    """She declined her proposal (local): reporting counts it; the next round proposes the next best."""

    TYPE = "ProposalDeclined"
    SCOPE = Scope.LOCAL

    proposal_id: UUID
    volunteer_id: UUID
    opportunity_id: UUID


class PlacementProposalExpiring(Event):
    """Her proposal is still unanswered and its deadline is near (local: notifications remind her)."""

    TYPE = "PlacementProposalExpiring"
    SCOPE = Scope.LOCAL

    proposal_id: UUID
    volunteer_id: UUID
    opportunity_id: UUID
    expires_at: UtcDatetime


class ExpiredStage(StrEnum):
    PROPOSAL = "proposal"  # she did not answer in time
    REQUEST = "request"  # the host did not answer in time


class ExpiryReason(StrEnum):
    DEADLINE = "deadline"  # not answered in time
    FULL = "full"  # the opportunity's last slot went to someone else first
    CLOSED = "closed"  # the host closed the opportunity


class PlacementExpired(Event):
    """A proposal or a request ended unanswered (local: notifications tell her): past its deadline,
    or a proposal whose opportunity became full or closed before she answered."""

    TYPE = "PlacementExpired"
    SCOPE = Scope.LOCAL

    placement_id: UUID
    volunteer_id: UUID
    opportunity_id: UUID
    stage: ExpiredStage
    reason: ExpiryReason = ExpiryReason.DEADLINE


class PlacementRequested(Event):
    TYPE = "PlacementRequested"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    opportunity_id: UUID
    volunteer: Pseudonym
    match: MatchSummary
    expires_at: UtcDatetime


class PlacementConfirmed(Event):
    TYPE = "PlacementConfirmed"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    opportunity_id: UUID
    slots_free: int = Field(ge=0)


class DeclineReason(StrEnum):
    FULL = "full"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    EXPIRED = "expired"


class PlacementDeclined(Event):
    TYPE = "PlacementDeclined"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    opportunity_id: UUID
    reason: DeclineReason


class DisclosedContact(Value):
    given_name: ShortText
    family_name: ShortText
    email: Email | None = None
    phone: Phone | None = None
    preferred_language: LanguageCode


class ContactDisclosed(Event):
    """Her contact, for the host organisation only, sent because she consented at `consented_at`."""

    TYPE = "ContactDisclosed"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    volunteer: Pseudonym
    contact: DisclosedContact
    consented_at: UtcDatetime


class Side(StrEnum):
    HOME = "home"
    HOST = "host"


class WithdrawalReason(StrEnum):
    VOLUNTEER_CHOICE = "volunteer_choice"
    HOST_CHOICE = "host_choice"
    FOUND_EMPLOYMENT = "found_employment"
    HEALTH_OR_FAMILY = "health_or_family"
    EXPIRED = "expired"
    OTHER = "other"


class PlacementWithdrawn(Event):
    TYPE = "PlacementWithdrawn"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    by: Side
    reason: WithdrawalReason


class PlacementStarted(Event):
    TYPE = "PlacementStarted"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    started_on: date


class HoursLogged(Event):
    """One time-sheet entry, approved by the host organisation's coordinator."""

    TYPE = "HoursLogged"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    entry_id: UUID
    worked_on: date
    hours: Hours


class PlacementCompleted(Event):
    TYPE = "PlacementCompleted"
    SCOPE = Scope.DIRECT

    placement_id: UUID
    completed_on: date
    total_hours: TotalHours | None = None
    skills_practised: list[SkillCode] = Field(default_factory=list, max_length=50)


class OutcomeKind(StrEnum):
    EMPLOYED = "employed"
    IN_TRAINING = "in_training"
    STUDYING = "studying"
    NONE = "none"
    UNKNOWN = "unknown"


class PlacementOutcome(Event):
    """An anonymised follow-up for corridor reporting: dimensions only, nothing that names her.

    No longer sent: with her age band, the host's kind, sector and country and the month, one
    follow-up singles her out to the host that knows whom it hosted. Her home node now keeps it local
    (`OutcomeRecorded`) and broadcasts its suppressed `OutcomeFigures` (events/outcomes.py).
    Receivers still read this event from partners on older code."""

    TYPE = "PlacementOutcome"
    SCOPE = Scope.BROADCAST

    outcome_id: UUID
    home_country: CountryCode
    host_country: CountryCode
    host_kind: OrganisationKind
    host_sector: Sector
    age_band: AgeBand = AgeBand.UNKNOWN
    region_of_origin: WorldRegion = WorldRegion.UNKNOWN
    outcome: OutcomeKind
    recorded_month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    months_after_placement: int = Field(ge=0, le=120)
