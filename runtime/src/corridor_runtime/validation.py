"""One way to say what is wrong with invalid input: every field, with its path."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError, *, limit: int = 10) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors()[:limit])
