"""A sample of every event validates against its committed schema with an independent validator
(jsonschema) and survives the trip through the wire encoding unchanged."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from corridor_contracts import CATALOGUE, Envelope, Scope, Signer, new_node_seed
from harness.samples import SAMPLES

SIGNER = Signer(new_node_seed())
SCHEMAS = {f"{cls.TYPE}": json.loads((__import__("corridor_contracts").jsonschemas.SCHEMA_DIR / f"{cls.TYPE}.v{cls.VERSION}.json").read_text()) for cls in CATALOGUE}


def test_there_is_a_sample_of_every_event():
    assert sorted(SAMPLES) == sorted({cls.TYPE for cls in CATALOGUE})


def _wire(event) -> Envelope:
    envelope = Envelope.wrap(event, origin="fr", target="es" if event.SCOPE is Scope.DIRECT else None)
    return SIGNER.sign(envelope) if event.SCOPE is not Scope.LOCAL else envelope


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_sample_validates_against_the_committed_schema(event_type):
    wire = json.loads(_wire(SAMPLES[event_type]).encode())
    validator = Draft202012Validator(SCHEMAS[event_type], format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(wire)]
    assert errors == []


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_sample_round_trips_through_the_wire(event_type):
    event = SAMPLES[event_type]
    envelope = _wire(event)
    received = Envelope.model_validate_json(envelope.encode())
    assert received == envelope
    assert type(event).model_validate(received.payload) == event


@pytest.mark.parametrize("event_type", ["PlacementRequested", "OpportunityPublished"])
def test_the_schema_rejects_what_the_model_rejects(event_type):
    wire = json.loads(_wire(SAMPLES[event_type]).encode())
    validator = Draft202012Validator(SCHEMAS[event_type], format_checker=FormatChecker())
    wrong_type = {**wire, "type": "PlacementConfirmed"}
    no_payload_id = {**wire, "payload": {k: v for k, v in wire["payload"].items() if not k.endswith("_id")}}
    bad_time = {**wire, "occurred_at": "yesterday"}
    for bad in (wrong_type, no_payload_id, bad_time):
        assert not validator.is_valid(bad)
