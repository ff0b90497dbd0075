"""Named failures of the services, for entry points to map to replies or status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the rules refuse. `code` is stable, for responses and tests."""

    code = "refused"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.code)
        self.details = details


class NotFound(ServiceError):
    code = "not_found"


class NotVerified(ServiceError):
    code = "not_verified"


class VerificationLocked(ServiceError):
    code = "verification_locked"


class OnHold(ServiceError):
    """Collection on this account is paused (dispute, bankruptcy, attorney, distress...)."""

    code = "on_hold"


class Conflict(ServiceError):
    code = "conflict"
