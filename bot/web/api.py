"""The JSON API for integrations (interfaces.md section 3): accounts, transcripts and the
handoff queue.

Every route takes `Authorization: Bearer <token>` of a staff user (`api_auth`). Errors are
always JSON `{"error": "..."}`: 400 bad input, 401/403 from `api_auth`, 404 unknown ids and
unknown routes under /api/v1, 405, 409 conflicts; never an HTML page, never a bare 500.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as HTTPNotFound

from bot.db import utcnow
from bot.domain.redaction import redact
from bot.domain.text import well_formed
from bot.models import (
    Account,
    Conversation,
    Message,
)
from bot.services import handoff as handoff_service
from bot.services import transcripts
from bot.services.account_record import account_by_ref, account_record
from bot.services.audit import AuditAction, audit
from bot.services.balances import itemization
from bot.services.consent import has_ceased, is_opted_out, is_wrong_number, preference_of
from bot.services.conversations import local_today
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.holds import active_holds
from bot.services.outbox import MAX_BODY, OPT_OUT_LINE
from bot.web.auth import api_auth, api_error
from bot.web.deps import resume_bot, sessions, settings
from bot.wording import render

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)

HANDOFF_STATUSES = ("waiting", "active", "closed")
#: Room for the opt-out line queue_message appends to an initiated SMS (rule 5).
MAX_TEXT = MAX_BODY - len(OPT_OUT_LINE) - 1


# ------------------------------------------------------------------------------ errors


def _is_api(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


@bp.before_app_request
def _routing_errors() -> Any:
    """Unknown paths and methods under /api/v1 never reach a blueprint error handler (the
    route did not match), so answer them here, before the app's HTML error pages."""
    exc = request.routing_exception
    if exc is None or not _is_api(request.path):
        return None
    if isinstance(exc, MethodNotAllowed):
        response, status = api_error(405, "method not allowed")
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
        return response, status
    if isinstance(exc, HTTPNotFound):
        return api_error(404, "no such route")
    return None  # e.g. a redirect to the canonical URL


def _service_error(exc: ServiceError) -> tuple[Response, int]:
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400
    return jsonify(error=str(exc), code=exc.code), status


@bp.errorhandler(ServiceError)
def _on_service_error(exc: ServiceError) -> tuple[Response, int]:
    return _service_error(exc)


@bp.errorhandler(HTTPException)
def _on_http_error(exc: HTTPException) -> tuple[Response, int]:
    return api_error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(Exception)
def _on_unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("API request failed: %s %s", request.method, request.path)
    return api_error(500, "internal error")


# ------------------------------------------------------------------------------ shapes


