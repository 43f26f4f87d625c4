"""Shared events are signed by their origin's nkey and forgeries are rejected."""

from __future__ import annotations

import json

import pytest

from corridor_contracts import Envelope, SignatureError, Signer, Verifier, canonical_bytes, new_node_seed, public_key_of
from harness.samples import SAMPLES

FR, ES = new_node_seed(), new_node_seed()
VERIFIER = Verifier({"fr": public_key_of(FR), "es": public_key_of(ES)})


def signed(seed=FR, origin="fr"):
    return Signer(seed).sign(Envelope.wrap(SAMPLES["OpportunityPublished"], origin=origin))


def test_node_keys_are_nkeys():
    assert FR.startswith(b"SN") and public_key_of(FR).startswith("N") and len(public_key_of(FR)) == 56


def test_a_signed_event_verifies_as_received():
    VERIFIER.verify(json.loads(signed().encode()))


def test_the_canonical_encoding_ignores_key_order_and_spacing():
    wire = json.loads(signed().encode())
    reordered = json.loads(json.dumps(dict(reversed(list(wire.items()))), indent=2))
    assert canonical_bytes(reordered) == canonical_bytes(wire)
    VERIFIER.verify(reordered)


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda w: w["payload"].update(slots_free=0), "does not match"),
        (lambda w: w.update(occurred_at="2020-01-01T00:00:00Z"), "does not match"),
        (lambda w: w.update(origin="es"), "does not match"),  # claims another origin
        (lambda w: w.update(origin="xx"), "not a node of the registry"),
        (lambda w: w.pop("signature"), "not signed"),
        (lambda w: w.update(signature="!!"), "does not match"),
    ],
)
def test_tampered_events_are_rejected(tamper, reason):
    wire = json.loads(signed().encode())
    tamper(wire)
    with pytest.raises(SignatureError, match=reason):
        VERIFIER.verify(wire)


def test_an_event_signed_with_another_nodes_key_is_a_forgery():
    forged = json.loads(signed(seed=ES, origin="fr").encode())
    with pytest.raises(SignatureError, match="does not match origin 'fr'"):
        VERIFIER.verify(forged)


def test_a_bad_public_key_in_the_registry_is_refused():
    with pytest.raises(SignatureError):
        Verifier({"fr": "N" + "A" * 55})
