"""Retention (rule 20): transcripts are kept at least 3 years after the last activity on the
account; the purge removes only what is older than that, and can say what it would remove."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.models import (
    Account,
    ConsentEvent,
    Conversation,
    ConversationEvent,
    ConversationReview,
    Dispute,
    Handoff,
    HardshipRecord,
    Message,
    Outreach,
    PaymentPlan,
    Promise,
    SurveyResponse,
    TranscriptLink,
    ValidationRequest,
)
from bot.models.append_only import RETENTION_PURGE

MIN_YEARS = 3


class RetentionTooShort(ValueError):
    pass


@dataclass(frozen=True)
class Expired:
    conversation_id: str
    account_ref: str | None
    last_activity: datetime
    messages: int


def cutoff(now: datetime, years: int = MIN_YEARS) -> datetime:
    if years < MIN_YEARS:
        raise RetentionTooShort(f"records are kept at least {MIN_YEARS} years (rule 20)")
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def expired(session: Session, now: datetime, years: int = MIN_YEARS) -> list[Expired]:
    """Conversations whose account (or, without one, the conversation itself) has had no
    activity since the cutoff. The account's last activity is the latest of its own record and
    every one of its conversations, so one recent chat keeps all of them."""
    limit = cutoff(now, years)
    latest_chat = (
        select(Conversation.account_id, func.max(Conversation.last_message_at).label("at"))
        .where(Conversation.account_id.is_not(None))
        .group_by(Conversation.account_id)
        .subquery()
    )
    message_count = (
        select(func.count(Message.id))
        .where(Message.conversation_id == Conversation.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Conversation.id,
            Account.account_ref,
            Account.last_activity_at,
            latest_chat.c.at,
            Conversation.last_message_at,
            message_count,
        )
        .outerjoin(Account, Account.id == Conversation.account_id)
        .outerjoin(latest_chat, latest_chat.c.account_id == Conversation.account_id)
        .where(
            Conversation.last_message_at < limit,
            or_(Conversation.account_id.is_(None), Account.last_activity_at < limit),
            or_(latest_chat.c.at.is_(None), latest_chat.c.at < limit),
        )
        .order_by(Conversation.last_message_at, Conversation.id)
    ).all()
    result = []
    for conversation_id, ref, account_at, chat_at, own_at, count in rows:
        last = max(at for at in (account_at, chat_at, own_at) if at is not None)
        result.append(Expired(conversation_id, ref, _aware(last), count))
    return result


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def purge(session: Session, conversation_ids: list[str]) -> int:
    """Delete these transcripts whole: messages, events, chain links, handoffs, reviews,
    the outreach sent in them and the survey answers.
    Business records that pointed at them (plans, promises, disputes...) are kept and lose
    the pointer; the consent ledger is kept, so an opt-out outlives its transcript.
    The caller commits; the audit entry is the caller's."""
    if not conversation_ids:
        return 0
    purge_opts = {RETENTION_PURGE: True}
    in_ids = Conversation.id.in_(conversation_ids)
    message_ids = select(Message.id).where(Message.conversation_id.in_(conversation_ids))
    session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.message_id.in_(message_ids))
        .values(message_id=None)
        .execution_options(**purge_opts)
    )
    for record in (PaymentPlan, Promise, Dispute, ValidationRequest, HardshipRecord):
        session.execute(
            update(record)
            .where(record.conversation_id.in_(conversation_ids))
            .values(conversation_id=None)
        )
    session.execute(
        update(Message)
        .where(Message.conversation_id.in_(conversation_ids))
        .values(reply_to_id=None)
    )
    outreach_ids = select(Outreach.id).where(
        or_(Outreach.conversation_id.in_(conversation_ids), Outreach.message_id.in_(message_ids))
    )
    session.execute(
        delete(SurveyResponse).where(
            or_(
                SurveyResponse.conversation_id.in_(conversation_ids),
                SurveyResponse.outreach_id.in_(outreach_ids),
                SurveyResponse.message_id.in_(message_ids),
            )
        )
    )
    session.execute(delete(Outreach).where(Outreach.id.in_(outreach_ids)))
    for model in (TranscriptLink, ConversationReview, ConversationEvent, Handoff, Message):
        session.execute(
            delete(model)
            .where(model.conversation_id.in_(conversation_ids))
            .execution_options(**purge_opts)
        )
    result = session.execute(delete(Conversation).where(in_ids))
    return int(getattr(result, "rowcount", 0) or 0)
