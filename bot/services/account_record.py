"""Accounts as staff pages read them: found by reference or listed with their phones, and
what an account has on file besides its balance (its charges, plans, promises, disputes,
hardships and validation requests, oldest first) for the agent console and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    Account,
    Charge,
    Dispute,
    HardshipRecord,
    PaymentPlan,
    Promise,
    ValidationRequest,
)


@dataclass(frozen=True)
class AccountRecord:
    charges: list[Charge]
    plans: list[PaymentPlan]
    promises: list[Promise]
    disputes: list[Dispute]
    hardships: list[HardshipRecord]
    validations: list[ValidationRequest]


def account_by_ref(session: Session, account_ref: str) -> Account | None:
    return session.scalar(select(Account).where(Account.account_ref == account_ref))


def accounts_with_phone(session: Session, limit: int) -> list[Account]:
    """The first `limit` accounts with a phone, by reference (the SMS simulator's list)."""
    return list(
        session.scalars(
            select(Account)
            .where(Account.phone.is_not(None))
            .order_by(Account.account_ref)
            .limit(limit)
        )
    )


def account_record(session: Session, account_id: int) -> AccountRecord:
    def rows(model: Any) -> list[Any]:
        return list(
            session.scalars(select(model).where(model.account_id == account_id).order_by(model.id))
        )

    return AccountRecord(
        charges=rows(Charge),
        plans=rows(PaymentPlan),
        promises=rows(Promise),
        disputes=rows(Dispute),
        hardships=rows(HardshipRecord),
        validations=rows(ValidationRequest),
    )
