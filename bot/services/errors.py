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


class RescheduleRefused(ServiceError):
    """A payment date cannot be moved as asked (bot.services.plans.reschedule_payment)."""

    code = "reschedule_refused"


class NothingToReschedule(RescheduleRefused):
    """No scheduled installment of an active plan and no open promise whose date may move."""

    code = "nothing_to_reschedule"


class RescheduleDateInPast(RescheduleRefused):
    """The new date is today or earlier: a moved payment must be due after today."""

    code = "reschedule_date_in_past"


class RescheduleTooLate(RescheduleRefused):
    """The new date is after the latest allowed; `details["latest"]` is that date."""

    code = "reschedule_too_late"
