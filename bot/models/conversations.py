"""Conversations on SMS and web chat, every message in and out, their events and handoffs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # One open conversation per address and channel: texts sent together share it.
        Index(
            "uq_conversations_open_address",
            "channel",
            "address",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
    )

    # A random hex id: the Rasa sender id, and the web chat's handle. Not guessable.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms | web
    address: Mapped[str] = mapped_column(String(254), index=True)  # phone (SMS) or web session
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="bot")  # bot | handoff | closed
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verification_failures: Mapped[int] = mapped_column(Integer, default=0)
    verification_locked: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    events: Mapped[list[ConversationEvent]] = relationship(
        back_populates="conversation", order_by="ConversationEvent.id"
    )

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class Message(Base):
    """Every message in or out. `text` is already redacted. Outbound rows double as the outbox:
    status `queued` until a worker sends them."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    sender: Mapped[str] = mapped_column(String(10))  # debtor | bot | agent | system
    channel: Mapped[str] = mapped_column(String(10))  # sms | web
    text: Mapped[str] = mapped_column(Text)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)  # MessageSid
    status: Mapped[str] = mapped_column(String(20))  # MessageStatus
    initiated: Mapped[bool] = mapped_column(default=False)  # started by us, not a reply
    purpose: Mapped[str] = mapped_column(String(20), default="general")  # contact.Purpose
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The inbound message this one answers (so a retried webhook gets the same answer).
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A message the system started that is pointless after this (a reminder after its date):
    # the outbox drops it with a reason instead of sending it late.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationEvent(Base):
    """Something that happened in a conversation besides a message: verification, plan offered
    or accepted, promise, dispute and hold, hardship, opt-out, handoff, agent note, complaint.
    Append-only; corrections are new events."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)  # EventKind
    actor: Mapped[str] = mapped_column(String(80))  # debtor | bot | system | agent:<email>
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation | None] = relationship(back_populates="events")


class Handoff(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30))  # HandoffReason
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="waiting", index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
