"""The agent console: the queue of waiting handoffs, claiming one, the conversation view (the
transcript, what the bot knew, the account), replying, private notes, acting on the debtor's
behalf through the same services as the bot, and handing back to the bot or closing.

Every view is for signed-in agents and admins. Forms carry the CSRF token (CSRFProtect); the
JSON endpoints are GETs the console polls every second. Refusals from the services become
flashed messages, never a 500.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.db import utcnow
from bot.domain.contact import Channel
from bot.domain.money import format_money, to_cents
from bot.domain.plans import FREQUENCIES, PlanOption, PolicyViolation, custom_option
from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    Dispute,
    Handoff,
    HardshipRecord,
    Message,
    PaymentPlan,
    Promise,
    StaffUser,
)
from bot.services import handoff as handoffs
from bot.services.balances import itemization
from bot.services.cases import DisputeReason, HardshipCategory, open_dispute, record_hardship
from bot.services.consent import (
    ConsentAction,
    has_ceased,
    is_opted_out,
    preference_of,
    record_consent,
)
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.holds import active_holds
from bot.services.plans import (
    accept_plan,
    collectible_cents,
    ensure_collectible,
    record_promise,
)
from bot.services.policy import load_policy
from bot.services.transcripts import sender_label
from bot.web.auth import role_required, staff_page_headers
from bot.web.deps import gateway, resume_bot, sessions, settings
from bot.wording import render

bp = Blueprint("agent", __name__, url_prefix="/agent", template_folder="../templates")

STAFF_ROLES = ("agent", "admin")
MAX_TEXT = 1600
TEMPLATES_FILE = ROOT / "bot" / "agent_templates.yml"
CLAIMED_BY_OTHER = "Another agent already took this conversation."

REASON_LABELS = {
    "human_request": "Asked for a person",
    "distress": "Distress",
    "attorney": "Attorney",
    "bankruptcy": "Bankruptcy",
    "deceased": "Deceased",
    "anger": "Anger",
    "complaint": "Complaint",
    "fallback": "Repeated fallbacks",
    "identity_failed": "Identity check failed",
    "settlement": "Settlement request",
    "failure": "Assistant failure",
}
#: Slots that hold what the debtor typed to prove who they are: shown as "provided" only.
SECRET_SLOTS = frozenset({"verify_dob", "verify_second", "account_lookup"})
HIDDEN_SLOTS = frozenset({"company_name", "support_phone", "session_started_metadata"})
REFUSAL_TEXT = {
    "opted_out": "the debtor opted out of texts from us",
    "ceased": "the debtor asked us to stop all communication",
    "attorney": "the debtor is represented by an attorney; contact the attorney instead",
    "wrong_number": "this number was reported as a wrong number",
    "hold:deceased": "the account holder was reported deceased",
    "hold:bankruptcy": "the debtor is in bankruptcy",
    "channel_preference": "the debtor asked not to be contacted on this channel",
    "outside_window": "it is outside the hours we may contact the debtor",
    "preference_hours": "it is outside the hours the debtor asked for",
    "work_hours": "the debtor asked not to be contacted during work hours",
    "frequency_cap": "we have reached the contact limit for this week",
}
VIOLATION_TEXT = {
    "first_payment_in_past": "The date is in the past.",
    "first_payment_too_late": "The date is later than the policy allows (latest {limit}).",
    "below_minimum": "The amount is below the minimum of {limit}.",
    "amount_exceeds_balance": "The amount is more than the balance of {limit}.",
    "too_long": "The plan would run longer than the policy allows ({limit} months at most).",
    "frequency_not_allowed": "That frequency is not allowed (allowed: {limit}).",
}
#: How each plan frequency reads after an amount: "$150.00 a month".
PLAN_PERIODS = {"weekly": "a week", "biweekly": "every two weeks", "monthly": "a month"}


bp.after_request(staff_page_headers)


# ---------------------------------------------------------------------------- helpers
def overdue_after() -> timedelta:
    """HANDOFF_OVERDUE_MINUTES from the app config or the environment; 5 by default."""
    raw = current_app.config.get("HANDOFF_OVERDUE_MINUTES") or os.environ.get(
        "HANDOFF_OVERDUE_MINUTES", ""
    )
    try:
        minutes = float(raw)
    except (TypeError, ValueError):
        return handoffs.DEFAULT_OVERDUE
    return timedelta(minutes=minutes) if minutes > 0 else handoffs.DEFAULT_OVERDUE


def reply_templates(path: Path = TEMPLATES_FILE) -> list[dict[str, str]]:
    """The approved reply wording: [{key, label, text}], in file order."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError:
        return []
    values = {"company_name": settings().company_name, "support_phone": settings().support_phone}
    items = []
    for entry in data.get("templates", []):
        text = str(entry.get("text", "")).strip()
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        items.append({"key": str(entry["key"]), "label": str(entry["label"]), "text": text})
    return items


