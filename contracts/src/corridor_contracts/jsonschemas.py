"""JSON Schemas of every event as it travels (envelope + typed payload), committed in `schemas/`.

    python -m corridor_contracts.jsonschemas          # write the schemas of new versions
    python -m corridor_contracts.jsonschemas --check  # exit 1 if the committed files differ

A published version is frozen: writing refuses to overwrite a committed schema with a breaking
change (see compatibility.py); publish the change as a new version with an upcaster instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, create_model

from . import events  # noqa: F401  (registers the catalogue)
from .catalogue import CATALOGUE, Event
from .compatibility import breaking_changes
from .envelope import Envelope

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@cache
def wire_model(cls: type[Event]) -> type[BaseModel]:
    """The envelope with this event's type, version and payload pinned."""
    return create_model(
        f"{cls.TYPE}V{cls.VERSION}",
        __base__=Envelope,
        __doc__=f"{cls.TYPE} v{cls.VERSION} ({cls.SCOPE.value}). {(cls.__doc__ or '').strip()}".strip(),
        type=(Literal[cls.TYPE], ...),  # type: ignore[valid-type]
        version=(Literal[cls.VERSION], ...),  # type: ignore[valid-type]
        payload=(cls, ...),
    )


def file_name(cls: type[Event]) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}.json"


def schema_of(cls: type[Event]) -> dict[str, Any]:
    schema = wire_model(cls).model_json_schema(mode="validation")
    schema["x-scope"] = cls.SCOPE.value
    return {"$schema": DIALECT, **schema}


def generated() -> dict[str, dict[str, Any]]:
    return {file_name(cls): schema_of(cls) for cls in CATALOGUE}


def committed(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on any difference")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)

    new, old = generated(), committed(args.dir)
    problems: list[str] = []
    for name in sorted(set(old) - set(new)):
        problems.append(f"{name}: committed, but no model has this type and version (a published version was removed)")
    for name, schema in sorted(new.items()):
        if name in old and old[name] != schema:
            breaking = breaking_changes(old[name], schema)
            if breaking:
                problems.append(f"{name}: breaking change to a published version: " + "; ".join(breaking))
            elif args.check:
                problems.append(f"{name}: differs from the model (compatible); run python -m corridor_contracts.jsonschemas")
        elif name not in old and args.check:
            problems.append(f"{name}: not committed yet; run python -m corridor_contracts.jsonschemas")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if not args.check:
        args.dir.mkdir(parents=True, exist_ok=True)
        for name, schema in new.items():
            (args.dir / name).write_text(render(schema))
        print(f"wrote {len(new)} schemas to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
