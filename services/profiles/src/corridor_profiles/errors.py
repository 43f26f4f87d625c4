"""What can go wrong in an operation, in the operator's terms; the API maps each to a 4xx."""

from __future__ import annotations


class ProfilesError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ProfilesError):
    status = 404

    def __init__(self, what: str, identifier: object) -> None:
        super().__init__(f"no {what} {identifier}")


class Conflict(ProfilesError):
    status = 409


class Invalid(ProfilesError):
    status = 422
