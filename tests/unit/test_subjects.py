from __future__ import annotations

import pytest

from corridor_contracts import Envelope, Scope, subjects
from harness.samples import SAMPLES


def test_each_scope_has_its_subject():
    local = Envelope.wrap(SAMPLES["VolunteerErased"], origin="fr")
    bcast = Envelope.wrap(SAMPLES["OpportunityClosed"], origin="es")
    direct = Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es", target="fr")
    assert subjects.for_envelope(local, node="fr") == "node.fr.VolunteerErased"
    assert subjects.for_envelope(bcast, node="es") == "corridor.bcast.es.OpportunityClosed"
    assert subjects.for_envelope(direct, node="es") == "corridor.direct.fr.es.PlacementConfirmed"


def test_subjects_parse_back():
    parts = subjects.parse("corridor.direct.fr.es.PlacementConfirmed")
    assert (parts.scope, parts.target, parts.origin, parts.event_type) == (Scope.DIRECT, "fr", "es", "PlacementConfirmed")
    assert subjects.parse("node.fr.VolunteerErased").scope is Scope.LOCAL
    with pytest.raises(ValueError):
        subjects.parse("corridor.bcast.es")


def test_addressed_events_need_a_target_and_others_refuse_one():
    with pytest.raises(ValueError, match="needs a target"):
        Envelope.wrap(SAMPLES["PlacementConfirmed"], origin="es")
    with pytest.raises(ValueError, match="takes no target"):
        Envelope.wrap(SAMPLES["OpportunityClosed"], origin="es", target="fr")
