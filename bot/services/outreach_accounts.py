"""Outreach about accounts and conversations (the welcome, the survey), and withdrawing queued
outreach that no longer applies (definitions: `bot.services.outreach`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.domain.contact import ContactPolicy, Purpose
from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    Handoff,
    Hold,
    Installment,
    Message,
    Outreach,
    PaymentPlan,
    Promise,
)
from bot.services.consent import initiated_sent_at
from bot.services.events import EventKind
from bot.services.outreach_due import (
    ESCALATIONS,
    RESOLVED,
    SURVEY_CAP_RESERVE,
    SURVEY_QUIET,
    SURVEY_WITHIN,
    WELCOME_WITHIN,
    Candidate,
    OutreachKind,
    Target,
    done_targets,
)
from bot.services.payment_status import (
    installment_due_cents,
    installment_paid_cents,
    promise_paid_cents,
)
from bot.wording import render

# ----------------------------------------------------------------------------- welcome


def welcomes(
    session: Session, now: datetime, values: Mapping[str, str], third_party: bool
) -> list[Candidate]:
    talked = select(Conversation.id).where(
        or_(
            Conversation.account_id == Account.id,
            and_(Conversation.channel == "sms", Conversation.address == Account.phone),
        )
    )
    written = select(Outreach.id).where(Outreach.account_id == Account.id)
    accounts = session.scalars(
        select(Account)
        .where(Account.placed_at >= now - WELCOME_WITHIN, ~talked.exists(), ~written.exists())
        .order_by(Account.placed_at, Account.id)
    ).all()
    candidates = []
    for account in accounts:
        candidates.append(
            Candidate(
                targets=(Target(OutreachKind.WELCOME, f"account:{account.id}"),),
                account=account,
                text=render(
                    "utter_outreach_welcome",
                    first_name=account.first_name,
                    company_name=values["company_name"],
                    support_phone=values["support_phone"],
                ),
                purpose=Purpose.COLLECTION,
                expires_at=account.placed_at + WELCOME_WITHIN,
                why=f"placed {account.placed_at:%Y-%m-%d}, never written to",
                skip_reason="no_consent" if third_party else None,
            )
        )
    return candidates


# ----------------------------------------------------------------------------- surveys


def escalation(session: Session, conversation: Conversation) -> str | None:
    """The escalation (distress, attorney, bankruptcy, deceased) the conversation had, or that
    stands on its account now; None without one."""
    reasons = {str(r) for r in ESCALATIONS}
    handoff = session.scalar(
        select(Handoff.reason).where(
            Handoff.conversation_id == conversation.id, Handoff.reason.in_(reasons)
        )
    )
    if handoff is not None:
        return f"escalated:{handoff}"
    if conversation.account_id is None:
        return None
    hold = session.scalar(
        select(Hold.reason).where(
            Hold.account_id == conversation.account_id,
            Hold.reason.in_(reasons),
            or_(Hold.released_at.is_(None), Hold.created_at >= conversation.started_at),
        )
    )
    return f"escalated:{hold}" if hold is not None else None


def _closed_by_agent(session: Session, conversation: Conversation) -> bool:
    last = session.scalar(
        select(ConversationEvent.kind)
        .where(ConversationEvent.conversation_id == conversation.id)
        .order_by(ConversationEvent.id.desc())
        .limit(1)
    )
    return last == EventKind.HANDOFF_CLOSED.value


def _talking_again(session: Session, conversation: Conversation) -> bool:
    newer = session.scalar(
        select(Conversation.id)
        .where(
            Conversation.channel == conversation.channel,
            Conversation.address == conversation.address,
            Conversation.started_at > conversation.started_at,
        )
        .limit(1)
    )
    return newer is not None


def initiated_room(session: Session, account: Account, *, now: datetime) -> int:
    """How many more initiated messages the account's rolling cap allows: the cap, less those
    sent within the cap's days and those still queued."""
    policy = ContactPolicy()
    sent = initiated_sent_at(session, account.id, now=now, days=policy.cap_days)
    queued = session.scalar(
        select(func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.account_id == account.id,
            Message.direction == "out",
            Message.initiated.is_(True),
            Message.status.in_(("queued", "sending")),
        )
    )
    return policy.cap_for(account.state) - len(sent) - int(queued or 0)


