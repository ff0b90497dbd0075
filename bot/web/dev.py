"""Development tools: an SMS simulator (GET /dev/sms) so a new user can try the SMS flow
without a Twilio account. It posts to the app's own /twilio/sms signed exactly as Twilio signs,
so the real signature check runs. Registered only in development, and 404 anywhere else."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from twilio.request_validator import RequestValidator

from bot.services.account_record import accounts_with_phone
from bot.services.consent import is_opted_out
from bot.services.verification import normalize_phone
from bot.web.deps import sessions, settings

bp = Blueprint("dev", __name__, template_folder="../templates")

SMS_PATH = "/twilio/sms"
MAX_BODY = 1600  # Twilio's limit for one message
SIMULATOR_TO = "+15005550006"  # Twilio's magic test number; used when no number is configured
UNKNOWN_NUMBER = "+12065550100"


@bp.before_request
def _development_only() -> None:
    if settings().environment != "development":
        abort(404)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def _demo_numbers() -> list[dict[str, str]]:
    with sessions()() as db:
        numbers = [
            {
                "phone": a.phone,
                "label": f"{a.first_name} {a.last_name} ({a.account_ref})"
                # the bot answers only START and HELP from it: said, so silence is no surprise
                + (" - opted out: text START first" if is_opted_out(db, a.phone, "sms") else ""),
            }
            for a in accounts_with_phone(db, 20)
            if a.phone
        ]
    numbers.append({"phone": UNKNOWN_NUMBER, "label": "Unknown number (no account)"})
    return numbers


def _reply_bodies(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)  # noqa: S314  (our own /twilio/sms output)
    bodies = []
    for message in root.iter("Message"):
        body = message.find("Body")
        bodies.append("".join((body if body is not None else message).itertext()))
    return bodies


@bp.get("/dev/sms")
def simulator() -> str:
    return render_template(
        "dev_sms.html",
        company_name=settings().company_name,
        numbers=_demo_numbers(),
        max_body=MAX_BODY,
    )


@bp.post("/dev/sms/send")
def send() -> tuple[Response, int]:
    if request.headers.get("X-Requested-With") != "fetch":
        return jsonify(error="forbidden", message="Use the simulator page."), 403
    sender = normalize_phone(request.form.get("from", "").strip())
    body = request.form.get("body", "").strip()
    if not sender:
        return jsonify(error="bad_request", message="Pick a valid phone number to send from."), 400
    if not body or len(body) > MAX_BODY:
        return jsonify(
            error="bad_request", message=f"Type a message of 1 to {MAX_BODY:,} characters."
        ), 400
    token = current_app.extensions.get("twilio_token")
    if not token:
        return jsonify(error="unavailable", message="No Twilio signing token configured."), 503

    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": settings().twilio_account_sid or "AC" + "0" * 32,
        "From": sender,
        "To": settings().twilio_from_number or SIMULATOR_TO,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    # Sign the URL the forwarded request will be seen at, exactly as Twilio would: the public
    # base URL when one is configured, else this request's own scheme and host.
    base = request.host_url.rstrip("/")
    public = settings().public_base_url
    signed_url = (public.rstrip("/") if public else base) + SMS_PATH
    signature = RequestValidator(token).compute_signature(signed_url, params)
    forwarded = current_app.test_client().post(
        SMS_PATH,
        base_url=base + "/",
        data=params,
        headers={"X-Twilio-Signature": signature},
    )
    if forwarded.status_code != 200:
        return jsonify(
            error="webhook_failed",
            message=f"/twilio/sms answered {forwarded.status_code}.",
            status=forwarded.status_code,
        ), 502
    return jsonify(
        status=forwarded.status_code,
        message_sid=params["MessageSid"],
        replies=_reply_bodies(forwarded.get_data(as_text=True)),
    ), 200
