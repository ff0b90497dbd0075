"""Payment plans and promises to pay: offered from the policy, recorded when accepted."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.plans import PlanOption, PlanPolicy, PolicyViolation, offer_options
from bot.models import Account, HardshipRecord, Installment, PaymentPlan, Promise
from bot.services.balances import itemization
from bot.services.errors import Conflict, OnHold
from bot.services.events import EventKind, record_event
from bot.services.holds import account_hold_reasons


def ensure_collectible(session: Session, account: Account) -> None:
    """Raise OnHold when collection on the whole account is paused (compliance 14-16)."""
    reasons = account_hold_reasons(session, account.id)
    if reasons:
        raise OnHold("collection is on hold", reasons=sorted(r.value for r in reasons))


def has_hardship(session: Session, account_id: int) -> bool:
    return (
        session.scalar(
            select(HardshipRecord.id).where(HardshipRecord.account_id == account_id).limit(1)
        )
        is not None
    )


def collectible_cents(session: Session, account: Account, today: date) -> int:
    return itemization(session, account, today).collectible_cents


def plan_options(
    session: Session, account: Account, *, today: date, policy: PlanPolicy
) -> list[PlanOption]:
    ensure_collectible(session, account)
    balance = collectible_cents(session, account, today)
    if balance <= 0:
        return []
    return offer_options(
        balance, today, account.delinquent_since, has_hardship(session, account.id), policy
    )


def accept_plan(
    session: Session,
    account: Account,
    option: PlanOption,
    *,
    today: date,
    now: datetime,
    actor: str,
    conversation_id: str | None = None,
) -> PaymentPlan:
    """Record the plan the debtor confirmed, with its schedule."""
    ensure_collectible(session, account)
    if option.balance_cents != collectible_cents(session, account, today):
        raise Conflict("the balance changed since the plan was offered")
    plan = PaymentPlan(
        account_id=account.id,
        conversation_id=conversation_id,
        option_key=option.key,
        kind=option.kind,
        frequency=option.frequency,
        balance_cents=option.balance_cents,
        total_cents=option.total_cents,
        created_by=actor,
        created_at=now,
        installments=[
            Installment(seq=i, due_on=inst.due_on, amount_cents=inst.amount_cents)
            for i, inst in enumerate(option.installments, start=1)
        ],
    )
    session.add(plan)
    account.last_activity_at = now
    session.flush()
    record_event(
        session,
        EventKind.PLAN_ACCEPTED,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={
            "plan_id": plan.id,
            "key": option.key,
            "kind": option.kind,
            "frequency": option.frequency,
            "total_cents": option.total_cents,
            "count": option.count,
            "first_due": option.first_due.isoformat(),
        },
        at=now,
    )
    return plan


def record_promise(
    session: Session,
    account: Account,
    *,
    amount_cents: int,
    due_on: date,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    actor: str,
    conversation_id: str | None = None,
) -> Promise:
    """Record a promise to pay, within policy: not in the past, not too far, a real amount."""
    ensure_collectible(session, account)
    balance = collectible_cents(session, account, today)
    if due_on < today:
        raise PolicyViolation("first_payment_in_past", limit=today)
    latest = date.fromordinal(today.toordinal() + policy.promise_max_days)
    if due_on > latest:
        raise PolicyViolation("first_payment_too_late", limit=latest)
    if amount_cents < min(policy.promise_min_cents, balance):
        raise PolicyViolation("below_minimum", limit=policy.promise_min_cents)
    if amount_cents > balance:
        raise PolicyViolation("amount_exceeds_balance", limit=balance)
    promise = Promise(
        account_id=account.id,
        conversation_id=conversation_id,
        amount_cents=amount_cents,
        due_on=due_on,
        created_by=actor,
        created_at=now,
    )
    session.add(promise)
    account.last_activity_at = now
    session.flush()
    record_event(
        session,
        EventKind.PROMISE,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={"promise_id": promise.id, "amount_cents": amount_cents, "due_on": due_on.isoformat()},
        at=now,
    )
    return promise
