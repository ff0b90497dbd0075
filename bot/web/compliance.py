"""Compliance review (rule 19): transcript search, one transcript with its check hits and
events, reviewers' verdicts, exports (CSV, JSON, a printable page), the automatic checks and,
for admins, the audit trail.

Every page is for signed-in compliance staff and admins (the audit trail for admins only), and
every search, view and export writes an audit entry in the same transaction that reads the
transcript. Entrypoints only: the reading and the rules are in bot.services.transcripts,
compliance_checks, reviews and audit.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from bot.db import utcnow
from bot.domain.dates import format_clock
from bot.domain.money import format_money
from bot.models import StaffUser
from bot.services import transcripts
from bot.services.audit import AuditAction, audit, audit_entries
from bot.services.compliance_checks import CHECKS, CHECKS_BY_CODE
from bot.services.errors import NotFound
from bot.services.reviews import MAX_NOTE, BadReview, ReviewOutcome, record_review
from bot.web.auth import role_required, staff_page_headers
from bot.web.deps import sessions, settings

bp = Blueprint("compliance", __name__, url_prefix="/compliance", template_folder="../templates")

REVIEWERS = ("compliance", "admin")
AUDIT_PER_PAGE = 50
CHECKS_DEFAULT_DAYS = 30

FLAG_LABELS = {
    "handoff": "Handoff",
    "dispute": "Dispute",
    "validation_request": "Validation request",
    "hardship": "Hardship",
    "plan": "Payment plan",
    "promise": "Promise to pay",
    "opt_out": "Opt-out or cease",
    "complaint": "Complaint",
    "wrong_number": "Wrong number",
    "identity_failed": "Identity check failed",
    "attorney": "Attorney",
    "bankruptcy": "Bankruptcy",
    "distress": "Distress",
    "deceased": "Deceased",
}
REVIEW_LABELS = {
    "unreviewed": "Not reviewed",
    "fine": "Fine",
    "coaching": "Needs coaching",
    "breach": "Breach",
}


bp.after_request(staff_page_headers)


@bp.errorhandler(HTTPException)
def _error_page(exc: HTTPException) -> tuple[str, int] | HTTPException:
    """HTML pages for 403 and 404 under /compliance; everything else as Flask shows it."""
    if exc.code not in (403, 404):
        return exc
    titles = {403: "Not allowed", 404: "Not found"}
    messages = {
        403: "Your role does not give access to this page.",
        404: "There is nothing at this address. The conversation may not exist.",
    }
    code = exc.code or 500
    return render_template(
        "compliance_error.html", title=titles[code], message=messages[code], code=code
    ), code


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "utc": _utc,
        "local": _local,
        "money": _money,
        "clock": _clock,
        "flag_label": lambda flag: FLAG_LABELS.get(flag, flag.replace("_", " ").capitalize()),
        "review_label": lambda outcome: REVIEW_LABELS.get(outcome, outcome),
        "checks_by_code": CHECKS_BY_CODE,
        "is_admin": getattr(current_user, "role", None) == "admin",
    }


# ---------------------------------------------------------------------------- helpers
def _utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _local(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if value else ""


def _money(cents: Any) -> str:
    return format_money(cents) if isinstance(cents, int) and not isinstance(cents, bool) else ""


def _clock(value: Any) -> str:
    """ "17:00:00" (as a preference event keeps it) -> "5:00 PM"; anything else as it is."""
    try:
        return format_clock(time.fromisoformat(str(value)))
    except ValueError:
        return str(value or "")


def _user() -> Any:
    """The signed-in staff member (a snapshot with .id, .email and .role: what audit reads)."""
    return current_user._get_current_object()


def _audit(session: Session, action: str, target_id: str | None = None, **detail: Any) -> None:
    audit(
        session,
        action,
        user=_user(),
        target_type="conversation",
        target_id=target_id,
        ip=request.remote_addr,
        detail=detail,
    )


def flag_options() -> list[tuple[str, list[tuple[str, str]]]]:
    """The flag select: the flags, then each automatic check by its title."""
    return [
        ("Flags", [(flag, FLAG_LABELS.get(flag, flag)) for flag in transcripts.FLAGS]),
        ("Automatic checks", [(c.code, f"{c.title} (rule {c.rule})") for c in CHECKS]),
    ]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d-%H%M%S")


def _people(session: Session, transcript: transcripts.Transcript) -> dict[str, str]:
    """Event actors such as "agent:3" -> the staff member's email."""
    names: dict[str, str] = {}
    for entry in transcript.events:
        assert entry.event is not None
        actor = entry.event.actor or ""
        kind, _, raw_id = actor.partition(":")
        if kind == "agent" and raw_id.isdigit() and actor not in names:
            user = session.get(StaffUser, int(raw_id))
            names[actor] = user.email if user is not None else actor
    return names