def surveys(session: Session, now: datetime) -> list[Candidate]:
    resolved = (
        select(ConversationEvent.id)
        .where(
            ConversationEvent.conversation_id == Conversation.id,
            ConversationEvent.kind.in_([k.value for k in RESOLVED]),
            ConversationEvent.created_at >= now - SURVEY_WITHIN,
        )
        .exists()
    )
    conversations = session.scalars(
        select(Conversation)
        .where(
            Conversation.channel == "sms",
            Conversation.last_message_at <= now - SURVEY_QUIET,
            resolved,
        )
        .order_by(Conversation.last_message_at, Conversation.id)
    ).all()
    targets = {c.id: Target(OutreachKind.SURVEY, f"conversation:{c.id}") for c in conversations}
    done = done_targets(session, targets.values())
    candidates = []
    for conversation in conversations:
        target = targets[conversation.id]
        if (str(target.kind), target.key) in done or conversation.account_id is None:
            continue  # done; or nobody's account (no cap to respect: no survey)
        account = session.get(Account, conversation.account_id)
        assert account is not None
        skip = None
        if conversation.status == "closed":
            # An agent who closed the handoff resolved it: the survey goes into that
            # conversation (the answer is found from the number's next one), unless the
            # debtor is already talking to us again in a newer conversation.
            skip = (
                escalation(session, conversation)
                if _closed_by_agent(session, conversation)
                and not _talking_again(session, conversation)
                else "conversation_closed"
            )
        elif conversation.status == "handoff":
            skip = "handoff_open"
        else:
            skip = escalation(session, conversation)
        if skip is None and initiated_room(session, account, now=now) < SURVEY_CAP_RESERVE:
            skip = "cap_reserve"
        candidates.append(
            Candidate(
                targets=(target,),
                account=account,
                text=render("utter_survey"),
                purpose=Purpose.FEEDBACK,  # the outbox refuses it after an escalation hold
                expires_at=conversation.last_message_at + SURVEY_WITHIN,
                why=(
                    f"conversation {conversation.id[:8]} resolved, quiet since "
                    f"{conversation.last_message_at:%Y-%m-%d %H:%M} UTC"
                ),
                skip_reason=skip,
                conversation=conversation,
            )
        )
    return candidates


# ----------------------------------------------------------------------------- stale messages


def _key_id(key: str) -> int:
    """12 from "installment:12@2026-12-04"."""
    return int(key.split(":", 1)[1].split("@", 1)[0])


def _stale(session: Session, row: Outreach, now: datetime) -> str | None:
    """Why a queued outreach message no longer applies; None while it still does."""
    kind = OutreachKind(row.kind)
    if kind is OutreachKind.SURVEY:
        conversation = session.get(Conversation, row.conversation_id)
        return escalation(session, conversation) if conversation is not None else "gone"
    if kind is OutreachKind.WELCOME:
        wrote = session.scalar(
            select(Message.id)
            .where(Message.conversation_id == row.conversation_id, Message.direction == "in")
            .limit(1)
        )
        return "the debtor wrote first" if wrote is not None else None
    through = now.date() + timedelta(days=1)  # every payment recorded by now
    if kind in (OutreachKind.INSTALLMENT_REMINDER, OutreachKind.INSTALLMENT_MISSED):
        found = session.execute(
            select(Installment, PaymentPlan)
            .add_columns(installment_paid_cents(session, through=through), installment_due_cents())
            .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
            .where(Installment.id == _key_id(row.target))
        ).first()
        if found is None:
            return "gone"
        inst, plan_row, paid, due_so_far = found
        allowed = ("scheduled",) if kind is OutreachKind.INSTALLMENT_REMINDER else _MISSED_INST
        if plan_row.status != "active" or inst.status not in allowed:
            return f"installment {inst.status}, plan {plan_row.status}"
        moved_or_paid = inst.due_on != row.about_date or paid >= due_so_far
    else:
        got = session.execute(
            select(Promise, promise_paid_cents(session, through=through)).where(
                Promise.id == _key_id(row.target)
            )
        ).first()
        if got is None:
            return "gone"
        promise, paid = got
        allowed = ("open",) if kind is OutreachKind.PROMISE_REMINDER else _MISSED_PROMISE
        if promise.status not in allowed:
            return f"promise {promise.status}"
        moved_or_paid = promise.due_on != row.about_date or paid >= promise.amount_cents
        inst = None
    if moved_or_paid:
        due_on = inst.due_on if inst is not None else promise.due_on
        return "date moved" if due_on != row.about_date else "paid"
    return None


_MISSED_INST = ("scheduled", "missed")
_MISSED_PROMISE = ("open", "broken")


def withdraw_stale(session: Session, *, now: datetime) -> int:
    """Cancel queued outreach messages that no longer apply (paid, date moved, plan ended,
    survey after an escalation, welcome after the debtor wrote first), with the reason in
    `error`. A message about several things goes while one of them still applies. Guarded
    (only a row still `queued` changes: one the outbox already claimed is left to it).
    Returns how many were withdrawn; the caller commits."""
    rows = session.execute(
        select(Outreach)
        .join(Message, Message.id == Outreach.message_id)
        .where(Message.status == "queued")
        .order_by(Outreach.message_id, Outreach.id)
    ).scalars()
    by_message: dict[int, list[Outreach]] = defaultdict(list)
    for row in rows:
        if row.message_id is not None:
            by_message[row.message_id].append(row)
    withdrawn = 0
    for message_id, about in by_message.items():
        reasons = [_stale(session, row, now) for row in about]
        if not all(reasons):
            continue
        result = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(
                status="canceled",
                next_attempt_at=None,
                status_updated_at=now,
                error=f"withdrawn by the outreach scheduler: {reasons[0]}",
            )
            .execution_options(synchronize_session=False)
        )
        withdrawn += result.rowcount  # type: ignore[attr-defined]
    return withdrawn
