"""The v1 event catalogue. Importing this package registers every event."""

from .erasure import ErasureCompleted, ErasureRequested
from .home_record import PlacementStatusChanged
from .notifications import NotificationFailed
from .opportunities import OpportunityClosed, OpportunityPublished, OpportunityUpdated
from .organisations import OrganisationRegistered
from .outcomes import OutcomeFigures, OutcomeRecorded
from .placements import (
    ContactDisclosed,
    HoursLogged,
    PlacementCompleted,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementExpired,
    PlacementOutcome,
    PlacementProposalExpiring,
    ProposalDeclined,
    PlacementProposed,
    PlacementRequested,
    PlacementStarted,
    PlacementWithdrawn,
)
from .volunteers import VolunteerConsentChanged, VolunteerErased, VolunteerRegistered, VolunteerUpdated

__all__ = [
    "ContactDisclosed",
    "ErasureCompleted",
    "ErasureRequested",
    "HoursLogged",
    "NotificationFailed",
    "OpportunityClosed",
    "OpportunityPublished",
    "OpportunityUpdated",
    "OrganisationRegistered",
    "OutcomeFigures",
    "OutcomeRecorded",
    "PlacementCompleted",
    "PlacementConfirmed",
    "PlacementDeclined",
    "PlacementExpired",
    "PlacementOutcome",
    "PlacementProposalExpiring",
    "PlacementStatusChanged",
    "ProposalDeclined",
    "PlacementProposed",
    "PlacementRequested",
    "PlacementStarted",
    "PlacementWithdrawn",
    "VolunteerConsentChanged",
    "VolunteerErased",
    "VolunteerRegistered",
    "VolunteerUpdated",
]
