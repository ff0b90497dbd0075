"""Twilio's webhooks: inbound SMS (POST /twilio/sms) and delivery status (POST /twilio/status).
Every request must carry a valid X-Twilio-Signature (403 and nothing stored otherwise)."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.gateway.turns import Inbound
from bot.services.delivery import update_status
from bot.services.verification import normalize_phone
from bot.web.deps import gateway, sessions, settings
from bot.web.limits import sms_limited

bp = Blueprint("sms", __name__)
log = logging.getLogger(__name__)


def signing_token() -> str | None:
    """The auth token signatures are checked with: TWILIO_AUTH_TOKEN, or in development a
    token generated into var/ so the local SMS simulator can sign exactly as Twilio does."""
    return current_app.extensions.get("twilio_token")


def url_twilio_called() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path when set (behind a proxy), else the
    request URL as seen through ProxyFix (X-Forwarded-Proto/Host honoured)."""
    base = settings().public_base_url
    if base:
        query = request.query_string.decode()
        return base.rstrip("/") + request.path + (f"?{query}" if query else "")
    return request.url


def twilio_signed(view):  # type: ignore[no-untyped-def]
    @wraps(view)
    def checked(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        token = signing_token()
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature or request.mimetype != "application/x-www-form-urlencoded":
            abort(403)
        params = request.form.to_dict(flat=True)
        if not RequestValidator(token).validate(url_twilio_called(), params, signature):
            abort(403)
        return view(*args, **kwargs)

    return checked


def twiml(bodies: list[str]) -> Response:
    response = MessagingResponse()
    for body in bodies:
        response.message(body)
    return Response(str(response), mimetype="text/xml")


def _field(name: str) -> str:
    """A form field as an identifier to store or look up: stripped, and empty unless it is
    printable text (a NUL or a control character is never part of a sid, a number or a status,
    and PostgreSQL refuses NUL outright)."""
    value = request.form.get(name, "").strip()
    return value if value.isprintable() else ""


@bp.post("/twilio/sms")
@twilio_signed
@sms_limited  # after the signature: an unsigned flood spends no real sender's budget
def inbound_sms() -> Response:
    form = request.form
    sid, sender = _field("MessageSid"), _field("From")
    if not sid or not sender:
        return Response("MessageSid and From are required", status=400, mimetype="text/plain")
    phone = normalize_phone(sender) or sender[:20]
    outcome = gateway().handle(
        Inbound(channel="sms", address=phone, text=form.get("Body", ""), provider_sid=sid[:64])
    )
    if outcome.in_progress:
        # Twilio retried while the first attempt is still being answered (or died without a
        # trace a moment ago): ask for another try rather than acknowledge a silence.
        return Response(status=503, headers={"Retry-After": "30"})
    return twiml(outcome.replies)


@bp.post("/twilio/status")
@twilio_signed
def delivery_status() -> Response:
    sid, status = _field("MessageSid"), _field("MessageStatus")
    if not sid or not status:
        return Response(
            "MessageSid and MessageStatus are required", status=400, mimetype="text/plain"
        )
    with sessions().begin() as session:
        update_status(session, sid[:64], status.lower()[:20], error=_field("ErrorCode") or None)
    return Response("", status=204)
