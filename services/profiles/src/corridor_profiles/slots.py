"""The host node's authority over its slots: the decision on a placement request.

Pure: given what the node knows of the opportunity at the moment it takes the write lock, decide.
The caller makes the decision atomic (a conditional update inside the same transaction), so two
requests for the last slot can never both be confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from corridor_contracts.events.placements import DeclineReason


@dataclass(frozen=True)
class SlotState:
    status: str  # open | closed
    slots_total: int
    slots_taken: int
    application_deadline: date | None

    @property
    def slots_free(self) -> int:
        return max(0, self.slots_total - self.slots_taken)


def decide(state: SlotState | None, *, expires_at: datetime, now: datetime) -> DeclineReason | None:
    """None to confirm, or the reason to decline."""
    if state is None:
        return DeclineReason.UNKNOWN
    if expires_at <= now:
        return DeclineReason.EXPIRED
    if state.status != "open" or (state.application_deadline is not None and state.application_deadline < now.date()):
        return DeclineReason.CLOSED
    if state.slots_free <= 0:
        return DeclineReason.FULL
    return None
