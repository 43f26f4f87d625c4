"""Whatever arrives on a consumed subject, decoding ends in an event or in Poison with a reason,
never in another exception: that is what keeps a consumer alive (hypothesis-generated messages)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor_contracts import CATALOGUE, Envelope, Sealer, Signer, Verifier, new_node_seed, public_key_of, sealing_key_of
from corridor_runtime.decoding import Decoder, Poison
from harness.samples import SAMPLES

FR, ES = new_node_seed(), new_node_seed()
KEYS = {"fr": sealing_key_of(FR), "es": sealing_key_of(ES)}
DECODER = Decoder("fr", Verifier({"fr": public_key_of(FR), "es": public_key_of(ES)}), Sealer("fr", FR, KEYS))
TYPES = sorted({cls.TYPE for cls in CATALOGUE})
SUBJECTS = st.one_of(
    st.sampled_from(TYPES).map(lambda t: f"node.fr.{t}"),
    st.sampled_from(TYPES).map(lambda t: f"corridor.bcast.es.{t}"),
    st.sampled_from(TYPES).map(lambda t: f"corridor.direct.fr.es.{t}"),
    st.text(max_size=40),
)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
                    max_leaves=20)


def _decode(subject: str, data: bytes) -> None:
    try:
        DECODER.decode(subject, data)
    except Poison as poison:
        assert str(poison)  # always a reason for the operator


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUBJECTS, st.binary(max_size=2000))
def test_arbitrary_bytes_are_an_event_or_poison(subject, data):
    _decode(subject, data)


@settings(max_examples=300, deadline=None)
@given(SUBJECTS, JSON)
def test_arbitrary_json_is_an_event_or_poison(subject, value):
    _decode(subject, json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.text(min_size=1, max_size=12), JSON, st.booleans())
def test_a_real_envelope_with_one_field_mangled_is_an_event_or_poison(event_type, key, value, in_payload):
    event = SAMPLES[event_type]
    scope = event.SCOPE.value
    origin = "fr" if scope == "local" else "es"
    envelope = Envelope.wrap(event, origin=origin, target="fr" if scope == "direct" else None)
    wire = envelope.to_wire()
    (wire["payload"] if in_payload else wire)[key] = value
    subject = {"local": f"node.fr.{event_type}", "bcast": f"corridor.bcast.es.{event_type}",
               "direct": f"corridor.direct.fr.es.{event_type}"}[scope]
    data = json.dumps(wire, default=str).encode()
    if scope != "local":  # signed (and sealed) as a peer would send it, so the mangling reaches the payload checks
        try:
            signed = Envelope.model_validate(wire)
            if scope == "direct":
                signed = Sealer("es", ES, KEYS).seal(signed)
            data = Signer(ES).sign(signed).encode()
        except ValueError:
            pass  # the mangling broke the envelope itself: sent unsigned, as a forger could
    _decode(subject, data)


def test_an_oversized_payload_is_poison():
    wire = Envelope.wrap(SAMPLES["VolunteerRegistered"], origin="fr").to_wire()
    wire["payload"]["profile"]["given_name"] = "x" * 1_000_000
    _decode("node.fr.VolunteerRegistered", json.dumps(wire).encode())