def money(cents: int) -> str:
    """136937 -> "1369.37", -500 -> "-5.00": a decimal string, never a float."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars}.{rest:02d}"


def _amount(prefix: str, cents: int | None) -> dict[str, Any]:
    return {
        prefix: money(cents) if cents is not None else None,
        f"{prefix}_cents": cents,
    }


def _iso(value: date | datetime | time | None) -> str | None:
    return value.isoformat() if value is not None else None


def _handoff_json(row: handoff_service.HandoffRow) -> dict[str, Any]:
    handoff, conversation = row.handoff, row.conversation
    return {
        "id": handoff.id,
        "conversation_id": handoff.conversation_id,
        "account_ref": row.account_ref,
        "channel": conversation.channel,
        "reason": handoff.reason,
        "urgent": handoff.urgent,
        "status": handoff.status,
        "agent": row.agent_email,
        "created_at": _iso(handoff.created_at),
        "claimed_at": _iso(handoff.claimed_at),
        "released_at": _iso(handoff.released_at),
        "closed_at": _iso(handoff.closed_at),
    }


def _one_handoff(session: Session, handoff_id: int) -> dict[str, Any]:
    rows = handoff_service.handoff_rows(session, handoff_id=handoff_id)
    if not rows:
        raise NotFound("no such handoff")
    return _handoff_json(rows[0])


def _audit(
    session: Session,
    action: str,
    target_type: str | None,
    target_id: str | int | None,
    **detail: Any,
) -> None:
    audit(
        session,
        action,
        user=g.api_user,  # a Staff snapshot: .id and .email are all audit() reads
        target_type=target_type,
        target_id=target_id,
        ip=request.remote_addr,
        detail={"via": "api", **detail},
    )


# ------------------------------------------------------------------------------ accounts


@bp.get("/accounts/<account_ref>")
@api_auth("agent", "compliance", "admin")
def account(account_ref: str):  # type: ignore[no-untyped-def]
    now = utcnow()
    with sessions().begin() as session:
        acct = account_by_ref(session, account_ref)
        if acct is None:
            return api_error(404, "no such account")
        _audit(session, "api.account.view", "account", acct.account_ref)
        return jsonify(_account_json(session, acct, now))


def _account_json(session: Session, acct: Account, now: datetime) -> dict[str, Any]:
    items = itemization(session, acct, local_today(acct, now))
    holds = active_holds(session, acct.id)
    disputed_ids = {h.charge_id for h in holds if h.charge_id is not None}
    record = account_record(session, acct.id)
    charges = {c.id: c for c in record.charges}

    def charge_ref(charge_id: int | None) -> dict[str, Any] | None:
        c = charges.get(charge_id) if charge_id is not None else None
        if c is None:
            return None
        return {
            "id": c.id,
            "posted_on": _iso(c.posted_on),
            "description": c.description,
            "kind": c.kind,
            **_amount("amount", c.amount_cents),
        }

    balance: dict[str, Any] = {"as_of": _iso(items.as_of)}
    for name, cents in (
        ("total", items.total_cents),
        ("principal", items.principal_cents),
        ("interest", items.interest_cents),
        ("fees", items.fees_cents),
        ("payments", items.payments_cents),
        ("adjustments", items.adjustments_cents),
        ("disputed", items.disputed_cents),
        ("collectible", items.collectible_cents),
    ):
        balance.update(_amount(name, cents))

    pref = preference_of(session, acct.id)
    phone = acct.phone
    return {
        "account_ref": acct.account_ref,
        "creditor": acct.creditor,
        "state": acct.state,
        "delinquent_since": _iso(acct.delinquent_since),
        "last_payment_date": _iso(acct.last_payment_date),
        "balance": balance,
        "charges": [
            {
                "id": line.charge_id,
                "posted_on": _iso(line.posted_on),
                "description": line.description,
                "kind": str(line.kind),
                **_amount("amount", line.amount_cents),
                "disputed": line.charge_id in disputed_ids,
            }
            for line in items.charges
        ],
        "plans": [
            {
                "id": p.id,
                "option_key": p.option_key,
                "kind": p.kind,
                "frequency": p.frequency,
                "status": p.status,
                **_amount("balance", p.balance_cents),
                **_amount("total", p.total_cents),
                "created_by": p.created_by,
                "created_at": _iso(p.created_at),
                "ended_at": _iso(p.ended_at),
                "installments": [
                    {
                        "seq": i.seq,
                        "due_on": _iso(i.due_on),
                        **_amount("amount", i.amount_cents),
                        "status": i.status,
                    }
                    for i in p.installments
                ],
            }
            for p in record.plans
        ],
        "promises": [
            {
                "id": p.id,
                **_amount("amount", p.amount_cents),
                "due_on": _iso(p.due_on),
                "status": p.status,
                "created_by": p.created_by,
                "created_at": _iso(p.created_at),
            }
            for p in record.promises
        ],
        "disputes": [
            {
                "reference": d.reference,
                "status": d.status,
                "reason": d.reason,
                "charge": charge_ref(d.charge_id),  # None: the whole debt
                "created_at": _iso(d.created_at),
                "verification_sent_at": _iso(d.verification_sent_at),
            }
            for d in record.disputes
        ],
        "holds": [
            {
                "id": h.id,
                "reason": h.reason,
                "charge_id": h.charge_id,
                "created_by": h.created_by,
                "created_at": _iso(h.created_at),
            }
            for h in holds
        ],
        "hardship_records": [
            {
                "id": r.id,
                "category": r.category,
                "temporary": r.temporary,
                **_amount("affordable_monthly", r.affordable_monthly_cents),
                "note": redact(r.note).text if r.note else None,
                "created_by": r.created_by,
                "created_at": _iso(r.created_at),
            }
            for r in record.hardships
        ],
        "validation_requests": [
            {
                "reference": v.reference,
                "kind": v.kind,
                "status": v.status,
                "created_at": _iso(v.created_at),
                "sent_at": _iso(v.sent_at),
            }
            for v in record.validations
        ],
        "contact": {
            "phone": phone,
            "opted_out": {
                "sms": is_opted_out(session, phone, "sms") if phone else False,
                "voice": is_opted_out(session, phone, "voice") if phone else False,
                "email": is_opted_out(session, acct.email, "email") if acct.email else False,
            },
            "ceased": has_ceased(session, acct.id),
            "wrong_number": is_wrong_number(session, phone, acct.id) if phone else False,
            "preferences": None
            if pref is None
            else {
                "channels": sorted(str(c) for c in pref.channels) if pref.channels else None,
                "earliest": _iso(pref.earliest),
                "latest": _iso(pref.latest),
                "avoid_work_hours": pref.avoid_work_hours,
                "avoid_weekends": pref.avoid_weekends,
            },
        },
    }


# ------------------------------------------------------------------------------ transcripts

MAX_PER_PAGE = 200


@bp.get("/conversations")
@api_auth("compliance", "admin")
def list_conversations():  # type: ignore[no-untyped-def]
    """Conversation summaries with their flags and check hits, newest first, paged."""
    try:
        per_page = min(max(int(request.args.get("per_page") or 50), 1), MAX_PER_PAGE)
    except ValueError:
        return api_error(400, "per_page must be a number")
    filters = transcripts.SearchFilters.from_args(request.args, per_page=per_page)
    with sessions().begin() as session:
        page = transcripts.search(session, filters, company_name=settings().company_name)
        _audit(
            session, AuditAction.TRANSCRIPT_SEARCH, "conversation", None,
            filters=filters.query_args(), results=page.total,
        )  # fmt: skip
        return jsonify(page.as_dict())


@bp.get("/conversations/<conversation_id>")
@api_auth("agent", "compliance", "admin")
def conversation(conversation_id: str):  # type: ignore[no-untyped-def]
    """The whole transcript. Agents see only conversations whose handoff they handled."""
    with sessions().begin() as session:
        if session.get(Conversation, conversation_id) is None:
            return api_error(404, "no such conversation")
        if g.api_user.role == "agent" and not transcripts.handled_by(
            session, conversation_id, g.api_user.id
        ):
            return api_error(403, "agents see only the conversations they handled")
        transcript = transcripts.load_transcript(
            session, conversation_id, company_name=settings().company_name
        )
        _audit(session, AuditAction.TRANSCRIPT_VIEW, "conversation", conversation_id)
        return jsonify(transcript.as_dict())


# ------------------------------------------------------------------------------ handoffs


@bp.get("/handoffs")
@api_auth("agent", "admin")
def list_handoffs():  # type: ignore[no-untyped-def]
    status = request.args.get("status")
    if status is not None and status not in HANDOFF_STATUSES:
        return api_error(400, f"status must be one of {', '.join(HANDOFF_STATUSES)}")
    with sessions()() as session:
        rows = handoff_service.handoff_rows(session, status=status)
        return jsonify(handoffs=[_handoff_json(row) for row in rows])


@bp.post("/handoffs/<int:handoff_id>/claim")
@api_auth("agent")
def claim(handoff_id: int):  # type: ignore[no-untyped-def]
    with sessions().begin() as session:
        handoff_service.claim(session, handoff_id, g.api_user.id, now=utcnow())
        _audit(session, "api.handoff.claim", "handoff", handoff_id)
        body = _one_handoff(session, handoff_id)
    return jsonify(body)


def _reply_text() -> str:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ServiceError('send a JSON object: {"text": "..."}')
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ServiceError("text is required")
    if len(text.strip()) > MAX_TEXT:
        raise ServiceError(f"text is longer than {MAX_TEXT} characters")
    return well_formed(text)  # a lone "\ud800" in the JSON: U+FFFD, storable and sendable


@bp.post("/handoffs/<int:handoff_id>/messages")
@api_auth("agent")
def post_message(handoff_id: int):  # type: ignore[no-untyped-def]
    text = _reply_text()
    with sessions().begin() as session:
        try:
            message: Message = handoff_service.agent_reply(
                session, handoff_id, g.api_user.id, text, now=utcnow()
            )
        except ValueError as exc:  # the outbox refused the body (too long after redaction)
            raise ServiceError(str(exc)) from exc
        _audit(session, "api.handoff.message", "handoff", handoff_id)
        body = {
            "id": message.id,
            "status": message.status,
            "channel": message.channel,
            "sender": message.sender,
            "text": message.text,
            "created_at": _iso(message.created_at),
        }
    return jsonify(body), 201


@bp.post("/handoffs/<int:handoff_id>/release")
@api_auth("agent")
def release(handoff_id: int):  # type: ignore[no-untyped-def]
    with sessions().begin() as session:
        handoff = handoff_service.release(
            session,
            handoff_id,
            g.api_user.id,
            now=utcnow(),
            welcome_back=render("utter_assistant_back"),
        )
        conversation_id = handoff.conversation_id
        _audit(session, "api.handoff.release", "handoff", handoff_id)
        body = _one_handoff(session, handoff_id)
    try:  # after the commit; a Rasa that does not answer is not the caller's failure
        body["bot_resumed"] = resume_bot(conversation_id)
    except Exception:
        log.exception("resuming the bot for %s failed", conversation_id)
        body["bot_resumed"] = False
    return jsonify(body)


@bp.post("/handoffs/<int:handoff_id>/close")
@api_auth("agent")
def close(handoff_id: int):  # type: ignore[no-untyped-def]
    with sessions().begin() as session:
        handoff_service.close(session, handoff_id, g.api_user.id, now=utcnow())
        _audit(session, "api.handoff.close", "handoff", handoff_id)
        body = _one_handoff(session, handoff_id)
    return jsonify(body)
