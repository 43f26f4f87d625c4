"""A placement's journey between the volunteer's home node and the host node: the transition tables.

Pure functions of (state, event) → (new state, effects), with no database and no clock, so that a
node built on this package alone applies the same rules, and so that they can be tested for every
event in every state and every order of arrival (docs/placement-journey.md says the same in prose).

Why: events of one placement can reach a node out of order. A batch that fails is applied event by
event; a process killed while it holds a fetched batch gets it back after its peers' later events;
a redelivery comes after what followed it. A table that guarded each step on the step before it
(started only from confirmed, completed only from confirmed or started) ignored a step that came
first, and recorded it as done: the home stayed "confirmed" for ever while the host said
"completed". So the home side does not wait for the earlier step: **a later step implies the
earlier ones**, a terminal state is never left, and the facts an event carries (dates, hours) are
recorded whenever they come. Whatever the order, the same events give the same end state.

The home side (the matching service of her node)
------------------------------------------------

States: `proposed` → (she accepts) `requested` → `confirmed` → `started` → `completed`; and the
ends `declined` (by her), `declined_by_host`, `withdrawn`, `expired`, `compensated` (a confirmation
that came after the request expired: the slot was given back to the host).

Each of the host's events implies a step of the host's own life of the placement (it cannot send
one without having taken the steps before it):

    PlacementConfirmed                  confirmed
    PlacementStarted, HoursLogged       started   (hours are approved only on a started placement)
    PlacementCompleted                  completed
    PlacementWithdrawn (by the host)    confirmed, then withdrawn
    PlacementDeclined                   the other answer to the request: no step

Rules, for an event of the host about a placement of this node:

1. Before her request went out (`proposed`, `declined`, a proposal that `expired` unanswered) the
   host cannot know the placement: the event changes nothing.
2. `requested`, `confirmed`, `started` (the live states) move forward to the step the event implies,
   never back: the later of the two wins. A withdrawal by the host ends a live placement
   (`withdrawn`; the pair is never proposed again).
3. `PlacementDeclined` ends a `requested` placement (`declined_by_host`, with the host's reason;
   the pair is never proposed again). In any other state it is ignored: the host answers a request
   once, and the same way each time it is asked again.
4. Leaving `requested` for a confirmed step, she has her placement: she is no longer waiting for
   one (matching's fairness) and her contact goes to the host if she consented to that. A
   withdrawal by the host that arrives first ends her wait too, and discloses nothing.
5. A terminal state is never left. A request that `expired` before the host's answer came is
   `compensated` by the first event that implies a confirmation, and the slot is given back to the
   host (PlacementWithdrawn by the home, reason `expired`), once. A `PlacementConfirmed` that meets
   a `withdrawn` placement gives the slot back too (the host may have confirmed before it learnt of
   her withdrawal); the host ignores a withdrawal of a placement it no longer holds.
6. Facts are recorded whenever they come, in every state after her request: the start date and the
   completion (date, skills) as the host first stated them; the hours as the larger of the sum of
   the `HoursLogged` entries received and the `total_hours` of `PlacementCompleted` (the host may
   approve an entry after completing: the entries then exceed the total; a host on older code sends
   no total). Sums and maxima do not depend on the order.

What differs with the order is only what the home sends back, never the state: a withdrawal by
the host that arrives before its confirmation gets the slot given back to it (a no-op at the host)
and her contact is not disclosed to a host that has withdrawn.

The host side (the profiles service of the host node)
-----------------------------------------------------

States: `confirmed` or `declined` (its decision on the request, taken once, atomically, with the
slot), then `started` → `completed`, or `withdrawn`. The home's events:

- `PlacementRequested` opens the placement; asked again, the host answers again the same way.
- `ContactDisclosed` is kept on a `confirmed`, `started` or `completed` placement, and dropped on a
  `declined` or `withdrawn` one: her data is not kept for a placement that has ended.
- `PlacementWithdrawn` (by the home) and an erasure end a `confirmed` or `started` placement
  (`withdrawn`) and free its slot; on any other state they change nothing.
- An event about a placement the host has not heard of changes nothing. The only one of them that
  matters, a withdrawal that overtook its request, is repaired by the home: the host confirms the
  request when it comes, and the home, already `withdrawn`, gives the slot back (rule 5).

The host's own steps are commands, allowed in these states only (`HOST_COMMANDS`): start a
confirmed placement, log hours on a started one, approve hours on a started or completed one,
complete a started one, withdraw a confirmed or started one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from .events.erasure import ErasureRequested
from .events.placements import (
    ContactDisclosed,
    HoursLogged,
    PlacementCompleted,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementRequested,
    PlacementStarted,
    PlacementWithdrawn,
)


class HomeStatus(StrEnum):
    PROPOSED = "proposed"
    DECLINED = "declined"  # by her
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED_BY_HOST = "declined_by_host"
    STARTED = "started"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    COMPENSATED = "compensated"  # confirmed after expiry: the slot was given back


# Live: she is busy with it (a round proposes her nothing else meanwhile).
OPEN = (HomeStatus.PROPOSED, HomeStatus.REQUESTED, HomeStatus.CONFIRMED, HomeStatus.STARTED)
LIVE = (HomeStatus.REQUESTED, HomeStatus.CONFIRMED, HomeStatus.STARTED)
TERMINAL = frozenset(HomeStatus) - set(OPEN)
_STEP = {HomeStatus.REQUESTED: 0, HomeStatus.CONFIRMED: 1, HomeStatus.STARTED: 2, HomeStatus.COMPLETED: 3}

HostEvent = (PlacementConfirmed | PlacementDeclined | PlacementStarted | HoursLogged | PlacementCompleted
             | PlacementWithdrawn)


class Effect(StrEnum):
    """What the home does besides changing the placement's state."""

    STOP_WAITING = "stop_waiting"  # she has a placement: her waiting time ends (matching's fairness)
    DISCLOSE_CONTACT = "disclose_contact"  # her contact goes to the host, if she consented to that
    EXCLUDE = "exclude"  # never propose her this opportunity again
    GIVE_BACK = "give_back"  # PlacementWithdrawn (by the home, reason expired) to the host: it frees the slot