def _utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def _waited(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _queue_row(handoff: Handoff, conversation: Conversation, account: Account | None,
               waited: timedelta, overdue: bool) -> dict[str, Any]:  # fmt: skip
    return {
        "id": handoff.id,
        "reason": handoff.reason,
        "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
        "urgent": handoff.urgent,
        "overdue": overdue,
        "status": handoff.status,
        "waited_seconds": int(waited.total_seconds()),
        "waited": _waited(waited),
        "created_at": _utc(handoff.created_at),
        "channel": conversation.channel,
        "account_ref": account.account_ref if account else None,
        "debtor": f"{account.first_name} {account.last_name}" if account else None,
        "verified": conversation.verified,
        "url": url_for("agent.conversation", handoff_id=handoff.id),
        "claim_url": url_for("agent.claim", handoff_id=handoff.id),
    }


def queue_data(session: Session, now: datetime, agent_id: int) -> dict[str, Any]:
    waiting = [
        _queue_row(i.handoff, i.conversation, i.account, i.waited, i.overdue)
        for i in handoffs.waiting_queue(session, now=now, overdue_after=overdue_after())
    ]
    rows = session.execute(
        select(Handoff, Conversation, Account)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(Handoff.status == "active", Handoff.agent_id == agent_id)
        .order_by(Handoff.claimed_at, Handoff.id)
    ).all()
    mine = [_queue_row(h, c, a, now - h.created_at, False) for h, c, a in rows]
    return {
        "now": _utc(now),
        "overdue_minutes": overdue_after().total_seconds() / 60,
        "waiting": waiting,
        "mine": mine,
    }


def _message_row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender,
        "sender_label": sender_label(message.sender),
        "text": message.text,
        "at": _utc(message.created_at),
        "status": message.status if message.direction == "out" else None,
    }


def _load(session: Session, handoff_id: int) -> tuple[Handoff, Conversation, Account | None]:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        abort(404)
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return handoff, conversation, account


def _back(handoff_id: int) -> Response:
    return redirect(url_for("agent.conversation", handoff_id=handoff_id))  # type: ignore[return-value]


def _refusal(exc: ServiceError) -> str:
    reason = str(exc.details.get("reason", ""))
    if reason in REFUSAL_TEXT:
        return f"Not sent: {REFUSAL_TEXT[reason]}. The contact rules do not allow this reply."
    return f"Not sent: the contact rules do not allow this reply ({reason or exc})."


def _service_message(exc: Exception) -> str:
    if isinstance(exc, handoffs.ContactRefused):
        return _refusal(exc)
    if isinstance(exc, handoffs.NotHandling):
        return "Claim this conversation first: only the agent handling it can do that."
    if isinstance(exc, PolicyViolation):
        limit = exc.limit
        shown: object = limit
        if isinstance(limit, int) and exc.code != "too_long":
            shown = format_money(limit)
        elif isinstance(limit, tuple):
            shown = ", ".join(limit)
        return VIOLATION_TEXT.get(exc.code, "Outside the policy: {limit}.").format(limit=shown)
    if isinstance(exc, ServiceError) and exc.code == "on_hold":
        return f"Collection on this account is on hold: {exc}."
    return f"Could not do that: {exc}."


def _act(handoff_id: int, action: Callable[[Session, Handoff, Conversation, Account | None,
                                            datetime], str | None]) -> Response:  # fmt: skip
    """Run `action` in one transaction; its return value is flashed as a success, any refusal
    (service rule, policy, bad input) is flashed as an error and nothing is stored."""
    try:
        with sessions().begin() as session:
            handoff, conversation, account = _load(session, handoff_id)
            done = action(session, handoff, conversation, account, utcnow())
    except (ServiceError, PolicyViolation, ValueError, TypeError) as exc:
        flash(_service_message(exc), "error")
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


