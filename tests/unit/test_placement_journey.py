"""The placement journey's transition tables (corridor_contracts.journey), without a database: every
event in every state, and every order of arrival of a placement's events ends where the order the
host sent them in ends."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from corridor_contracts import journey
from corridor_contracts.events import (
    ContactDisclosed,
    ErasureRequested,
    HoursLogged,
    PlacementCompleted,
    PlacementConfirmed,
    PlacementDeclined,
    PlacementRequested,
    PlacementStarted,
    PlacementWithdrawn,
)
from corridor_contracts.events.placements import DeclineReason, DisclosedContact, Side, WithdrawalReason
from corridor_contracts.journey import Effect, HomeState, HomeStatus, HostEffect, HostStatus
from corridor_contracts.values import MatchSummary

S = HomeStatus
P = uuid.uuid4()
OPPORTUNITY = uuid.uuid4()


def confirmed() -> PlacementConfirmed:
    return PlacementConfirmed(placement_id=P, opportunity_id=OPPORTUNITY, slots_free=0)


def declined() -> PlacementDeclined:
    return PlacementDeclined(placement_id=P, opportunity_id=OPPORTUNITY, reason=DeclineReason.FULL)


def started() -> PlacementStarted:
    return PlacementStarted(placement_id=P, started_on=date(2027, 2, 1))


def hours(amount: str, day: int = 2) -> HoursLogged:
    return HoursLogged(placement_id=P, entry_id=uuid.uuid4(), worked_on=date(2027, 2, day), hours=Decimal(amount))


def completed(total: str | None = "4.00") -> PlacementCompleted:
    return PlacementCompleted(placement_id=P, completed_on=date(2027, 5, 31),
                              skills_practised=["accounting.bookkeeping"],
                              total_hours=None if total is None else Decimal(total))


def withdrawn_by_host() -> PlacementWithdrawn:
    return PlacementWithdrawn(placement_id=P, by=Side.HOST, reason=WithdrawalReason.HOST_CHOICE)


# Every state the home side can be in, with whether her request went out (a proposal that expired
# unanswered, or that her erasure withdrew, never reached a host).
STATES = [(S.PROPOSED, False), (S.DECLINED, False), (S.EXPIRED, False), (S.WITHDRAWN, False),
          (S.REQUESTED, True), (S.CONFIRMED, True), (S.STARTED, True), (S.COMPLETED, True),
          (S.DECLINED_BY_HOST, True), (S.WITHDRAWN, True), (S.EXPIRED, True), (S.COMPENSATED, True)]
EVENTS = {"confirmed": confirmed, "declined": declined, "started": started, "hours": lambda: hours("1.5"),
          "completed": completed, "withdrawn": withdrawn_by_host}
GIVE_BACK, EXCLUDE, WAIT, DISCLOSE = Effect.GIVE_BACK, Effect.EXCLUDE, Effect.STOP_WAITING, Effect.DISCLOSE_CONTACT

# (state, request went out) → event → (status after, effects). Anything not listed: unchanged, no effect.
EXPECTED: dict[tuple[HomeStatus, bool], dict[str, tuple[HomeStatus, tuple[Effect, ...]]]] = {
    (S.REQUESTED, True): {"confirmed": (S.CONFIRMED, (WAIT, DISCLOSE)), "declined": (S.DECLINED_BY_HOST, (EXCLUDE,)),
                          "started": (S.STARTED, (WAIT, DISCLOSE)), "hours": (S.STARTED, (WAIT, DISCLOSE)),
                          "completed": (S.COMPLETED, (WAIT, DISCLOSE)), "withdrawn": (S.WITHDRAWN, (WAIT, EXCLUDE))},
    (S.CONFIRMED, True): {"started": (S.STARTED, ()), "hours": (S.STARTED, ()), "completed": (S.COMPLETED, ()),
                          "withdrawn": (S.WITHDRAWN, (EXCLUDE,))},
    (S.STARTED, True): {"completed": (S.COMPLETED, ()), "withdrawn": (S.WITHDRAWN, (EXCLUDE,))},
    (S.EXPIRED, True): {name: (S.COMPENSATED, (GIVE_BACK,)) for name in EVENTS if name != "declined"},
    (S.WITHDRAWN, True): {"confirmed": (S.WITHDRAWN, (GIVE_BACK,))},
}


@pytest.mark.parametrize("state,requested", STATES, ids=[f"{s}{'' if r else '-unrequested'}" for s, r in STATES])
@pytest.mark.parametrize("name", list(EVENTS))
def test_every_host_event_in_every_home_state(state, requested, name):
    before = HomeState(status=state, requested=requested)
    event = EVENTS[name]()
    step = journey.at_home(before, event)

    status, effects = EXPECTED.get((state, requested), {}).get(name, (state, ()))
    assert (step.state.status, step.effects) == (status, effects)
    if state in journey.TERMINAL:
        assert step.state.status in (state, S.COMPENSATED)  # a terminal state is never left (expired is compensated)
    if not requested:
        assert step.state == before  # the host cannot know a placement whose request never went out
    elif name == "started":
        assert step.state.started_on == date(2027, 2, 1)  # facts are recorded whatever the state
    elif name == "hours":
        assert step.state.hours == Decimal("1.5")
    elif name == "completed":
        assert (step.state.completed_on, step.state.hours) == (date(2027, 5, 31), Decimal("4.00"))
    elif name == "declined" and state is S.REQUESTED:
        assert step.state.decline_reason == "full"


def play(state: HomeState, sequence) -> tuple[HomeState, list[Effect]]:
    effects: list[Effect] = []
    for event in sequence:
        step = journey.at_home(state, event)
        state, effects = step.state, effects + list(step.effects)
    return state, effects


# What a host sends about one placement, in its order: the happy path (with an entry approved after
# completion), a withdrawal after the start, a withdrawal before it, a decline; and a host on older
# code (no total hours).
JOURNEYS = {
    "completed": lambda: [confirmed(), started(), hours("1.5"), hours("2.5", 9), completed("4.00"), hours("0.75", 16)],
    "withdrawn after the start": lambda: [confirmed(), started(), hours("3"), withdrawn_by_host()],
    "withdrawn when confirmed": lambda: [confirmed(), withdrawn_by_host()],
    "declined": lambda: [declined()],
    "no total hours": lambda: [confirmed(), started(), hours("2"), completed(None)],
}


@pytest.mark.parametrize("journey_name", list(JOURNEYS))
@pytest.mark.parametrize("start", [S.REQUESTED, S.EXPIRED, S.WITHDRAWN], ids=lambda s: f"from-{s}")
def test_any_order_of_a_placements_events_ends_where_the_hosts_order_ends(journey_name, start):
    """From `requested`, and from the ends the home can reach while her request is on its way
    (the request expired; she withdrew): every permutation gives the in-order state, and the
    effects that change the home or the host (her wait ends, the pair is excluded, the slot is
    given back for an expired request) happen as often as in order."""
    sequence = JOURNEYS[journey_name]()
    begin = HomeState(status=start, requested=True)
    expected, in_order_effects = play(begin, sequence)
    once = {Effect.STOP_WAITING, Effect.EXCLUDE} | ({Effect.GIVE_BACK} if start is S.EXPIRED else set())
    for order in itertools.permutations(sequence):
        state, effects = play(begin, order)
        assert state == expected, [type(e).__name__ for e in order]
        for effect in once:
            assert effects.count(effect) == in_order_effects.count(effect), ([type(e).__name__ for e in order], effect)


def test_the_end_states_in_order():
    begin = HomeState(status=S.REQUESTED, requested=True)
    done, _ = play(begin, JOURNEYS["completed"]())
    assert (done.status, done.hours, done.started_on, done.completed_on, done.skills_practised) == \
        (S.COMPLETED, Decimal("4.75"), date(2027, 2, 1), date(2027, 5, 31), ("accounting.bookkeeping",))
    assert play(begin, JOURNEYS["withdrawn after the start"]())[0].status is S.WITHDRAWN
    assert play(begin, JOURNEYS["declined"]())[0].status is S.DECLINED_BY_HOST
    assert play(begin, JOURNEYS["no total hours"]())[0].hours == Decimal(2)
    assert play(HomeState(status=S.EXPIRED, requested=True), JOURNEYS["completed"]())[0].status is S.COMPENSATED


def test_the_crash_case_the_confirmation_last():
    """Home matching held the confirmation when it was killed; the start, the hours and the
    completion came first. Before, the home ignored them and stayed confirmed for ever."""
    state, effects = play(HomeState(status=S.REQUESTED, requested=True),
                          [started(), hours("1.5"), hours("2.5", 9), completed("4.00"), confirmed()])
    assert (state.status, state.hours) == (S.COMPLETED, Decimal("4.00"))
    assert effects == [Effect.STOP_WAITING, Effect.DISCLOSE_CONTACT]  # her contact goes once


def test_home_commands():
    assert journey.home_command(S.PROPOSED, journey.HomeCommand.ACCEPT) is S.REQUESTED
    for status in set(S) - {S.PROPOSED}:
        assert journey.home_command(status, journey.HomeCommand.ACCEPT) is None
        assert journey.home_command(status, journey.HomeCommand.DECLINE) is None
    withdrawable = {s for s in S if journey.home_command(s, journey.HomeCommand.WITHDRAW)}
    assert withdrawable == {S.REQUESTED, S.CONFIRMED, S.STARTED}
    assert {s for s in S if journey.home_command(s, journey.HomeCommand.EXPIRE)} == {S.PROPOSED, S.REQUESTED}
    for command in journey.HomeCommand:
        for status in journey.TERMINAL:
            assert journey.home_command(status, command) is None  # a terminal state is never left


# --- the host side ------------------------------------------------------------------------------------

H = HostStatus
CONTACT = DisclosedContact(given_name="Lucía", family_name="Pérez", email="lucia@example.org", preferred_language="es")


def requested_again() -> PlacementRequested:
    return PlacementRequested(placement_id=P, opportunity_id=OPPORTUNITY, volunteer="x" * 43,
                              match=MatchSummary(score=0.8),
                              expires_at=datetime(2027, 1, 1, tzinfo=timezone.utc))


HOME_EVENTS = {
    "requested again": requested_again,
    "contact": lambda: ContactDisclosed(placement_id=P, volunteer="x" * 43, contact=CONTACT,
                                        consented_at=datetime(2026, 12, 1, tzinfo=timezone.utc)),
    "withdrawn": lambda: PlacementWithdrawn(placement_id=P, by=Side.HOME, reason=WithdrawalReason.VOLUNTEER_CHOICE),
    "erasure": lambda: ErasureRequested(erasure_id=uuid.uuid4(), volunteer="x" * 43, placement_ids=[P]),
}
RELEASE, KEEP, AGAIN = HostEffect.RELEASE_SLOT, HostEffect.KEEP_CONTACT, HostEffect.ANSWER_AGAIN
HOST_EXPECTED = {
    H.CONFIRMED: {"contact": (H.CONFIRMED, (KEEP,)), "withdrawn": (H.WITHDRAWN, (RELEASE,)),
                  "erasure": (H.WITHDRAWN, (RELEASE,))},
    H.STARTED: {"contact": (H.STARTED, (KEEP,)), "withdrawn": (H.WITHDRAWN, (RELEASE,)),
                "erasure": (H.WITHDRAWN, (RELEASE,))},
    H.COMPLETED: {"contact": (H.COMPLETED, (KEEP,))},
}


@pytest.mark.parametrize("status", [None, *H], ids=lambda s: str(s))
@pytest.mark.parametrize("name", list(HOME_EVENTS))
def test_every_home_event_in_every_host_state(status, name):
    step = journey.at_host(status, HOME_EVENTS[name]())
    if status is None:
        assert step == journey.HostStep(None)  # a placement the host has not heard of
        return
    default = (status, (AGAIN,) if name == "requested again" else ())
    assert (step.status, step.effects) == HOST_EXPECTED.get(status, {}).get(name, default)


def test_the_homes_events_in_any_order_after_the_request():
    """After the request that opens it: the withdrawal and the contact in either order end withdrawn
    with the slot released once (the contact is kept only if it came while the placement was live)."""
    for order in itertools.permutations(["contact", "withdrawn", "requested again"]):
        status: HostStatus | None = H.CONFIRMED
        releases = 0
        for name in order:
            step = journey.at_host(status, HOME_EVENTS[name]())
            status, releases = step.status, releases + step.effects.count(RELEASE)
        assert (status, releases) == (H.WITHDRAWN, 1), order


def test_host_commands():
    allowed = {command: {s for s in H if journey.host_command(s, command)} for command in journey.HostCommand}
    assert allowed == {journey.HostCommand.START: {H.CONFIRMED}, journey.HostCommand.LOG_HOURS: {H.STARTED},
                       journey.HostCommand.APPROVE_HOURS: {H.STARTED, H.COMPLETED},
                       journey.HostCommand.COMPLETE: {H.STARTED},
                       journey.HostCommand.WITHDRAW: {H.CONFIRMED, H.STARTED}}
    assert journey.host_command(H.STARTED, journey.HostCommand.COMPLETE) is H.COMPLETED


def test_a_withdrawal_that_overtook_its_request_is_repaired_by_the_home():
    """The host ignores a withdrawal of a placement it has not heard of and confirms the request
    when it comes; the home, withdrawn, gives the slot back on that confirmation, once."""
    host = journey.at_host(None, HOME_EVENTS["withdrawn"]()).status
    assert host is None
    host = H.CONFIRMED  # the request, decided against the slots
    home = journey.at_home(HomeState(status=S.WITHDRAWN, requested=True), confirmed())
    assert home.effects == (Effect.GIVE_BACK,)
    given_back = PlacementWithdrawn(placement_id=P, by=Side.HOME, reason=WithdrawalReason.EXPIRED)
    assert journey.at_host(host, given_back) == journey.HostStep(H.WITHDRAWN, (RELEASE,))