@dataclass(frozen=True)
class HomeState:
    """The home side of one placement, as far as the host's events change it."""

    status: HomeStatus
    requested: bool  # her request went out to the host (she accepted)
    started_on: date | None = None
    completed_on: date | None = None
    skills_practised: tuple[str, ...] | None = None
    decline_reason: str | None = None
    hours_logged: Decimal = Decimal(0)  # the sum of the HoursLogged entries received
    hours_reported: Decimal | None = None  # PlacementCompleted's total_hours, if the host sent one

    @property
    def hours(self) -> Decimal:
        return max(self.hours_logged, self.hours_reported or Decimal(0))


@dataclass(frozen=True)
class HomeStep:
    state: HomeState
    effects: tuple[Effect, ...] = ()


def _implied(event: HostEvent) -> HomeStatus:
    """The step of the host's life of the placement that the event implies."""
    match event:
        case PlacementStarted() | HoursLogged():
            return HomeStatus.STARTED
        case PlacementCompleted():
            return HomeStatus.COMPLETED
        case _:
            return HomeStatus.CONFIRMED


def _facts(state: HomeState, event: HostEvent) -> HomeState:
    """The state with the facts the event carries recorded (rule 6)."""
    match event:
        case PlacementStarted():
            return replace(state, started_on=state.started_on or event.started_on)
        case HoursLogged():
            return replace(state, hours_logged=state.hours_logged + event.hours)
        case PlacementCompleted():
            reported = state.hours_reported
            if event.total_hours is not None:
                reported = event.total_hours if reported is None else max(reported, event.total_hours)
            skills = state.skills_practised if state.skills_practised is not None else tuple(event.skills_practised)
            return replace(state, completed_on=state.completed_on or event.completed_on, skills_practised=skills,
                           hours_reported=reported)
        case _:
            return state


def at_home(state: HomeState, event: HostEvent) -> HomeStep:
    """The home side of a placement after one of the host's events (the module's rules 1-6)."""
    if not state.requested or state.status in (HomeStatus.PROPOSED, HomeStatus.DECLINED):
        return HomeStep(state)  # rule 1
    status = state.status
    if isinstance(event, PlacementDeclined):  # rule 3
        if status is HomeStatus.REQUESTED:
            return HomeStep(replace(state, status=HomeStatus.DECLINED_BY_HOST, decline_reason=event.reason.value),
                            (Effect.EXCLUDE,))
        return HomeStep(state)
    after = _facts(state, event)
    if status in LIVE:  # rules 2 and 4
        effects: list[Effect] = []
        if isinstance(event, PlacementWithdrawn):
            if status is HomeStatus.REQUESTED:
                effects.append(Effect.STOP_WAITING)
            return HomeStep(replace(after, status=HomeStatus.WITHDRAWN), (*effects, Effect.EXCLUDE))
        target = max(status, _implied(event), key=_STEP.__getitem__)
        if status is HomeStatus.REQUESTED:
            effects += [Effect.STOP_WAITING, Effect.DISCLOSE_CONTACT]
        return HomeStep(replace(after, status=target), tuple(effects))
    if status is HomeStatus.EXPIRED:  # rule 5
        return HomeStep(replace(after, status=HomeStatus.COMPENSATED), (Effect.GIVE_BACK,))
    if status is HomeStatus.WITHDRAWN and isinstance(event, PlacementConfirmed):
        return HomeStep(after, (Effect.GIVE_BACK,))
    return HomeStep(after)


