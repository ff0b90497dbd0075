"""What the agent console shows, built from the services' rows: the queue, a conversation's
messages, the account beside it, what the bot knew (from the Rasa tracker), and the wording
of a refusal or of what was recorded. No route here, and no SQL: bot/web/agent.py serves
these."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, url_for
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.domain.contact import Channel
from bot.domain.money import format_money
from bot.domain.plans import PlanOption, PolicyViolation
from bot.models import Account, Conversation, Message
from bot.services import handoff as handoffs
from bot.services.account_record import account_record
from bot.services.balances import itemization
from bot.services.consent import has_ceased, is_opted_out, preference_of
from bot.services.errors import ServiceError
from bot.services.holds import active_holds
from bot.services.transcripts import sender_label
from bot.web.deps import gateway, settings

TEMPLATES_FILE = ROOT / "bot" / "agent_templates.yml"

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
    "weekend": "the debtor asked not to be contacted on weekends",
    "frequency_cap": "we have reached the contact limit for this week",
}
VIOLATION_TEXT = {
    "first_payment_in_past": "The date is in the past.",
    "first_payment_too_late": "The date is later than the policy allows (latest {limit}).",
    "below_minimum": "The amount is below the smallest payment that works here: {limit}.",
    "amount_exceeds_balance": "The amount is more than the balance of {limit}.",
    "too_long": (
        "The plan would run longer than the policy allows ({limit} months at most; "
        "at least {fits} a payment)."
    ),
    "frequency_not_allowed": "That frequency is not allowed (allowed: {limit}).",
}
#: How each plan frequency reads after an amount: "$150.00 a month".
PLAN_PERIODS = {"weekly": "a week", "biweekly": "every two weeks", "monthly": "a month"}


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


def utc_text(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def waited_text(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _queue_row(item: handoffs.QueueItem) -> dict[str, Any]:
    handoff, conversation, account = item.handoff, item.conversation, item.account
    return {
        "id": handoff.id,
        "reason": handoff.reason,
        "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
        "urgent": handoff.urgent,
        "overdue": item.overdue,
        "status": handoff.status,
        "waited_seconds": int(item.waited.total_seconds()),
        "waited": waited_text(item.waited),
        "created_at": utc_text(handoff.created_at),
        "channel": conversation.channel,
        "account_ref": account.account_ref if account else None,
        "debtor": f"{account.first_name} {account.last_name}" if account else None,
        "verified": conversation.verified,
        "url": url_for("agent.conversation", handoff_id=handoff.id),
        "claim_url": url_for("agent.claim", handoff_id=handoff.id),
    }


def queue_data(session: Session, now: datetime, agent_id: int) -> dict[str, Any]:
    waiting = handoffs.waiting_queue(session, now=now, overdue_after=overdue_after())
    return {
        "now": utc_text(now),
        "overdue_minutes": overdue_after().total_seconds() / 60,
        "waiting": [_queue_row(item) for item in waiting],
        "mine": [
            _queue_row(item) for item in handoffs.handled_by_agent(session, agent_id, now=now)
        ],
    }


def message_row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender,
        "sender_label": sender_label(message.sender),
        "text": message.text,
        "at": utc_text(message.created_at),
        "status": message.status if message.direction == "out" else None,
    }


def _refusal(exc: ServiceError) -> str:
    reason = str(exc.details.get("reason", ""))
    if reason in REFUSAL_TEXT:
        return f"Not sent: {REFUSAL_TEXT[reason]}. The contact rules do not allow this reply."
    return f"Not sent: the contact rules do not allow this reply ({reason or exc})."


def service_message(exc: Exception) -> str:
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
        fits = format_money(exc.fits) if exc.fits is not None else ""
        text = VIOLATION_TEXT.get(exc.code, "Outside the policy: {limit}.")
        return text.format(limit=shown, fits=fits)
    if isinstance(exc, ServiceError) and exc.code == "on_hold":
        return f"Collection on this account is on hold: {exc}."
    return f"Could not do that: {exc}."


def account_summary(session: Session, account: Account, conversation: Conversation,
                    today: date) -> dict[str, Any]:  # fmt: skip
    items = itemization(session, account, today)
    record = account_record(session, account.id)
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
        # newest first
        "plans": record.plans[::-1],
        "promises": record.promises[::-1],
        "disputes": record.disputes[::-1],
        "holds": active_holds(session, account.id),
        "hardships": record.hardships[::-1],
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