def _sender(entry: transcripts.Entry) -> str:
    assert entry.message is not None
    if entry.message.sender == "agent" and entry.agent:
        return f"Agent {entry.agent}"
    return transcripts.sender_label(entry.message.sender)


# ---------------------------------------------------------------------------- search
def _search_page(
    filters: transcripts.SearchFilters | None,
    page: transcripts.Page | None,
    error: str | None = None,
) -> str:
    return render_template(
        "compliance_search.html",
        args=request.args,
        filters=filters,
        page=page,
        error=error,
        flag_options=flag_options(),
        review_options=[("", "Any"), *REVIEW_LABELS.items()],
    )


@bp.get("/")
@role_required(*REVIEWERS)
def search() -> tuple[str, int] | str:
    try:
        filters = transcripts.SearchFilters.from_args(request.args)
    except transcripts.BadFilter as exc:
        return _search_page(None, None, str(exc)), 400
    with sessions().begin() as session:
        page = transcripts.search(session, filters, company_name=settings().company_name)
        _audit(
            session,
            AuditAction.TRANSCRIPT_SEARCH,
            filters=filters.query_args(),
            results=page.total,
        )
        return _search_page(filters, page)


def _export_search(fmt: str) -> Response | tuple[str, int]:
    try:
        filters = transcripts.SearchFilters.from_args(request.args)
    except transcripts.BadFilter as exc:
        return _search_page(None, None, str(exc)), 400
    with sessions().begin() as session:
        page = transcripts.search_all(session, filters, company_name=settings().company_name)
        _audit(
            session,
            AuditAction.TRANSCRIPT_EXPORT,
            format=fmt,
            filters=filters.query_args(page=1),
            results=page.total,
        )
        filename = f"transcripts-{_stamp()}.{fmt}"
        if fmt == "csv":
            return _download(transcripts.search_csv(page.items), "text/csv", filename)
        body = {
            "exported_at": utcnow().isoformat(),
            "exported_by": _user().email,
            "filters": filters.query_args(page=1),
            "total": page.total,
            "limit": transcripts.EXPORT_LIMIT,
            "conversations": [item.as_dict() for item in page.items],
        }
        return _download(json.dumps(body, indent=2), "application/json", filename)


@bp.get("/export.csv")
@role_required(*REVIEWERS)
def export_search_csv() -> Response | tuple[str, int]:
    return _export_search("csv")


@bp.get("/export.json")
@role_required(*REVIEWERS)
def export_search_json() -> Response | tuple[str, int]:
    return _export_search("json")


# ---------------------------------------------------------------------------- one transcript
def _load(session: Session, conversation_id: str) -> transcripts.Transcript:
    try:
        return transcripts.load_transcript(
            session, conversation_id, company_name=settings().company_name
        )
    except NotFound:
        abort(404)


