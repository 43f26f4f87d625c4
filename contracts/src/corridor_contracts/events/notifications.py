"""Notifications that could not be delivered, for reporting and for the operator."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from ..catalogue import Event, Scope
from ..types import LongText, UtcDatetime


class RecipientKind(StrEnum):
    VOLUNTEER = "volunteer"
    ORGANISATION = "organisation"


class NotificationFailed(Event):
    """A message given up for good (a bounced address, a webhook refusing it). No address, no text:
    reporting counts these; the operator reads the delivery itself on the node."""

    TYPE = "NotificationFailed"
    SCOPE = Scope.LOCAL

    delivery_id: UUID
    cause_event_id: UUID
    kind: str
    recipient_kind: RecipientKind
    channel: str
    reason: LongText
    failed_at: UtcDatetime