# ---------------------------------------------------------------------------- summary
def account_summary(session: Session, account: Account, conversation: Conversation,
                    today: date) -> dict[str, Any]:  # fmt: skip
    items = itemization(session, account, today)
    preference = preference_of(session, account.id)
    phone_opted_out = account.phone is not None and is_opted_out(
        session, account.phone, Channel.SMS
    )
    return {
        "ref": account.account_ref,
        "name": f"{account.first_name} {account.last_name}",
        "creditor": account.creditor,
        "state": account.state,
        "phone": account.phone,
        "delinquent_since": account.delinquent_since.isoformat(),
        "balance": format_money(items.total_cents),
        "collectible": format_money(items.collectible_cents),
        "principal": format_money(items.principal_cents),
        "interest": format_money(items.interest_cents),
        "fees": format_money(items.fees_cents),
        "paid": format_money(items.payments_cents),
        "disputed": format_money(items.disputed_cents),
        "charges": [
            {
                "id": c.charge_id,
                "text": f"{c.posted_on} {c.description} {format_money(c.amount_cents)}",
            }
            for c in items.charges
        ],
        "plans": list(
            session.scalars(
                select(PaymentPlan)
                .where(PaymentPlan.account_id == account.id)
                .order_by(PaymentPlan.id.desc())
            )
        ),
        "promises": list(
            session.scalars(
                select(Promise).where(Promise.account_id == account.id).order_by(Promise.id.desc())
            )
        ),
        "disputes": list(
            session.scalars(
                select(Dispute).where(Dispute.account_id == account.id).order_by(Dispute.id.desc())
            )
        ),
        "holds": active_holds(session, account.id),
        "hardships": list(
            session.scalars(
                select(HardshipRecord)
                .where(HardshipRecord.account_id == account.id)
                .order_by(HardshipRecord.id.desc())
            )
        ),
        "ceased": has_ceased(session, account.id),
        "sms_opted_out": phone_opted_out,
        "conversation_opted_out": conversation.channel == "sms"
        and is_opted_out(session, conversation.address, Channel.SMS),
        "preference": preference,
        "format_money": format_money,
    }


def bot_state(conversation_id: str) -> dict[str, Any] | None:
    """What the bot knew, from the Rasa tracker; None when Rasa did not answer."""
    from bot.gateway.rasa_client import RasaUnavailable

    try:
        tracker = gateway().rasa.tracker(conversation_id)
    except RasaUnavailable:
        return None
    except Exception:  # a malformed answer is as good as none
        current_app.logger.exception("reading the Rasa tracker failed")
        return None
    slots = []
    for name, value in sorted((tracker.get("slots") or {}).items()):
        if name in HIDDEN_SLOTS or value in (None, "", [], {}):
            continue
        slots.append((name, "(provided)" if name in SECRET_SLOTS else str(value)[:300]))
    intents = []
    for event in tracker.get("events") or []:
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent:
                intents.append(intent)
    loop = (tracker.get("active_loop") or {}).get("name")
    return {"slots": slots, "intents": intents[-12:], "active_form": loop}


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
        messages = [
            _message_row(m)
            for m in session.scalars(
                select(Message).where(Message.conversation_id == conv.id).order_by(Message.id)
            )
        ]
        events = list(
            session.scalars(
                select(ConversationEvent)
                .where(ConversationEvent.conversation_id == conv.id)
                .order_by(ConversationEvent.id)
            )
        )
        agent = session.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
        summary = account_summary(session, account, conv, now.date()) if account else None
        conversation_id = conv.id
        view = {
            "handoff": handoff,
            "conversation": conv,
            "account": account,
            "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
            "waited": _waited((handoff.claimed_at or now) - handoff.created_at),
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
        utc=_utc,
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
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.id > after)
            .order_by(Message.id)
            .limit(200)
        ).all()
        statuses = {
            str(m_id): status
            for m_id, status in session.execute(
                select(Message.id, Message.status).where(
                    Message.conversation_id == conv.id, Message.direction == "out"
                )
            )
        }
        return jsonify(
            messages=[_message_row(m) for m in rows],
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
        flash(_service_message(exc), "error")
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
        flash(_service_message(exc), "error")
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


def _short_date(day: date) -> str:
    return f"{day:%b} {day.day}"


def plan_summary(option: PlanOption) -> str:
    """What the agent is told was recorded, like "$150.00 a month, 10 payments from Dec 1"."""
    first = option.installments[0]
    if option.frequency == "once":
        return f"{format_money(first.amount_cents)} in full on {_short_date(first.due_on)}."
    period = PLAN_PERIODS[option.frequency]
    return (
        f"{format_money(first.amount_cents)} {period}, {option.count} payments"
        f" from {_short_date(first.due_on)}."
    )


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
        ensure_collectible(session, acc)  # a hold is the answer, whatever the balance says
        option = custom_option(
            collectible_cents(session, acc, today), today,
            load_policy(settings().policy_file), amount_cents=amount, frequency=frequency,
            first_due=first_due,
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
