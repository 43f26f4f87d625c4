"""The committed JSON Schemas are the models, and a published version never changes incompatibly."""

from __future__ import annotations

import json
import shutil
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel

from corridor_contracts import CATALOGUE, jsonschemas
from corridor_contracts.compatibility import breaking_changes


def test_committed_schemas_equal_the_models():
    generated, committed = jsonschemas.generated(), jsonschemas.committed()
    assert sorted(committed) == sorted(generated), "run `make schemas` and commit contracts/.../schemas"
    for name in generated:
        assert committed[name] == generated[name], f"{name} differs from its model: run `make schemas`"


def test_every_version_after_the_first_has_an_upcaster_from_the_one_before():
    for cls in CATALOGUE:
        for older in range(1, cls.VERSION):
            assert CATALOGUE.has_upcaster(cls.TYPE, older), f"{cls.TYPE} v{older} → v{older + 1} has no upcaster"


@pytest.fixture
def published(tmp_path):
    """A copy of the committed schemas, to play the part of what partners already run."""
    directory = tmp_path / "schemas"
    shutil.copytree(jsonschemas.SCHEMA_DIR, directory)
    return directory


def _edit(directory, name, change):
    path = directory / name
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema))


def test_check_passes_on_the_committed_schemas(published):
    assert jsonschemas.main(["--check", "--dir", str(published)]) == 0


def test_removing_a_field_of_a_published_version_fails_the_check(published, capsys):
    # The published schema had a field the model no longer has: as if the model dropped it.
    def had_more(schema):
        schema["$defs"]["PlacementRequested"]["properties"]["priority"] = {"type": "integer"}
        schema["$defs"]["PlacementRequested"]["required"].append("priority")

    _edit(published, "PlacementRequested.v1.json", had_more)
    assert jsonschemas.main(["--check", "--dir", str(published)]) == 1
    assert "PlacementRequested.v1.json: breaking change to a published version: .payload.priority: field removed" in capsys.readouterr().err
    assert jsonschemas.main(["--dir", str(published)]) == 1  # and the writer refuses to overwrite it


def test_a_new_required_field_in_a_published_version_fails_the_check(published, capsys):
    def had_less(schema):
        defs = schema["$defs"]["PlacementConfirmed"]
        del defs["properties"]["slots_free"]
        defs["required"].remove("slots_free")

    _edit(published, "PlacementConfirmed.v1.json", had_less)
    assert jsonschemas.main(["--check", "--dir", str(published)]) == 1
    assert ".payload.slots_free: field added as required" in capsys.readouterr().err


def test_a_removed_published_version_fails_the_check(published, capsys):
    (published / "PlacementConfirmed.v0.json").write_text((published / "PlacementConfirmed.v1.json").read_text())
    assert jsonschemas.main(["--check", "--dir", str(published)]) == 1
    assert "PlacementConfirmed.v0.json: committed, but no model has this type and version" in capsys.readouterr().err


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Colour3(StrEnum):
    RED = "red"
    BLUE = "blue"
    GREEN = "green"


class Old(BaseModel):
    """Old."""

    count: int
    colour: Colour
    label: str | None = None


def _breaks(new_model) -> list[str]:
    return breaking_changes(Old.model_json_schema(), new_model.model_json_schema())


def test_compatible_changes_are_documentation_and_new_optional_fields():
    class New(BaseModel):
        """Documented differently."""

        count: int
        colour: Colour
        label: str | None = None
        note_for_hosts: str | None = None

    assert _breaks(New) == []


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"count": (str, ...), "colour": (Colour, ...)}, "'type' changed from 'integer' to 'string'"),
        ({"count": (int, ...), "colour": (Colour3, ...)}, "'enum' changed"),
        ({"count": (int, ...), "colour": (Literal["red"], ...)}, "changed"),
        ({"count": (int, ...), "colour": (Colour, ...), "label": (str, ...)}, ".label: field newly required"),
        ({"count": (int, ...)}, ".colour: field removed"),
        ({"count": (int, 0), "colour": (Colour, ...)}, ".count: field no longer required"),
    ],
)
def test_breaking_changes_are_found(fields, expected):
    from pydantic import create_model

    new = create_model("Old", **fields)
    found = _breaks(new)
    assert any(expected in f for f in found), found
