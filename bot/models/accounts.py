"""Accounts placed by a creditor, their charges and the payments received."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow
from bot.models.types import UTCDateTime


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(40), unique=True)
    creditor: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    date_of_birth: Mapped[date] = mapped_column(Date)
    ssn_last4: Mapped[str] = mapped_column(String(4))
    zip: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(2))
    # Amounts at placement, in cents.
    principal_cents: Mapped[int] = mapped_column(Integer)
    interest_cents: Mapped[int] = mapped_column(Integer)
    fees_cents: Mapped[int] = mapped_column(Integer)
    delinquent_since: Mapped[date] = mapped_column(Date)
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    # Derived at import: space-separated IANA zones of the address and of the phone's area code.
    address_zones: Mapped[str] = mapped_column(String(200), default="")
    phone_zones: Mapped[str] = mapped_column(String(200), default="")
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    charges: Mapped[list[Charge]] = relationship(
        back_populates="account", order_by="Charge.posted_on, Charge.id"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="account", order_by="Payment.paid_on, Payment.id"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.address_zones.split()) | set(self.phone_zones.split())))


class Charge(Base):
    """One line of the account's history as the creditor sent it (charges CSV)."""

    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("account_id", "posted_on", "kind", "amount_cents", "description"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    posted_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # ChargeKind
    amount_cents: Mapped[int] = mapped_column(Integer)

    account: Mapped[Account] = relationship(back_populates="charges")


class Payment(Base):
    """A payment received after placement (through the payment link or recorded by an agent)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str | None] = mapped_column(String(80), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="payments")
