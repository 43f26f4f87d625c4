"""JSON Schemas of every event, committed in `schemas/`:

- `<Type>.v<N>.json`: the event as its receiver reads it (the envelope with the typed payload in
  clear; for an addressed event, once its payload was opened);
- `<Type>.v<N>.wire.json`, for every event that leaves its node: the envelope exactly as it travels
  between nodes (signed; an addressed event sealed for its target: `payload` is `{}` and the
  payload is the `sealed` box);
- `envelope.json`: any envelope, whatever its type.


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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, create_model

from . import events  # noqa: F401  (registers the catalogue)
from .catalogue import CATALOGUE, Event, Scope
from .compatibility import breaking_changes
from .envelope import Envelope
from .types import NodeId

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE = "envelope.json"


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


Base64url = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
Signature = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$"), Field(
    description="ed25519 signature (64 bytes, base64url without padding) of the envelope's canonical bytes")]
SealedBox = Annotated[Base64url, Field(
    description="the payload's canonical JSON in a crypto_box for the target node (nonce first; base64url without padding)")]
NoPayload = Annotated[dict[str, Any], Field(max_length=0, description="empty: the payload is in `sealed`")]


@cache
def travelling_model(cls: type[Event]) -> type[BaseModel]:
    """The envelope of an event that leaves its node, as it travels: signed, with no target if it is
    broadcast; addressed to its target and sealed for it if it is direct."""
    pinned: dict[str, Any] = {
        "type": (Literal[cls.TYPE], ...),  # type: ignore[valid-type]
        "version": (Literal[cls.VERSION], ...),  # type: ignore[valid-type]
        "signature": (Signature, ...),
    }
    if cls.SCOPE is Scope.DIRECT:
        pinned.update(target=(NodeId, ...), payload=(NoPayload, ...), sealed=(SealedBox, ...))
    else:
        pinned.update(target=(None, None), payload=(cls, ...), sealed=(None, None))
    return create_model(
        f"{cls.TYPE}V{cls.VERSION}Travelling",
        __base__=Envelope,
        __doc__=f"{cls.TYPE} v{cls.VERSION} ({cls.SCOPE.value}) as it travels between nodes.",
        **pinned,
    )


def file_name(cls: type[Event], *, travelling: bool = False) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}{'.wire' if travelling else ''}.json"


def schema_of(cls: type[Event], *, travelling: bool = False) -> dict[str, Any]:
    model = travelling_model(cls) if travelling else wire_model(cls)
    schema = model.model_json_schema(mode="validation")
    schema["$comment"] = f"scope: {cls.SCOPE.value}"
    return {"$schema": DIALECT, **schema}


def generated() -> dict[str, dict[str, Any]]:
    schemas = {ENVELOPE: {"$schema": DIALECT, **Envelope.model_json_schema(mode="validation")}}
    for cls in CATALOGUE:
        schemas[file_name(cls)] = schema_of(cls)
        if cls.SCOPE is not Scope.LOCAL:
            schemas[file_name(cls, travelling=True)] = schema_of(cls, travelling=True)
    return schemas


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
