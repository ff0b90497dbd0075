"""What a debtor agreed to: payment plans with their installments, and promises to pay."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class PaymentPlan(Base):
    __tablename__ = "payment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    option_key: Mapped[str] = mapped_column(String(40))  # e.g. "monthly_6", "custom"
    kind: Mapped[str] = mapped_column(String(20))  # full | installments | hardship | settlement
    frequency: Mapped[str] = mapped_column(String(10))  # once | weekly | biweekly | monthly
    balance_cents: Mapped[int] = mapped_column(Integer)  # the balance when it was agreed
    total_cents: Mapped[int] = mapped_column(Integer)  # what the debtor will pay in all
    status: Mapped[str] = mapped_column(String(20), default="active")  # PlanStatus
    created_by: Mapped[str] = mapped_column(String(80))  # "bot" or "agent:<email>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    installments: Mapped[list[Installment]] = relationship(
        back_populates="plan", order_by="Installment.seq", cascade="all, delete-orphan"
    )


class Installment(Base):
    __tablename__ = "installments"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled|paid|missed

    plan: Mapped[PaymentPlan] = relationship(back_populates="installments")


class Promise(Base):
    """A promise to pay an amount on a date ("I get paid on the 15th")."""

    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|kept|broken|cancelled
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
