"""Conversations: found or started for a sender, linked to an account, dated locally; their
messages and events, in order."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from bot.models import Account, Conversation, ConversationEvent, Message

DEFAULT_ZONE = "America/New_York"


def new_conversation_id() -> str:
    return secrets.token_hex(16)


def get_or_start(
    session: Session,
    conversation_id: str,
    *,
    channel: str,
    address: str,
    now: datetime,
    account: Account | None = None,
) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        # One open conversation per address: a new one supersedes (closes) the old.
        session.execute(
            update(Conversation)
            .where(
                Conversation.channel == channel,
                Conversation.address == address,
                Conversation.status != "closed",
            )
            .values(status="closed")
        )
        conversation = Conversation(
            id=conversation_id,
            channel=channel,
            address=address,
            account_id=account.id if account else None,
            started_at=now,
            last_message_at=now,
        )
        session.add(conversation)
        session.flush()
    return conversation


def account_for_phone(session: Session, phone: str) -> Account | None:
    """The one account with this phone; None when none or several (then the person is asked)."""
    rows = list(session.scalars(select(Account).where(Account.phone == phone).limit(2)))
    return rows[0] if len(rows) == 1 else None


def local_today(account: Account | None, now: datetime) -> date:
    """The date where the debtor lives (their first zone), which is what "tomorrow" means."""
    zones = account.zones if account else ()
    return now.astimezone(ZoneInfo(zones[0] if zones else DEFAULT_ZONE)).date()


def messages_after(conversation_id: str, after: int = 0) -> Select[Message]:
    """SQL: the conversation's messages newer than the id `after`, oldest first."""
    return (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.id > after)
        .order_by(Message.id)
    )


def messages_of(
    session: Session, conversation_id: str, *, after: int = 0, limit: int | None = None
) -> list[Message]:
    """The conversation's messages newer than the id `after`, oldest first."""
    query = messages_after(conversation_id, after)
    return list(session.scalars(query if limit is None else query.limit(limit)))


def reply_statuses(session: Session, conversation_id: str) -> dict[int, str]:
    """Each outbound message's status (queued, sent, delivered, failed...), by id."""
    return {
        message_id: status
        for message_id, status in session.execute(
            select(Message.id, Message.status).where(
                Message.conversation_id == conversation_id, Message.direction == "out"
            )
        )
    }


def events_of(session: Session, conversation_id: str) -> list[ConversationEvent]:
    """What happened in the conversation besides messages, in order."""
    return list(
        session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.conversation_id == conversation_id)
            .order_by(ConversationEvent.id)
        )
    )
