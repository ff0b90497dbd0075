"""Outbound SMS senders: Twilio's REST API through the official library, or the log.

`SmsSender.send` returns the provider's message sid, or raises `TransientSendError` (worth
retrying: 5xx, 429, connection errors, timeouts) or `PermanentSendError` (a 4xx other than 429,
e.g. an invalid number: retrying will not help). The outbox worker (bot.services.outbox) is
the only caller.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

if TYPE_CHECKING:
    from twilio.http.response import Response

    from bot.config import Settings

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
TIMEOUT_SECONDS = 10.0


class SendError(Exception):
    """Sending failed. `status` is the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class TransientSendError(SendError):
    """Worth retrying later: 5xx, 429, connection errors, timeouts. `retry_after`: the seconds
    the provider asked us to wait (its Retry-After header), when it said."""

    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds ("30") or an HTTP date; None when
    absent or unreadable, 0 for a moment already past."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class PermanentSendError(SendError):
    """Retrying will not help: a 4xx other than 429 (invalid number, unverified sender...)."""


class SmsSender(Protocol):
    def send(self, to: str, body: str, status_callback: str | None) -> str: ...


class RebasingHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending to `base_url` instead of https://api.twilio.com
    (a mock such as Prism in tests, or a regional edge), with a short timeout."""

    def __init__(self, base_url: str = TWILIO_API, timeout: float = TIMEOUT_SECONDS):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self._last = threading.local()  # per sending thread: the library keeps no headers

    def retry_after(self) -> float | None:
        """The Retry-After of this thread's last answer, if it was a 429 or a 503."""
        return getattr(self._last, "retry_after", None)

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API) and self.base_url != TWILIO_API:
            url = self.base_url + url[len(TWILIO_API) :]
        self._last.retry_after = None
        response = super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code in (429, 503) and response.headers is not None:
            self._last.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return response


def classify(exc: BaseException) -> SendError:
    """Map what the twilio library or requests raised to a transient or permanent error."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, TwilioRestException):
        status = int(exc.status)
        text = f"twilio {status}" + (f" code {exc.code}" if exc.code else "") + f": {exc.msg}"
        if status == 429 or status >= 500:
            return TransientSendError(text, status=status, code=exc.code)
        return PermanentSendError(text, status=status, code=exc.code)
    if isinstance(exc, requests.RequestException):
        # Connection refused/reset, DNS, timeouts, chunked-encoding errors: the request may
        # not have arrived (or its answer was lost); the worker decides what a retry means.
        return TransientSendError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, TwilioException | ValueError):
        # e.g. an unparseable answer from the API (a proxy's HTML error page).
        return TransientSendError(f"{type(exc).__name__}: {exc}")
    return TransientSendError(f"{type(exc).__name__}: {exc}")


class TwilioSender:
    """Sends through `Client.messages.create` (POST /2010-04-01/Accounts/{sid}/Messages.json)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str = TWILIO_API,
        timeout: float = TIMEOUT_SECONDS,
    ):
        if not from_number and not messaging_service_sid:
            raise ValueError("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.http_client = RebasingHttpClient(base_url, timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        kwargs: dict[str, str] = {"to": to, "body": body}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            assert self.from_number is not None
            kwargs["from_"] = self.from_number
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, TransientSendError) and error.retry_after is None:
                error.retry_after = self.http_client.retry_after()
            raise error from exc
        if not message.sid:
            raise TransientSendError("twilio answered without a message sid")
        return str(message.sid)


class LogSender:
    """No Twilio account configured: the message is written to the log (make run, demos)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.log = logger or log
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        sid = "LOG" + uuid.uuid4().hex
        self.log.info("SMS (not sent, no Twilio account) %s to %s: %s", sid, to, body)
        self.sent.append((sid, to, body))
        return sid


def sender_from_settings(settings: Settings) -> SmsSender:
    """TwilioSender when TWILIO_ACCOUNT_SID is set, else LogSender."""
    if not settings.twilio_account_sid:
        return LogSender()
    if not settings.twilio_auth_token:
        raise ValueError("TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID")
    return TwilioSender(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        base_url=settings.twilio_api_base_url,
    )
