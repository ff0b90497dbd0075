"""Balance and itemization of an account, from its charges, payments and holds."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.balance import ChargeKind, ChargeLine, Itemization, itemize
from bot.models import Account, Charge, Payment
from bot.services.holds import disputed_charge_ids


def charge_lines(session: Session, account_id: int) -> list[ChargeLine]:
    rows = session.scalars(
        select(Charge).where(Charge.account_id == account_id).order_by(Charge.posted_on, Charge.id)
    )
    return [
        ChargeLine(
            charge_id=c.id,
            posted_on=c.posted_on,
            description=c.description,
            kind=ChargeKind(c.kind),
            amount_cents=c.amount_cents,
        )
        for c in rows
    ]


def itemization(session: Session, account: Account, today: date) -> Itemization:
    payments = session.scalars(select(Payment.amount_cents).where(Payment.account_id == account.id))
    return itemize(
        placed_principal_cents=account.principal_cents,
        placed_interest_cents=account.interest_cents,
        placed_fees_cents=account.fees_cents,
        charges=charge_lines(session, account.id),
        payments_received_cents=list(payments),
        disputed_charge_ids=disputed_charge_ids(session, account.id),
        as_of=today,
    )