class HomeCommand(StrEnum):
    """What the home node itself does to a placement: her answers, her withdrawal, the deadlines."""

    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"


HOME_COMMANDS: dict[HomeCommand, dict[HomeStatus, HomeStatus]] = {
    HomeCommand.ACCEPT: {HomeStatus.PROPOSED: HomeStatus.REQUESTED},
    HomeCommand.DECLINE: {HomeStatus.PROPOSED: HomeStatus.DECLINED},
    HomeCommand.WITHDRAW: {s: HomeStatus.WITHDRAWN for s in LIVE},
    HomeCommand.EXPIRE: {HomeStatus.PROPOSED: HomeStatus.EXPIRED, HomeStatus.REQUESTED: HomeStatus.EXPIRED},
}


def home_command(status: HomeStatus, command: HomeCommand) -> HomeStatus | None:
    """The state a home command leads to from `status`, or None if it is not allowed there."""
    return HOME_COMMANDS[command].get(HomeStatus(status))


# --- the host side ------------------------------------------------------------------------------------

class HostStatus(StrEnum):
    DECLINED = "declined"
    CONFIRMED = "confirmed"
    STARTED = "started"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class HostEffect(StrEnum):
    ANSWER_AGAIN = "answer_again"  # the same request again: the same answer
    KEEP_CONTACT = "keep_contact"  # store her consented contact
    RELEASE_SLOT = "release_slot"  # the placement no longer holds a slot of the opportunity


HomeEvent = PlacementRequested | ContactDisclosed | PlacementWithdrawn | ErasureRequested


@dataclass(frozen=True)
class HostStep:
    status: HostStatus | None  # None: the host has not heard of the placement
    effects: tuple[HostEffect, ...] = ()


_HOLDS_SLOT = (HostStatus.CONFIRMED, HostStatus.STARTED)


def at_host(status: HostStatus | None, event: HomeEvent) -> HostStep:
    """The host side of a placement after one of the home's events. A first PlacementRequested is
    not here: the host decides it against its slots (corridor_profiles.slots), once."""
    if status is None:
        return HostStep(None)
    status = HostStatus(status)
    match event:
        case PlacementRequested():
            return HostStep(status, (HostEffect.ANSWER_AGAIN,))
        case ContactDisclosed():
            kept = status in (HostStatus.CONFIRMED, HostStatus.STARTED, HostStatus.COMPLETED)
            return HostStep(status, (HostEffect.KEEP_CONTACT,) if kept else ())
        case PlacementWithdrawn() | ErasureRequested():
            if status in _HOLDS_SLOT:
                return HostStep(HostStatus.WITHDRAWN, (HostEffect.RELEASE_SLOT,))
            return HostStep(status)
    return HostStep(status)


class HostCommand(StrEnum):
    START = "start"
    LOG_HOURS = "log_hours"
    APPROVE_HOURS = "approve_hours"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"


HOST_COMMANDS: dict[HostCommand, dict[HostStatus, HostStatus]] = {
    HostCommand.START: {HostStatus.CONFIRMED: HostStatus.STARTED},
    HostCommand.LOG_HOURS: {HostStatus.STARTED: HostStatus.STARTED},
    HostCommand.APPROVE_HOURS: {HostStatus.STARTED: HostStatus.STARTED, HostStatus.COMPLETED: HostStatus.COMPLETED},
    HostCommand.COMPLETE: {HostStatus.STARTED: HostStatus.COMPLETED},
    HostCommand.WITHDRAW: {HostStatus.CONFIRMED: HostStatus.WITHDRAWN, HostStatus.STARTED: HostStatus.WITHDRAWN},
}


def host_command(status: HostStatus, command: HostCommand) -> HostStatus | None:
    """The state a host command leads to from `status`, or None if it is not allowed there."""
    return HOST_COMMANDS[command].get(HostStatus(status))
