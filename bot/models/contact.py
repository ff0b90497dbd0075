"""Consent: the opt-out ledger (append-only, never deleted) and contact preferences."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ForeignKey, String, Text, Time, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class ConsentEvent(Base):
    """One change of consent for an address on a channel: opt_out, opt_in, cease, wrong_number.

    The current state of an address is its latest event; rows are never updated or deleted.
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), index=True)  # E.164 phone or email
    channel: Mapped[str] = mapped_column(String(10))  # sms | email | voice | web | all
    action: Mapped[str] = mapped_column(String(20))  # ConsentAction
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))  # keyword | language | agent:<email> | import
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactPreference(Base):
    """How and when the debtor wants to hear from us. One row per account, updated in place;
    each change is also recorded as a conversation event for the audit trail."""

    __tablename__ = "contact_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    channels: Mapped[str | None] = mapped_column(String(60))  # space-separated; None = any
    earliest: Mapped[time | None] = mapped_column(Time)
    latest: Mapped[time | None] = mapped_column(Time)
    avoid_work_hours: Mapped[bool] = mapped_column(default=False)
    avoid_weekends: Mapped[bool] = mapped_column(default=False, server_default=false())
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
