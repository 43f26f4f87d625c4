"""The authority rules as a receiver applies them, without a database: who owns which datum, who may
speak for which side of a placement, and which version of an opportunity wins."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from corridor_contracts import Envelope, events
from corridor_contracts.events.opportunities import ClosingReason
from corridor_contracts.events.placements import Side, WithdrawalReason
from corridor_runtime.authority import Refused, _decide
from corridor_runtime.unit_of_work import Incoming
from harness.samples import SAMPLES

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
X = uuid.uuid4()


def incoming(event, origin: str, *, target: str | None = None, at: datetime = T0) -> Incoming:
    envelope = Envelope.wrap(event, origin=origin, target=target, occurred_at=at)
    return Incoming(envelope=envelope, event=event, subject="")


def opportunity(revision: int | None, title: str = "Role") -> events.OpportunityUpdated:
    return events.OpportunityUpdated.model_validate({**SAMPLES["OpportunityUpdated"].model_dump(mode="json"),
                                                     "opportunity_id": str(X), "title": title, "revision": revision})


def apply(known: dict, item: Incoming, me: str = "fr") -> bool:
    from corridor_contracts.authority import statements
    return _decide(known, statements(item.event, origin=item.envelope.origin, target=item.envelope.target, me=me), item)


def test_an_opportunity_belongs_to_its_first_publisher_and_nobody_else_may_state_it():
    known: dict = {}
    assert apply(known, incoming(opportunity(1), "es"))
    assert known[f"opportunity/{X}"]["owner"] == "es"
    for event in (opportunity(99), events.OpportunityClosed(opportunity_id=X, reason=ClosingReason.FILLED, slots_free=0,
                                                            revision=100)):
        with pytest.raises(Refused, match=f"opportunity/{X} belongs to es; be may not state it"):
            apply(known, incoming(event, "be", at=T0 + timedelta(days=300)))
    assert known[f"opportunity/{X}"]["revision"] == 1


def test_the_revision_orders_versions_not_the_time_the_sender_wrote():
    known: dict = {}
    assert apply(known, incoming(opportunity(2, "second"), "es", at=T0))
    assert not apply(known, incoming(opportunity(1, "first"), "es", at=T0 + timedelta(hours=1)))  # superseded
    assert not apply(known, incoming(opportunity(2, "again"), "es", at=T0 + timedelta(hours=1)))  # not newer
    assert apply(known, incoming(opportunity(3, "third"), "es", at=T0 - timedelta(hours=1)))
    assert known[f"opportunity/{X}"]["revision"] == 3


def test_a_host_on_older_code_is_ordered_by_its_own_times_and_a_revision_wins_over_them():
    known: dict = {}
    assert apply(known, incoming(opportunity(None, "a"), "es", at=T0))
    assert not apply(known, incoming(opportunity(None, "older"), "es", at=T0 - timedelta(minutes=1)))
    assert apply(known, incoming(opportunity(None, "b"), "es", at=T0 + timedelta(minutes=1)))
    assert apply(known, incoming(opportunity(1, "upgraded"), "es", at=T0))


def placement_events(pid: uuid.UUID):
    return {
        "confirmed": events.PlacementConfirmed(placement_id=pid, opportunity_id=X, slots_free=0),
        "started": events.PlacementStarted(placement_id=pid, started_on=T0.date()),
        "withdrawn_by_host": events.PlacementWithdrawn(placement_id=pid, by=Side.HOST, reason=WithdrawalReason.OTHER),
        "withdrawn_by_home": events.PlacementWithdrawn(placement_id=pid, by=Side.HOME, reason=WithdrawalReason.OTHER),
    }


def test_only_the_host_speaks_for_the_host_and_only_the_home_for_the_home():
    pid = uuid.uuid4()
    known: dict = {}
    assert apply(known, incoming(opportunity(1), "es"))
    proposed = SAMPLES["PlacementProposed"].model_copy(update={"proposal_id": pid, "opportunity_id": X, "host_node": "es"})
    assert apply(known, incoming(proposed, "fr"))  # opens fr (home) - es (host) on the home node
    said = placement_events(pid)
    assert apply(known, incoming(said["confirmed"], "es", target="fr"))
    assert apply(known, incoming(said["started"], "es", target="fr"))
    with pytest.raises(Refused, match="is hosted by es, not by be"):
        apply(known, incoming(said["confirmed"], "be", target="fr"))
    with pytest.raises(Refused, match="be may not speak for its host"):
        apply(known, incoming(said["started"], "be", target="fr"))
    with pytest.raises(Refused, match="es may not speak for its home"):
        apply(known, incoming(said["withdrawn_by_home"], "es", target="fr"))  # the host cannot speak as her home
    assert apply(known, incoming(said["withdrawn_by_host"], "es", target="fr"))


def test_a_host_accepts_requests_only_for_its_own_opportunities_and_from_the_home_that_opened_them():
    pid = uuid.uuid4()
    known: dict = {}
    assert apply(known, incoming(opportunity(1), "es"), me="es")
    request = SAMPLES["PlacementRequested"].model_copy(update={"placement_id": pid, "opportunity_id": X})
    with pytest.raises(Refused, match=f"opportunity/{X} is hosted by es, not by fr"):
        apply(known, incoming(request, "be", target="fr"), me="fr")
    assert apply(known, incoming(request, "fr", target="es"), me="es")
    with pytest.raises(Refused, match="between home fr and host es, not home be and host es"):
        apply(known, incoming(request, "be", target="es"), me="es")
    erasure = events.ErasureRequested(erasure_id=uuid.uuid4(), volunteer="x" * 43, placement_ids=[pid])
    with pytest.raises(Refused, match="be may not speak for its home"):
        apply(known, incoming(erasure, "be", target="es"), me="es")
    assert apply(known, incoming(erasure, "fr", target="es"), me="es")


def test_a_placement_never_heard_of_is_left_to_the_handler():
    said = placement_events(uuid.uuid4())
    assert apply({}, incoming(said["started"], "be", target="fr"))


def test_an_id_made_by_a_node_names_it_so_no_other_node_can_state_it_even_first():
    from corridor_contracts.authority import made_by, new_opportunity_id

    made = new_opportunity_id("es")
    assert made.version == 8 and made_by(made, "es") is True and made_by(made, "be") is False
    assert made_by(uuid.uuid4(), "es") is None  # a random id from a node on older code names nobody
    copy = opportunity(1).model_copy(update={"opportunity_id": made})
    known: dict = {}
    with pytest.raises(Refused, match=f"opportunity/{made} was not made by be"):
        apply(known, incoming(copy, "be"))  # before Spain's own announcement arrived
    assert known == {}
    assert apply(known, incoming(copy, "es"))
    request = SAMPLES["PlacementRequested"].model_copy(update={"placement_id": uuid.uuid4(), "opportunity_id": made})
    with pytest.raises(Refused, match="was not made by fr"):
        apply({}, incoming(request, "be", target="fr"), me="fr")  # fr knows nothing of it, and still refuses
