"""From bytes to an event at this node's latest version, or the reason it is poison (no broker)."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from corridor_contracts import (CATALOGUE, Envelope, Event, Scope, Sealer, Signer, Verifier, new_node_seed, public_key_of,
                                sealing_key_of, subjects)
from corridor_contracts.sealing import SealingError
from corridor_runtime.decoding import Decoder, Poison
from harness.samples import SAMPLES

FR, ES, IT = new_node_seed(), new_node_seed(), new_node_seed()
SEALING_KEYS = {"fr": sealing_key_of(FR), "es": sealing_key_of(ES), "it": sealing_key_of(IT)}
DECODER = Decoder("fr", Verifier({"fr": public_key_of(FR), "es": public_key_of(ES)}), Sealer("fr", FR, SEALING_KEYS))
ES_SEALER = Sealer("es", ES, SEALING_KEYS)


def test_a_local_event_decodes_to_its_model():
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="fr")
    incoming = DECODER.decode("node.fr.VolunteerRegistered", envelope.encode())
    assert incoming.event == SAMPLES["VolunteerRegistered"]
    assert incoming.envelope.model_dump(exclude={"payload"}) == envelope.model_dump(exclude={"payload"})


def test_a_peer_event_addressed_here_decodes_when_sealed_for_this_node_and_signed_by_the_peer():
    envelope = Signer(ES).sign(ES_SEALER.seal(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="fr")))
    assert envelope.payload == {} and envelope.sealed  # the wire shows no payload
    incoming = DECODER.decode(subjects.for_envelope(envelope, node="es"), envelope.encode())
    assert incoming.event == SAMPLES["PlacementConfirmed"]
    assert incoming.envelope.sealed is None and incoming.envelope.payload == SAMPLES["PlacementConfirmed"].model_dump(mode="json")


def test_an_addressed_event_that_is_not_sealed_is_poison():
    envelope = Signer(ES).sign(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="fr"))
    with pytest.raises(Poison, match="its payload is not sealed"):
        DECODER.decode(subjects.for_envelope(envelope, node="es"), envelope.encode())


def test_an_addressed_event_sealed_for_another_node_is_poison():
    to_it = ES_SEALER.seal(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="it"))
    relabelled = Signer(ES).sign(to_it.model_copy(update={"target": "fr", "signature": None}))
    with pytest.raises(Poison, match="sealed for other keys, or was altered"):
        DECODER.decode(subjects.for_envelope(relabelled, node="es"), relabelled.encode())


def test_what_this_node_sent_a_peer_opens_here_too():
    """Its own services follow its OUT (e.g. notifications tells the host organisation)."""
    sent = Signer(FR).sign(Sealer("fr", FR, SEALING_KEYS).seal(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="fr", target="es")))
    assert DECODER.decode(subjects.for_envelope(sent, node="fr"), sent.encode()).event == SAMPLES["PlacementConfirmed"]


def test_a_third_node_cannot_open_what_two_others_exchange():
    sent = ES_SEALER.seal(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="it"))
    with pytest.raises(SealingError, match="between 'es' and 'it', not this node"):
        Sealer("fr", FR, SEALING_KEYS).open(sent)
    pretending = Sealer("it", FR, SEALING_KEYS)  # fr's key, claiming to be it
    with pytest.raises(SealingError, match="sealed for other keys"):
        pretending.open(sent)


def test_a_sealed_payload_swapped_after_signing_fails_the_signature():
    first = Signer(ES).sign(ES_SEALER.seal(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="fr")))
    other = ES_SEALER.seal(Envelope.wrap(SAMPLES["PlacementDeclined"], origin="es", target="fr"))
    tampered = first.model_copy(update={"sealed": other.sealed})
    with pytest.raises(Poison, match="bad signature"):
        DECODER.decode(subjects.for_envelope(first, node="es"), tampered.encode())


@pytest.mark.parametrize(
    "subject, data, reason",
    [
        ("node.fr.VolunteerRegistered", b"\xff\xfe", "invalid JSON"),
        ("node.fr.VolunteerRegistered", b"[1, 2]", "invalid envelope: a JSON list"),
        ("node.fr.VolunteerRegistered", b'{"type": "VolunteerRegistered"}', "envelope schema violation"),
        ("somewhere.else", b"{}", "is not a corridor event subject"),
    ],
)
def test_malformed_bytes_are_poison(subject, data, reason):
    with pytest.raises(Poison, match=reason):
        DECODER.decode(subject, data)


def test_a_subject_that_contradicts_the_envelope_is_poison():
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="fr")
    with pytest.raises(Poison, match="subject names VolunteerErased but the envelope is VolunteerRegistered"):
        DECODER.decode("node.fr.VolunteerErased", envelope.encode())


def test_a_local_event_from_another_origin_is_poison():
    envelope = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="es")
    with pytest.raises(Poison, match="a local event from origin 'es'"):
        DECODER.decode("node.fr.VolunteerRegistered", envelope.encode())


def test_a_peer_publishing_under_another_origin_is_poison():
    envelope = Signer(ES).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es"))
    with pytest.raises(Poison, match="subject origin 'it' differs"):
        DECODER.decode("corridor.bcast.it.OpportunityPublished", envelope.encode())


def test_an_addressed_event_for_another_node_is_poison():
    envelope = Signer(ES).sign(Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="it"))
    with pytest.raises(Poison, match="subject target 'fr' differs from envelope target 'it'"):
        DECODER.decode("corridor.direct.fr.es.PlacementConfirmed", envelope.encode())


def test_an_unsigned_shared_event_is_poison():
    envelope = Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es")
    with pytest.raises(Poison, match="bad signature: the event is not signed"):
        DECODER.decode(subjects.for_envelope(envelope, node="es"), envelope.encode())


def test_a_local_event_type_arriving_on_a_corridor_subject_is_poison():
    envelope = Signer(ES).sign(Envelope.wrap(SAMPLES["VolunteerErased"], origin="es"))
    with pytest.raises(Poison, match="VolunteerErased is a local event, received as bcast"):
        DECODER.decode("corridor.bcast.es.VolunteerErased", envelope.encode())


def test_a_payload_that_breaks_its_schema_is_poison_and_the_reason_names_the_field():
    wire = Envelope.wrap(SAMPLES["OpportunityClosed"], origin="fr").to_wire()
    wire["payload"]["slots_free"] = -1
    data = json.dumps(Signer(FR).sign(Envelope.model_validate(wire)).to_wire()).encode()
    with pytest.raises(Poison, match=r"payload schema violation \(OpportunityClosed v1\): slots_free"):
        DECODER.decode("corridor.bcast.fr.OpportunityClosed", data)


def test_an_unknown_version_is_poison():
    envelope = Envelope.wrap(SAMPLES["VolunteerErased"], origin="fr").model_copy(update={"version": 7})
    with pytest.raises(Poison, match="unknown event VolunteerErased v7 \\(this node knows up to v1\\)"):
        DECODER.decode("node.fr.VolunteerErased", envelope.encode())


@pytest.fixture
def two_versions():
    """A test-only event published in v1 and v2, the v2 splitting a field, with its upcaster."""

    class HoursNotedV1(Event):
        TYPE: ClassVar[str] = "HoursNoted"
        VERSION: ClassVar[int] = 1
        SCOPE: ClassVar[Scope] = Scope.LOCAL
        minutes: int

    class HoursNotedV2(Event):
        TYPE: ClassVar[str] = "HoursNoted"
        VERSION: ClassVar[int] = 2
        SCOPE: ClassVar[Scope] = Scope.LOCAL
        hours: int
        minutes: int

    @CATALOGUE.upcaster("HoursNoted", from_version=1)
    def split(payload):
        return {"hours": payload["minutes"] // 60, "minutes": payload["minutes"] % 60}

    try:
        yield HoursNotedV1, HoursNotedV2
    finally:
        CATALOGUE.unregister("HoursNoted", 2)
        CATALOGUE.unregister("HoursNoted", 1)


def test_an_older_version_is_upcast_on_receipt(two_versions):
    v1, v2 = two_versions
    envelope = Envelope.wrap(v1(minutes=135), origin="fr")
    incoming = DECODER.decode("node.fr.HoursNoted", envelope.encode())
    assert incoming.event == v2(hours=2, minutes=15)
    assert incoming.envelope.version == 1  # the envelope says what was sent


def test_without_an_upcaster_an_older_version_is_poison(two_versions):
    v1, _ = two_versions
    CATALOGUE._upcasters.pop(("HoursNoted", 1))
    envelope = Envelope.wrap(v1(minutes=135), origin="fr")
    with pytest.raises(Poison, match="no upcaster from HoursNoted v1"):
        DECODER.decode("node.fr.HoursNoted", envelope.encode())


def test_an_event_older_than_the_replay_window_is_poison():
    from datetime import datetime, timedelta, timezone

    window = Decoder("fr", Verifier({"es": public_key_of(ES)}), replay_window=timedelta(days=90))
    old = Signer(ES).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es",
                                        occurred_at=datetime.now(timezone.utc) - timedelta(days=91)))
    with pytest.raises(Poison, match="stale: occurred .*, before the 90-day window"):
        window.decode(subjects.for_envelope(old, node="es"), old.encode())
    recent = Signer(ES).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es",
                                           occurred_at=datetime.now(timezone.utc) - timedelta(days=89)))
    assert window.decode(subjects.for_envelope(recent, node="es"), recent.encode()).event == SAMPLES["OpportunityPublished"]


def test_an_event_dated_beyond_the_clock_skew_is_poison_local_or_shared():
    from datetime import datetime, timedelta, timezone

    decoder = Decoder("fr", Verifier({"es": public_key_of(ES)}), max_clock_skew=timedelta(minutes=5))
    now = datetime.now(timezone.utc)
    ahead = Signer(ES).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es", occurred_at=now + timedelta(minutes=6)))
    with pytest.raises(Poison, match="from the future: occurred_at .* by more than the 300 s"):
        decoder.decode(subjects.for_envelope(ahead, node="es"), ahead.encode())
    local = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="fr", occurred_at=now + timedelta(days=365))
    with pytest.raises(Poison, match="from the future"):
        decoder.decode("node.fr.VolunteerRegistered", local.encode())
    within = Signer(ES).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin="es", occurred_at=now + timedelta(minutes=4)))
    assert decoder.decode(subjects.for_envelope(within, node="es"), within.encode()).event == SAMPLES["OpportunityPublished"]
