"""Disputes, validation requests, holds on collection, and hardship records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))  # None: whole debt
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    reason: Mapped[str] = mapped_column(String(30))  # DisputeReason
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30), default="open")  # open|verification_sent|closed
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verification_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ValidationRequest(Base):
    """A request for validation information or for the original creditor (1006.34, 1006.38)."""

    __tablename__ = "validation_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(30))  # validation | original_creditor
    status: Mapped[str] = mapped_column(String(30), default="open")  # open | sent
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Hold(Base):
    """Collection paused on an account (or one charge) until the hold is released."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))
    reason: Mapped[str] = mapped_column(String(20))  # HoldReason
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id"))
    validation_request_id: Mapped[int | None] = mapped_column(ForeignKey("validation_requests.id"))
    detail: Mapped[str | None] = mapped_column(Text)  # attorney contact, bankruptcy case number
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(80))


class HardshipRecord(Base):
    __tablename__ = "hardship_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    category: Mapped[str] = mapped_column(String(30))  # HardshipCategory
    temporary: Mapped[bool | None] = mapped_column()
    affordable_monthly_cents: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
