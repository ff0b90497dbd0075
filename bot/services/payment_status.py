"""Whether promises and plan installments were paid: the one rule that the dashboard's numbers
(`bot.services.metrics`) and the outreach scheduler (`bot.services.outreach`) share.

Payments arrive from outside (the payment provider, an agent recording one) and are not tied to
a promise or an installment, so "paid" is derived from the account's payments:

- a **promise** is paid when the payments on its account, paid from the day it was made (its
  ``created_at``, as a UTC date) through its due date, add up to at least the amount promised;
- a plan **installment** is paid when the payments on the plan's account, paid from the day the
  plan was agreed (UTC date) through the installment's due date, add up to at least the plan's
  installments due up to and including this one (so paying early, or in two parts, counts, and
  a short payment leaves later installments short too).

``through`` moves the end of the payment window (to "today", say, to see a payment made after
the due date); without it the window ends on the due date, which is what "kept" means. Both
are correlated SQL expressions: use them in a query that selects from ``promises`` (or from
``installments`` joined to ``payment_plans``). They run the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from bot.models import Installment, Payment, PaymentPlan, Promise


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'


def promise_paid_cents(session: Session, through: date | None = None) -> Any:
    """What was paid towards each promise (correlated on ``promises``), in cents."""
    return (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .where(
            Payment.account_id == Promise.account_id,
            Payment.paid_on >= utc_day(session, Promise.created_at),
            Payment.paid_on <= (Promise.due_on if through is None else through),
        )
        .scalar_subquery()
    )


def installment_paid_cents(session: Session, through: date | None = None) -> Any:
    """What was paid towards each installment's plan by its due date (or `through`), in cents
    (correlated on ``installments`` joined to ``payment_plans``)."""
    return (
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .where(
            Payment.account_id == PaymentPlan.account_id,
            Payment.paid_on >= utc_day(session, PaymentPlan.created_at),
            Payment.paid_on <= (Installment.due_on if through is None else through),
        )
        .scalar_subquery()
    )


def installment_due_cents() -> Any:
    """The plan's installments due up to and including each one (correlated on
    ``installments``), in cents."""
    earlier = aliased(Installment)
    return (
        select(func.coalesce(func.sum(earlier.amount_cents), 0))
        .where(earlier.plan_id == Installment.plan_id, earlier.seq <= Installment.seq)
        .scalar_subquery()
    )
