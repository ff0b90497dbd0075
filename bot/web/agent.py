"""The agent console: the queue of waiting handoffs, claiming one, the conversation view (the
transcript, what the bot knew, the account), replying, private notes, acting on the debtor's
behalf through the same services as the bot, and handing back to the bot or closing.

Every view is for signed-in agents and admins. Forms carry the CSRF token (CSRFProtect); the
JSON endpoints are GETs the console polls every second. Refusals from the services become
flashed messages, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.domain.contact import Channel
from bot.domain.money import format_money, to_cents
from bot.domain.plans import FREQUENCIES, PolicyViolation
from bot.models import Account, Conversation, Handoff, StaffUser
from bot.services import handoff as handoffs
from bot.services.cases import DisputeReason, HardshipCategory, open_dispute, record_hardship
from bot.services.consent import ConsentAction, record_consent
from bot.services.conversations import events_of, messages_of, reply_statuses
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.plans import accept_plan, custom_plan, record_promise
from bot.services.policy import load_policy
from bot.web.agent_views import (
    REASON_LABELS,
    account_summary,
    bot_state,
    message_row,
    overdue_after,
    plan_summary,
    queue_data,
    reply_templates,
    service_message,
    utc_text,
    waited_text,
)
from bot.web.auth import role_required, staff_page_headers
from bot.web.deps import resume_bot, sessions, settings
from bot.wording import render

bp = Blueprint("agent", __name__, url_prefix="/agent", template_folder="../templates")

STAFF_ROLES = ("agent", "admin")
MAX_TEXT = 1600
CLAIMED_BY_OTHER = "Another agent already took this conversation."


bp.after_request(staff_page_headers)


# ---------------------------------------------------------------------------- helpers
def _load(session: Session, handoff_id: int) -> tuple[Handoff, Conversation, Account | None]:
    try:
        return handoffs.with_parties(session, handoff_id)
    except NotFound:
        abort(404)


def _back(handoff_id: int) -> Response:
    return redirect(url_for("agent.conversation", handoff_id=handoff_id))  # type: ignore[return-value]


def _act(handoff_id: int, action: Callable[[Session, Handoff, Conversation, Account | None,
                                            datetime], str | None]) -> Response:  # fmt: skip
    """Run `action` in one transaction; its return value is flashed as a success, any refusal
    (service rule, policy, bad input) is flashed as an error and nothing is stored."""
    try:
        with sessions().begin() as session:
            handoff, conversation, account = _load(session, handoff_id)
            done = action(session, handoff, conversation, account, utcnow())
    except (ServiceError, PolicyViolation, ValueError, TypeError) as exc:
        flash(service_message(exc), "error")
    else:
        if done:
            flash(done, "success")
    return _back(handoff_id)


def _agent_id() -> int:
    return int(current_user.id)


def _actor() -> str:
    return f"agent:{current_user.id}"


def _need_account(account: Account | None) -> Account:
    if account is None:
        raise ServiceError("this conversation is not linked to an account")
    return account


def _need_handling(handoff: Handoff) -> None:
    if handoff.status != "active" or handoff.agent_id != _agent_id():
        raise handoffs.NotHandling("not handling")


def _form_text(name: str, limit: int = MAX_TEXT) -> str:
    text = (request.form.get(name) or "").strip()
    if len(text) > limit:
        raise ServiceError(f"the text is longer than {limit:,} characters")
    return text


# ---------------------------------------------------------------------------- queue
@bp.get("")
@role_required(*STAFF_ROLES)
def queue() -> str:
    with sessions()() as session:
        data = queue_data(session, utcnow(), _agent_id())
    return render_template("agent_queue.html", data=data)


@bp.get("/queue.json")
@role_required(*STAFF_ROLES)
def queue_json() -> Response:
    with sessions()() as session:
        return jsonify(queue_data(session, utcnow(), _agent_id()))


@bp.post("/handoffs/<int:handoff_id>/claim")
@role_required(*STAFF_ROLES)
def claim(handoff_id: int) -> Response:
    try:
        with sessions().begin() as session:
            handoffs.claim(session, handoff_id, _agent_id(), now=utcnow())
    except NotFound:
        flash("That handoff no longer exists.", "error")
        return redirect(url_for("agent.queue"))  # type: ignore[return-value]
    except Conflict:
        flash(CLAIMED_BY_OTHER, "error")
        return redirect(url_for("agent.queue"))  # type: ignore[return-value]
    flash("You have this conversation. The debtor's messages now come to you.", "success")
    return _back(handoff_id)


# ---------------------------------------------------------------------------- conversation
@bp.get("/handoffs/<int:handoff_id>")
@role_required(*STAFF_ROLES)
def conversation(handoff_id: int) -> str:
    now = utcnow()
    with sessions()() as session:
        handoff, conv, account = _load(session, handoff_id)
        messages = [message_row(m) for m in messages_of(session, conv.id)]
        events = events_of(session, conv.id)
        agent = session.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
        summary = account_summary(session, account, conv, now.date()) if account else None
        conversation_id = conv.id
        view = {
            "handoff": handoff,
            "conversation": conv,
            "account": account,
            "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
            "waited": waited_text((handoff.claimed_at or now) - handoff.created_at),
            "overdue": handoff.status == "waiting" and now - handoff.created_at > overdue_after(),
            "agent_email": agent.email if agent else None,
            "mine": handoff.status == "active" and handoff.agent_id == _agent_id(),
            "messages": messages,
            "last_id": messages[-1]["id"] if messages else 0,
            "notes": [e for e in events if e.kind == "agent_note"],
            "events": [e for e in events if e.kind != "agent_note"],
            "summary": summary,
        }
    return render_template(
        "agent_conversation.html",
        v=view,
        bot=bot_state(conversation_id),
        templates=reply_templates(),
        utc=utc_text,
        dispute_reasons=[r.value for r in DisputeReason],
        hardship_categories=[c.value for c in HardshipCategory],
        max_text=MAX_TEXT,
    )


@bp.get("/handoffs/<int:handoff_id>/messages.json")
@role_required(*STAFF_ROLES)
def messages_json(handoff_id: int) -> Response:
    raw = request.args.get("after", "0")
    after = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 18 else 0
    with sessions()() as session:
        handoff, conv, _ = _load(session, handoff_id)
        rows = messages_of(session, conv.id, after=after, limit=200)
        statuses = {str(m_id): status for m_id, status in reply_statuses(session, conv.id).items()}
        return jsonify(
            messages=[message_row(m) for m in rows],
            statuses=statuses,
            handoff_status=handoff.status,
            conversation_status=conv.status,
        )


@bp.post("/handoffs/<int:handoff_id>/reply")
@role_required(*STAFF_ROLES)
def reply(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        text = _form_text("text")
        if not text:
            raise ServiceError("the reply is empty")
        handoffs.agent_reply(session, handoff.id, _agent_id(), text, now=now)
        return "Reply sent." if conv.channel == "web" else "Reply queued for SMS."

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/note")
@role_required(*STAFF_ROLES)
def note(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        handoffs.add_note(session, handoff.id, _agent_id(), _form_text("text", 2000), now=now)
        return "Note saved (the debtor never sees notes)."

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/release")
@role_required(*STAFF_ROLES)
def release(handoff_id: int) -> Response:
    welcome = render(
        "utter_assistant_back",
        company_name=settings().company_name,
        support_phone=settings().support_phone,
    )
    try:
        with sessions().begin() as session:
            handoff = handoffs.release(
                session, handoff_id, _agent_id(), now=utcnow(), welcome_back=welcome
            )
            conversation_id = handoff.conversation_id
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(service_message(exc), "error")
        return _back(handoff_id)
    if resume_bot(conversation_id):  # after the commit: the bot answers the next message
        flash("Handed back to the assistant.", "success")
    else:
        flash(
            "Handed back. The assistant could not be reached just now; it answers the "
            "debtor's next message as usual.",
            "warning",
        )
    return redirect(url_for("agent.queue"))  # type: ignore[return-value]


@bp.post("/handoffs/<int:handoff_id>/close")
@role_required(*STAFF_ROLES)
def close(handoff_id: int) -> Response:
    try:
        with sessions().begin() as session:
            handoffs.close(session, handoff_id, _agent_id(), now=utcnow())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(service_message(exc), "error")
        return _back(handoff_id)
    flash("Conversation closed.", "success")
    return redirect(url_for("agent.queue"))  # type: ignore[return-value]


# ------------------------------------------------------------------------- on the debtor's behalf
@bp.post("/handoffs/<int:handoff_id>/promise")
@role_required(*STAFF_ROLES)
def promise(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        _need_handling(handoff)
        acc = _need_account(account)
        amount = to_cents(_form_text("amount", 20))
        due_on = date.fromisoformat(_form_text("due_on", 10))
        made = record_promise(
            session, acc, amount_cents=amount, due_on=due_on, today=now.date(), now=now,
            policy=load_policy(settings().policy_file), actor=_actor(),
            conversation_id=conv.id,
        )  # fmt: skip
        return f"Promise recorded: {format_money(made.amount_cents)} on {made.due_on}."

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/plan")
@role_required(*STAFF_ROLES)
def plan(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        _need_handling(handoff)
        acc = _need_account(account)
        amount = to_cents(_form_text("amount", 20))
        frequency = _form_text("frequency", 10)
        if frequency not in FREQUENCIES:
            raise ServiceError("choose weekly, every two weeks or monthly")
        first_due = date.fromisoformat(_form_text("first_due", 10))
        today = now.date()
        option = custom_plan(
            session, acc, today=today, policy=load_policy(settings().policy_file),
            amount_cents=amount, frequency=frequency, first_due=first_due,
        )  # fmt: skip
        accept_plan(
            session, acc, option, today=today, now=now, actor=_actor(), conversation_id=conv.id
        )
        return f"Plan recorded: {plan_summary(option)}"

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/dispute")
@role_required(*STAFF_ROLES)
def dispute(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        _need_handling(handoff)
        acc = _need_account(account)
        reason = DisputeReason(_form_text("reason", 30))
        charge = _form_text("charge_id", 18)
        made = open_dispute(
            session, acc, reason, actor=_actor(), now=now,
            charge_id=int(charge) if charge else None,
            detail=_form_text("detail", 2000) or None, conversation_id=conv.id,
        )  # fmt: skip
        return f"Dispute {made.reference} recorded; collection on it is on hold."

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/hardship")
@role_required(*STAFF_ROLES)
def hardship(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        _need_handling(handoff)
        acc = _need_account(account)
        category = HardshipCategory(_form_text("category", 30))
        temporary = {"yes": True, "no": False}.get(_form_text("temporary", 10))
        affordable = _form_text("affordable", 20)
        record_hardship(
            session, acc, category, actor=_actor(), now=now, temporary=temporary,
            affordable_monthly_cents=to_cents(affordable) if affordable else None,
            note=_form_text("note", 2000) or None, conversation_id=conv.id,
        )  # fmt: skip
        return "Hardship recorded."

    return _act(handoff_id, act)


@bp.post("/handoffs/<int:handoff_id>/opt-out")
@role_required(*STAFF_ROLES)
def opt_out(handoff_id: int) -> Response:
    def act(session: Session, handoff: Handoff, conv: Conversation, account: Account | None,
            now: datetime) -> str:  # fmt: skip
        _need_handling(handoff)
        kind = _form_text("kind", 10)
        common: dict[str, Any] = {
            "source": _actor(),
            "account_id": account.id if account else None,
            "conversation_id": conv.id,
            "note": _form_text("note", 500) or None,
            "now": now,
        }
        if kind == "cease":
            _need_account(account)
            record_consent(session, conv.address, "all", ConsentAction.CEASE, **common)
            return "Cease recorded: no more contact about this debt on any channel."
        if kind != "sms":
            raise ServiceError("choose what the debtor asked for")
        phone = conv.address if conv.channel == "sms" else (account.phone if account else None)
        if not phone:
            raise ServiceError("there is no phone number to opt out")
        record_consent(session, phone, Channel.SMS, ConsentAction.OPT_OUT, **common)
        return f"Opt-out recorded: no more texts to {phone}."

    return _act(handoff_id, act)
