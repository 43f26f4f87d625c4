"""The committed JSON Schemas describe the events as they really travel, for a partner who builds
its own node from them: real envelopes made by the corridor's own code (signed; addressed ones
sealed for their target) validate against the `.wire.json` schema of their type, and once opened
against the receiver's schema; and the schemas are accepted, and agree, in two independent
validators (Python's jsonschema and Ajv in strict mode)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from corridor_contracts import CATALOGUE, Envelope, Scope, Sealer, Signer, jsonschemas, new_node_seed
from corridor_contracts.sealing import sealing_key_of
from harness import ajv
from harness.samples import SAMPLES

SEEDS = {"fr": new_node_seed(), "es": new_node_seed()}
SEALERS = {node: Sealer(node, seed, {n: sealing_key_of(s) for n, s in SEEDS.items()}) for node, seed in SEEDS.items()}
SHARED = [cls for cls in CATALOGUE if cls.SCOPE is not Scope.LOCAL]


def travelling(event_type: str) -> dict:
    """The envelope as fr's code sends it: sealed for es if addressed, then signed."""
    event = SAMPLES[event_type]
    direct = event.SCOPE is Scope.DIRECT
    envelope = Envelope.wrap(event, origin="fr", target="es" if direct else None)
    if direct:
        envelope = SEALERS["fr"].seal(envelope)
    return Signer(SEEDS["fr"]).sign(envelope).to_wire()


def _errors(schema: dict, instance: dict) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance)]


COMMITTED = jsonschemas.committed()


def test_every_event_that_leaves_its_node_has_a_schema_of_its_travelling_form():
    assert sorted(n for n in COMMITTED if n.endswith(".wire.json")) == sorted(
        jsonschemas.file_name(cls, travelling=True) for cls in SHARED)
    assert jsonschemas.ENVELOPE in COMMITTED


@pytest.mark.parametrize("cls", SHARED, ids=lambda cls: f"{cls.TYPE}.v{cls.VERSION}")
def test_a_real_envelope_validates_as_it_travels_and_once_opened(cls):
    wire = travelling(cls.TYPE)
    assert _errors(COMMITTED[jsonschemas.file_name(cls, travelling=True)], wire) == []
    assert _errors(COMMITTED[jsonschemas.ENVELOPE], wire) == []
    opened = SEALERS["es"].open(Envelope.model_validate(wire)).to_wire() if cls.SCOPE is Scope.DIRECT else wire
    assert _errors(COMMITTED[jsonschemas.file_name(cls)], opened) == []


def test_the_travelling_form_refuses_what_receivers_refuse():
    broadcast, direct = travelling("OpportunityPublished"), travelling("PlacementRequested")
    broadcast_schema = COMMITTED["OpportunityPublished.v1.wire.json"]
    direct_schema = COMMITTED["PlacementRequested.v1.wire.json"]
    unsigned = {k: v for k, v in broadcast.items() if k != "signature"}
    assert any("'signature' is a required property" in e for e in _errors(broadcast_schema, unsigned))
    assert _errors(broadcast_schema, {**broadcast, "target": "es"})  # a broadcast is addressed to no one
    opened = SEALERS["es"].open(Envelope.model_validate(direct)).to_wire()
    assert _errors(direct_schema, {**opened, "signature": direct["signature"]})  # in clear: refused
    assert _errors(direct_schema, {k: v for k, v in direct.items() if k != "target"})
    assert _errors(direct_schema, {**direct, "type": "PlacementConfirmed"})


def test_ajv_in_strict_mode_compiles_every_schema_and_agrees_with_jsonschema():
    instances = []
    for cls in SHARED:
        wire = travelling(cls.TYPE)
        instances.append((jsonschemas.file_name(cls, travelling=True), wire))
        instances.append((jsonschemas.ENVELOPE, wire))
        instances.append((jsonschemas.file_name(cls, travelling=True), {k: v for k, v in wire.items()
                                                                       if k != "signature"}))
    checked = ajv.validate(COMMITTED, instances)
    assert checked["refused"] == {}
    verdicts = [(r["schema"], r["valid"]) for r in checked["results"]]
    expected = [(name, not _errors(COMMITTED[name], instance)) for name, instance in instances]
    assert verdicts == expected
    assert [valid for _, valid in verdicts].count(False) == len(SHARED)  # the unsigned ones, and only they
