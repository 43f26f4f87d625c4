"""Is a new JSON Schema of a published event version still compatible with the old one?

Partners upgrade at different times, so a published (type, version) must keep meaning the same
thing in both directions: old senders to new receivers, new senders to old receivers (who ignore
unknown fields). Compatible: documentation changes and new optional fields. Breaking: everything
else that changes what validates (a field removed or newly required, a type, format, pattern,
enum, bound or const changed).
"""

from __future__ import annotations

from typing import Any

# "x-scope" named an event's scope in the first published schemas; it never constrained what validates
# (and strict validators refuse unknown keywords): the scope is in "$comment" now.
_DOCUMENTATION = {"title", "description", "examples", "default", "$schema", "$defs", "$comment", "x-scope"}


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "", found, set())
    return found


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"), {})
    return schema


def _compare(old, new, old_defs, new_defs, path, found, seen) -> None:
    key = (id(old), id(new))
    if key in seen:
        return
    seen.add(key)
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    where = path or "(root)"

    for keyword in sorted((set(old) | set(new)) - _DOCUMENTATION - {"properties", "required", "items", "anyOf", "oneOf", "allOf", "$ref", "prefixItems"}):
        if old.get(keyword) != new.get(keyword):
            found.append(f"{where}: '{keyword}' changed from {old.get(keyword)!r} to {new.get(keyword)!r}")

    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(set(old_props) - set(new_props)):
        found.append(f"{path}.{name}: field removed")
    for name in sorted(new_required - old_required):
        found.append(f"{path}.{name}: field " + ("newly required" if name in old_props else "added as required"))
    for name in sorted(old_required - new_required):
        if name in new_props:
            found.append(f"{path}.{name}: field no longer required (old receivers reject its absence)")
    for name in sorted(set(old_props) & set(new_props)):
        _compare(old_props[name], new_props[name], old_defs, new_defs, f"{path}.{name}", found, seen)

    for keyword in ("items",):
        if keyword in old or keyword in new:
            if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
                _compare(old[keyword], new[keyword], old_defs, new_defs, f"{path}[]", found, seen)
            elif old.get(keyword) != new.get(keyword):
                found.append(f"{where}: 'items' changed")

    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        old_list, new_list = old.get(keyword, []), new.get(keyword, [])
        if len(old_list) != len(new_list):
            found.append(f"{where}: '{keyword}' has {len(new_list)} alternatives instead of {len(old_list)}")
            continue
        for i, (o, n) in enumerate(zip(old_list, new_list)):
            _compare(o, n, old_defs, new_defs, f"{path}<{keyword}{i}>", found, seen)
