"""The host side of a placement, from the request to completion, against the real app and database.

Requests are handed to the consumer's handler as the consumer would (one unit of work); what goes
back to the home node is read from the outbox. The same journey across real nodes is in
test_slot_authority.py.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from corridor_contracts import Envelope, Scope, events, pseudonym, subjects
from corridor_contracts.events.placements import DisclosedContact, Side, WithdrawalReason
from corridor_contracts.values import MatchSummary
from corridor_profiles import placements
from corridor_profiles.slots import SlotState, decide
from corridor_runtime.authority import Refused
from corridor_runtime.unit_of_work import Incoming
from profiles_support import SEEDS, opportunity, organisation, outbox_events
from harness.streams import opened as opened_for

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
SECRET = os.urandom(32)


def incoming(event, origin="fr", correlation_id=None) -> Incoming:
    target = "fr" if event.SCOPE is Scope.DIRECT else None
    envelope = Envelope.wrap(event, origin=origin, target=target, correlation_id=correlation_id)
    return Incoming(envelope=envelope, event=event, subject=subjects.for_envelope(envelope, node=origin))


def request(opportunity_id, *, expires_in=timedelta(days=3)) -> events.PlacementRequested:
    return events.PlacementRequested(placement_id=uuid.uuid4(), opportunity_id=opportunity_id,
                                     volunteer=pseudonym(SECRET, uuid.uuid4(), "fr"), match=MatchSummary(score=0.8),
                                     expires_at=datetime.now(timezone.utc) + expires_in)


async def deliver(api, event, origin="it", correlation_id=None) -> Incoming:
    handlers = {"PlacementRequested": placements.on_placement_requested,
                "PlacementWithdrawn": placements.on_placement_withdrawn,
                "ContactDisclosed": placements.on_contact_disclosed}
    message = incoming(event, origin=origin, correlation_id=correlation_id)
    async with api.host.unit_of_work() as uow:
        await handlers[event.TYPE](uow, message)
    return message


async def sent_to(api, node) -> list[dict]:
    return [opened_for(data, SEEDS) for subject, data in await outbox_events(api.host) if subject.startswith(f"corridor.direct.{node}.")]


@pytest.fixture
async def opened(api):
    org = (await api.post("/organisations", json=organisation(country="FR", city="Lyon"))).json()
    return (await api.post("/opportunities", json=opportunity(org["organisation_id"], slots_total=2,
                                                              application_deadline=None))).json()


async def test_the_host_runs_a_placement_from_confirmation_to_completion(api, opened):
    asked = await deliver(api, request(opened["opportunity_id"]), origin="it")
    placement_id = str(asked.event.placement_id)
    [answer] = await sent_to(api, "it")
    assert (answer["type"], answer["origin"], answer["target"]) == ("PlacementConfirmed", "fr", "it")
    assert answer["payload"]["slots_free"] == 1
    assert answer["correlation_id"] == str(asked.envelope.correlation_id)
    assert answer["causation_id"] == str(asked.envelope.event_id)

    contact = events.ContactDisclosed(placement_id=asked.event.placement_id, volunteer=asked.event.volunteer,
                                      contact=DisclosedContact(given_name="Amina", family_name="Haddad",
                                                               email="amina@example.org", preferred_language="fr"),
                                      consented_at=NOW)
    await deliver(api, contact, origin="it")
    assert (await api.get(f"/placements/{placement_id}")).json()["contact_disclosed"] is True

    assert (await api.post(f"/placements/{placement_id}/start", json={"started_on": "2027-01-11"})).status_code == 200
    entries = []
    for day, hours in (("2027-01-12", "3.5"), ("2027-01-14", "4"), ("2027-01-19", "2.25")):
        logged = await api.post(f"/placements/{placement_id}/hours", json={"worked_on": day, "hours": hours})
        assert logged.status_code == 201, logged.text
        entries.append(logged.json()["entry_id"])
    for entry_id in entries[:2]:  # the coordinator approves two of the three entries
        approved = await api.post(f"/placements/{placement_id}/hours/{entry_id}/approve", json={"approved_by": "Lucía Romero"})
        assert approved.status_code == 200, approved.text
    assert (await api.post(f"/placements/{placement_id}/hours/{entries[0]}/approve",
                           json={"approved_by": "Lucía Romero"})).status_code == 409
    done = await api.post(f"/placements/{placement_id}/complete",
                          json={"completed_on": "2027-06-30", "skills_practised": ["care.elderly-care"]})
    assert done.status_code == 200, done.text
    assert done.json()["approved_hours"] == "7.50"

    to_home = await sent_to(api, "it")
    assert [e["type"] for e in to_home] == ["PlacementConfirmed", "PlacementStarted", "HoursLogged", "HoursLogged",
                                            "PlacementCompleted"]
    assert {e["correlation_id"] for e in to_home} == {str(asked.envelope.correlation_id)}  # one journey
    assert [e["payload"]["hours"] for e in to_home if e["type"] == "HoursLogged"] == ["3.50", "4.00"]
    completed = to_home[-1]["payload"]
    assert (completed["total_hours"], completed["skills_practised"]) == ("7.50", ["care.elderly-care"])
    for envelope in to_home:
        assert "Amina" not in json.dumps(envelope) and envelope["signature"]


async def test_withdrawals_release_the_slot_from_either_side(api, opened):
    first = await deliver(api, request(opened["opportunity_id"]), origin="it")
    second = await deliver(api, request(opened["opportunity_id"]), origin="cy")
    assert (await api.get(f"/opportunities/{opened['opportunity_id']}")).json()["slots_free"] == 0

    await deliver(api, events.PlacementWithdrawn(placement_id=first.event.placement_id, by=Side.HOME,
                                                 reason=WithdrawalReason.FOUND_EMPLOYMENT), origin="it")
    assert (await api.get(f"/opportunities/{opened['opportunity_id']}")).json()["slots_free"] == 1
    # A node cannot withdraw another node's placement: refused (the consumer dead-letters it).
    with pytest.raises(Refused, match="requested by cy, not by it"):
        await deliver(api, events.PlacementWithdrawn(placement_id=second.event.placement_id, by=Side.HOME,
                                                     reason=WithdrawalReason.OTHER), origin="it")
    assert (await api.get(f"/placements/{second.event.placement_id}")).json()["status"] == "confirmed"

    withdrawn = await api.post(f"/placements/{second.event.placement_id}/withdraw", json={"reason": "host_choice"})
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await api.get(f"/opportunities/{opened['opportunity_id']}")).json()["slots_free"] == 2
    assert [e["type"] for e in await sent_to(api, "cy")] == ["PlacementConfirmed", "PlacementWithdrawn"]
    broadcast = [json.loads(d) for s, d in await outbox_events(api.host) if s.startswith("corridor.bcast.")]
    assert [e["payload"].get("slots_free") for e in broadcast] == [2, 1, 0, 1, 2]


async def test_declines_say_why(api, opened):
    unknown = await deliver(api, request(uuid.uuid4()), origin="it")
    expired = await deliver(api, request(opened["opportunity_id"], expires_in=timedelta(seconds=-1)), origin="it")
    await api.post(f"/opportunities/{opened['opportunity_id']}/close", json={"reason": "withdrawn"})
    closed = await deliver(api, request(opened["opportunity_id"]), origin="it")
    reasons = {e["payload"]["placement_id"]: e["payload"]["reason"] for e in await sent_to(api, "it")}
    assert reasons == {str(unknown.event.placement_id): "unknown", str(expired.event.placement_id): "expired",
                       str(closed.event.placement_id): "closed"}


async def test_the_same_request_sent_again_gets_the_same_answer(api, opened):
    asked = await deliver(api, request(opened["opportunity_id"]), origin="it")
    await deliver(api, asked.event, origin="it", correlation_id=asked.envelope.correlation_id)  # a new event, same request
    answers = await sent_to(api, "it")
    assert [e["type"] for e in answers] == ["PlacementConfirmed", "PlacementConfirmed"]
    assert (await api.get(f"/opportunities/{opened['opportunity_id']}")).json()["slots_taken"] == 1


async def test_an_outcome_stays_on_her_home_node(api, opened):
    """Her outcome is a local event, anonymised; no other node receives it (reporting broadcasts the
    node's suppressed figures instead)."""
    her = (await api.post("/volunteers", json={
        "given_name": "Amina", "family_name": "Haddad", "birth_date": "1991-04-03", "country_of_origin": "SY",
        "preferred_language": "fr", "place": {"country": "FR", "city": "Lyon"}, "languages": [{"language": "fr", "level": "B2"}],
        "availability": {"hours_per_week": 10, "available_from": "2026-12-01"}, "consents": {"processing": True}})).json()
    # The opportunity is known to the corridor read model once its broadcast comes back through IN.
    published = [json.loads(d) for s, d in await outbox_events(api.host) if s.endswith("OpportunityPublished")][0]
    async with api.host.unit_of_work() as uow:
        from corridor_profiles.opportunities import remember_corridor_opportunity
        await remember_corridor_opportunity(uow, incoming(events.OpportunityPublished.model_validate(published["payload"]),
                                                          origin="fr"))
    recorded = await api.post(f"/volunteers/{her['volunteer_id']}/outcomes", json={
        "outcome": "employed", "recorded_on": "2027-12-15", "opportunity_id": opened["opportunity_id"],
        "months_after_placement": 6})
    assert recorded.status_code == 201, recorded.text
    about_outcomes = [(s, json.loads(d)) for s, d in await outbox_events(api.host) if "Outcome" in s]
    assert [s for s, _ in about_outcomes] == ["node.fr.OutcomeRecorded"]  # LOCAL: it never leaves the node
    outcome = about_outcomes[0][1]
    assert outcome.get("signature") is None and outcome.get("target") is None  # neither signed nor addressed
    assert outcome["payload"] | {"outcome_id": None} == {
        "outcome_id": None, "home_country": "FR", "host_country": "FR", "host_kind": "ngo", "host_sector": "care",
        "age_band": "35-44", "region_of_origin": "unknown", "outcome": "employed", "recorded_month": "2027-12",
        "months_after_placement": 6}
    unknown = await api.post(f"/volunteers/{her['volunteer_id']}/outcomes", json={
        "outcome": "employed", "recorded_on": "2027-12-15", "opportunity_id": str(uuid.uuid4()), "months_after_placement": 6})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "opportunity_id"]


@pytest.mark.parametrize(
    "state, expires_at, expected",
    [
        (None, NOW + timedelta(days=1), "unknown"),
        (SlotState("open", 2, 0, None), NOW, "expired"),
        (SlotState("closed", 2, 0, None), NOW + timedelta(days=1), "closed"),
        (SlotState("open", 2, 0, date(2026, 11, 21)), NOW + timedelta(days=1), "closed"),
        (SlotState("open", 2, 2, None), NOW + timedelta(days=1), "full"),
        (SlotState("open", 2, 1, date(2026, 11, 22)), NOW + timedelta(days=1), None),
    ],
)
def test_the_slot_decision(state, expires_at, expected):
    assert decide(state, expires_at=expires_at, now=NOW) == expected