def _transcript_page(
    session: Session,
    transcript: transcripts.Transcript,
    *,
    template: str = "compliance_transcript.html",
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> str:
    return render_template(
        template,
        t=transcript,
        s=transcript.summary,
        people=_people(session, transcript),
        sender=_sender,
        general_findings=[f for f in transcript.summary.findings if f.message_id is None],
        outcomes=[o.value for o in ReviewOutcome],
        max_note=MAX_NOTE,
        error=error,
        form=form or {},
        printed_at=utcnow(),
    )


@bp.get("/conversations/<conversation_id>")
@role_required(*REVIEWERS)
def conversation(conversation_id: str) -> str:
    with sessions().begin() as session:
        transcript = _load(session, conversation_id)
        _audit(session, AuditAction.TRANSCRIPT_VIEW, conversation_id)
        return _transcript_page(session, transcript)


@bp.post("/conversations/<conversation_id>/review")
@role_required(*REVIEWERS)
def review(conversation_id: str) -> Response | tuple[str, int]:
    outcome = request.form.get("outcome") or ""
    note = request.form.get("note") or ""
    try:
        with sessions().begin() as session:
            record_review(
                session, conversation_id, _user(), outcome, note,
                now=utcnow(), ip=request.remote_addr,
            )  # fmt: skip
    except NotFound:
        abort(404)
    except BadReview as exc:
        with sessions().begin() as session:
            transcript = _load(session, conversation_id)
            _audit(session, AuditAction.TRANSCRIPT_VIEW, conversation_id)
            page = _transcript_page(
                session,
                transcript,
                error=f"The review was not saved: {exc}.",
                form={"outcome": outcome, "note": note},
            )
        return page, 400
    flash(f"Review saved: {REVIEW_LABELS.get(outcome, outcome)}.", "success")
    target = url_for("compliance.conversation", conversation_id=conversation_id)
    return redirect(target + "#reviews")  # type: ignore[return-value]


def _export_transcript(conversation_id: str, fmt: str) -> Any:
    with sessions().begin() as session:
        transcript = _load(session, conversation_id)
        _audit(session, AuditAction.TRANSCRIPT_EXPORT, conversation_id, format=fmt)
        if fmt == "print":
            return _transcript_page(session, transcript, template="compliance_print.html")
        ref = _safe_name(transcript.summary.account_ref or "unlinked")
        filename = f"transcript-{ref}-{_safe_name(conversation_id)[:12]}-{_stamp()}.{fmt}"
        if fmt == "csv":
            return _download(transcripts.transcript_csv(transcript), "text/csv", filename)
        body = transcript.as_dict() | {
            "exported_at": utcnow().isoformat(),
            "exported_by": _user().email,
        }
        return _download(json.dumps(body, indent=2), "application/json", filename)


@bp.get("/conversations/<conversation_id>/export.json")
@role_required(*REVIEWERS)
def export_json(conversation_id: str) -> Response:
    return _export_transcript(conversation_id, "json")  # type: ignore[no-any-return]


@bp.get("/conversations/<conversation_id>/export.csv")
@role_required(*REVIEWERS)
def export_csv(conversation_id: str) -> Response:
    return _export_transcript(conversation_id, "csv")  # type: ignore[no-any-return]


@bp.get("/conversations/<conversation_id>/print")
@role_required(*REVIEWERS)
def print_view(conversation_id: str) -> str:
    return _export_transcript(conversation_id, "print")  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- checks
@bp.get("/checks")
@role_required(*REVIEWERS)
def checks() -> tuple[str, int] | str:
    today = utcnow().date()
    args = {
        "since": request.args.get("since") or (today - timedelta(days=CHECKS_DEFAULT_DAYS - 1)),
        "until": request.args.get("until") or today,
    }
    raw = {name: str(value) for name, value in args.items()}
    try:
        period = transcripts.SearchFilters.from_args(raw)
    except transcripts.BadFilter as exc:
        return render_template(
            "compliance_checks.html", rows=[], raw=raw, error=str(exc), since=None, until=None
        ), 400
    since, until = period.since, period.until
    with sessions().begin() as session:
        counts = transcripts.check_counts(
            session, since, until, company_name=settings().company_name
        )
        audit(
            session,
            AuditAction.CHECKS_VIEW,
            user=_user(),
            ip=request.remote_addr,
            detail={"since": _iso(since), "until": _iso(until)},
        )
    rows = [
        {
            "check": check,
            "count": counts.get(check.code, 0),
            "url": url_for(
                "compliance.search", flag=check.code, since=_iso(since), until=_iso(until)
            ),
        }
        for check in CHECKS
    ]
    return render_template(
        "compliance_checks.html", rows=rows, raw=raw, error=None, since=since, until=until
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------------------- audit trail
@bp.get("/audit")
@role_required("admin")
def audit_trail() -> tuple[str, int] | str:
    filters = {
        name: (request.args.get(name) or "").strip()[:254]
        for name in ("actor", "action", "target_id")
    }
    raw_page = request.args.get("page") or "1"
    if not (raw_page.isascii() and raw_page.isdigit() and 0 < len(raw_page) < 7):
        return render_template(
            "compliance_audit.html",
            filters=filters,
            trail=None,
            error="page must be a number",
            actions=_known_actions(),
        ), 400
    with sessions().begin() as session:
        trail = audit_entries(
            session,
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            target_id=filters["target_id"] or None,
            page=int(raw_page),
            per_page=AUDIT_PER_PAGE,
        )
        audit(
            session,
            AuditAction.AUDIT_VIEW,
            user=_user(),
            ip=request.remote_addr,
            detail={"filters": {k: v for k, v in filters.items() if v}, "page": trail.page},
        )
        return render_template(
            "compliance_audit.html",
            filters=filters,
            trail=trail,
            error=None,
            actions=_known_actions(),
            detail_json=lambda detail: json.dumps(detail, sort_keys=True, ensure_ascii=False),
            page_url=lambda n: _audit_url(filters, n),
        )


def _audit_url(filters: dict[str, str], page: int) -> str:
    args: dict[str, Any] = {k: v for k, v in filters.items() if v} | {"page": page}
    return url_for("compliance.audit_trail", **args)


def _known_actions() -> list[str]:
    return sorted(
        value
        for name, value in vars(AuditAction).items()
        if name.isupper() and isinstance(value, str)
    )
