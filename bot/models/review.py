"""Compliance review: the hash chain over each transcript, and reviewers' verdicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class TranscriptLink(Base):
    """One link of a conversation's hash chain: a message or an event, in the order they were
    stored. `digest` hashes the entry's content; `chain` hashes the previous link's chain with
    this digest, so changing, removing or reordering anything stored breaks every later link."""

    __tablename__ = "transcript_links"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("entry_type", "entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3... within the conversation
    entry_type: Mapped[str] = mapped_column(String(10))  # message | event
    entry_id: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationReview(Base):
    """A reviewer's verdict on a conversation. Append-only: a second review supersedes the
    first without erasing it."""

    __tablename__ = "conversation_reviews"
    __table_args__ = (Index("ix_conversation_reviews_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    reviewer: Mapped[str] = mapped_column(String(254))
    outcome: Mapped[str] = mapped_column(String(20))  # ReviewOutcome: fine | coaching | breach
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
