"""Payment plans and promises to pay: offered from the policy, recorded when accepted, and
the date of the next payment moved when the debtor asks ("can I move it to friday").

Moving a date, the rules:
- What moves: the next `scheduled` installment (earliest date) of the account's active
  plan(s); with none, its open promise with the earliest date. Nothing else: a paid or missed
  installment, a kept or broken promise, or nothing at all is `NothingToReschedule`.
- To what: a date after today (`RescheduleDateInPast` otherwise), at most
  `policy.reschedule_max_days` after the payment's own date, and for an installment before
  the plan's following installment (`RescheduleTooLate` with the latest date otherwise).
  Earlier is allowed as long as it is after today. A payment whose window has closed (its
  date plus the allowance is already past) is nothing to move: a new promise or plan is.
- Holds: a hold on the whole account (dispute, validation, bankruptcy, attorney, distress,
  deceased) refuses it with `OnHold`, like every other change to what is due. Nothing is
  collected and no reminder goes while it stands, so the date does not bind the debtor; the
  reply ("we won't ask for any payment for now") answers what they need without a line
  about what is due, which rule 14 (and the attorney and bankruptcy holds) keep out of the
  conversation. A hold on one charge leaves the account collectible and the date movable.
- Recorded: the new date on the row, and a `payment_rescheduled` event with both dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bot.domain.plans import (
    PlanOption,
    PlanPolicy,
    PolicyViolation,
    custom_option,
    offer_options,
    reschedule_window,
)
from bot.models import Account, HardshipRecord, Installment, PaymentPlan, Promise
from bot.services.balances import itemization
from bot.services.errors import (
    Conflict,
    NothingToReschedule,
    OnHold,
    RescheduleDateInPast,
    RescheduleTooLate,
)
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


def custom_plan(
    session: Session,
    account: Account,
    *,
    today: date,
    policy: PlanPolicy,
    amount_cents: int | None,
    frequency: str,
    first_due: date | None,
) -> PlanOption:
    """The debtor's own amount, frequency or first date (`custom_option`), within the limits
    the offered plans use: the hardship limits once a hardship is on record. PolicyViolation
    says which limit it breaks; OnHold when collection is paused."""
    ensure_collectible(session, account)
    return custom_option(
        collectible_cents(session, account, today), today, policy,
        amount_cents=amount_cents, frequency=frequency, first_due=first_due,
        hardship=has_hardship(session, account.id),
    )  # fmt: skip


def _active_plans(session: Session, account: Account) -> list[PaymentPlan]:
    return list(
        session.scalars(
            select(PaymentPlan)
            .where(PaymentPlan.account_id == account.id, PaymentPlan.status == "active")
            .order_by(PaymentPlan.id)
        )
    )


def _plan_installments(account: Account, statuses: tuple[str, ...]) -> Select[Installment]:
    """SQL: the installments of the account's active plan with one of `statuses`, soonest
    first."""
    return (
        select(Installment)
        .join(PaymentPlan)
        .where(
            PaymentPlan.account_id == account.id,
            PaymentPlan.status == "active",
            Installment.status.in_(statuses),
        )
        .order_by(Installment.due_on, Installment.id)
    )


def next_installment(session: Session, account: Account) -> Installment | None:
    """The next payment still scheduled on the account's plan (None: no plan, or none left).
    Offering plans says so first: a new plan replaces it (`accept_plan`)."""
    return session.scalar(_plan_installments(account, ("scheduled",)).limit(1))


def open_promises(session: Session, account: Account) -> list[Promise]:
    """The account's promises not yet kept, broken or cancelled, soonest first. Offering plans
    says so first: a new plan, for the whole balance, cancels them (`accept_plan`)."""
    return list(
        session.scalars(
            select(Promise)
            .where(Promise.account_id == account.id, Promise.status == "open")
            .order_by(Promise.due_on, Promise.id)
        )
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
    """Record the plan the debtor confirmed, with its schedule. It replaces the account's
    plan, if it has one (status "replaced"), and cancels its open promises (status
    "cancelled"); its event names both. One arrangement at a time for the whole balance, so
    nobody is reminded of two schedules for the same money."""
    ensure_collectible(session, account)
    if option.balance_cents != collectible_cents(session, account, today):
        raise Conflict("the balance changed since the plan was offered")
    replaced = _active_plans(session, account)
    for old in replaced:
        old.status = "replaced"
        old.ended_at = now
    cancelled = open_promises(session, account)
    for promise in cancelled:
        promise.status = "cancelled"
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
            **({"replaces": [p.id for p in replaced]} if replaced else {}),
            **({"cancels_promises": [p.id for p in cancelled]} if cancelled else {}),
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


def promise_rest_cents(
    session: Session,
    account: Account,
    *,
    amount_cents: int,
    due_on: date,
    rest_on: date,
    today: date,
    policy: PlanPolicy,
) -> int:
    """What "and the rest on `rest_on`" comes to: the collectible balance less the first
    payment. PolicyViolation when the rest cannot be a promise of its own: its date not after
    the first payment's or past the latest date a promise may have (`rest_date_not_allowed`,
    with that latest date), or less than the smallest payment left (`no_rest`)."""
    latest = date.fromordinal(today.toordinal() + policy.promise_max_days)
    if not due_on < rest_on <= latest:
        raise PolicyViolation("rest_date_not_allowed", limit=latest)
    rest = collectible_cents(session, account, today) - amount_cents
    if rest < policy.promise_min_cents:
        raise PolicyViolation("no_rest", limit=policy.promise_min_cents)
    return rest


def record_promise_and_rest(
    session: Session,
    account: Account,
    *,
    amount_cents: int,
    due_on: date,
    rest_on: date,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    actor: str,
    conversation_id: str | None = None,
) -> tuple[Promise, Promise]:
    """ "100 now and the rest on the 15th": two promises in this transaction, the second for
    what the first leaves of the balance. Both within policy, or neither (PolicyViolation)."""
    rest = promise_rest_cents(
        session, account, amount_cents=amount_cents, due_on=due_on, rest_on=rest_on,
        today=today, policy=policy,
    )  # fmt: skip
    first, second = (
        record_promise(
            session,
            account,
            amount_cents=cents,
            due_on=on,
            today=today,
            now=now,
            policy=policy,
            actor=actor,
            conversation_id=conversation_id,
        )
        for cents, on in ((amount_cents, due_on), (rest, rest_on))
    )
    return first, second


# ----------------------------------------------------------------------------- moving a date


@dataclass(frozen=True)
class DuePayment:
    """The payment a request to move "it" is about."""

    kind: str  # "installment" | "promise"
    id: int
    amount_cents: int
    due_on: date
    #: For an installment, the date of the plan's following installment (None: the last).
    following_due: date | None = None
    #: Missed lately (installment "missed", promise "broken"): moving it makes it due again.
    missed: bool = False


@dataclass(frozen=True)
class Rescheduled:
    kind: str  # "installment" | "promise"
    id: int
    amount_cents: int
    old_date: date
    new_date: date


#: Statuses a payment may still be moved from: due ahead, or missed lately (the follow-up to
#: a missed payment offers a new date, so a missed one moves back to scheduled when it does).
MOVABLE_INSTALLMENT = ("scheduled", "missed")
MOVABLE_PROMISE = ("open", "broken")


def _movable_payments(session: Session, account: Account) -> list[DuePayment]:
    """Installments of the active plan, then promises, each oldest first, that may move."""
    found: list[DuePayment] = []
    installments = session.scalars(_plan_installments(account, MOVABLE_INSTALLMENT)).all()
    for installment in installments:
        following = session.scalar(
            select(Installment.due_on)
            .where(Installment.plan_id == installment.plan_id, Installment.seq > installment.seq)
            .order_by(Installment.seq)
            .limit(1)
        )
        found.append(
            DuePayment(
                "installment", installment.id, installment.amount_cents, installment.due_on,
                following, missed=installment.status == "missed",
            )
        )  # fmt: skip
    promises = session.scalars(
        select(Promise)
        .where(Promise.account_id == account.id, Promise.status.in_(MOVABLE_PROMISE))
        .order_by(Promise.due_on, Promise.id)
    ).all()
    for promise in promises:
        found.append(
            DuePayment(
                "promise", promise.id, promise.amount_cents, promise.due_on,
                missed=promise.status == "broken",
            )
        )  # fmt: skip
    return found


def next_due_payment(session: Session, account: Account) -> DuePayment | None:
    """The next scheduled installment of an active plan, else the earliest open promise."""
    return next((p for p in _movable_payments(session, account) if not p.missed), None)


def payment_to_move(
    session: Session, account: Account, *, today: date, policy: PlanPolicy
) -> DuePayment:
    """The payment whose date may move now: the earliest one, missed lately or due ahead,
    whose window is still open. Raises OnHold while collection is paused, and
    NothingToReschedule without one."""
    ensure_collectible(session, account)
    payments = _movable_payments(session, account)
    if not payments:
        raise NothingToReschedule("no scheduled installment or open promise")
    for payment in payments:
        first, last = reschedule_window(
            payment.due_on, today, policy, following_due=payment.following_due
        )
        if first <= last:
            return payment
    raise NothingToReschedule("no payment whose date can still move")


def reschedule_payment(
    session: Session,
    account: Account,
    new_date: date,
    *,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    actor: str,
    conversation_id: str | None = None,
) -> Rescheduled:
    """Move the next payment (see the module docstring for which, and to what)."""
    payment = payment_to_move(session, account, today=today, policy=policy)
    first, last = reschedule_window(
        payment.due_on, today, policy, following_due=payment.following_due
    )
    if new_date < first:
        raise RescheduleDateInPast(f"{new_date} is not after {today}", earliest=first)
    if new_date > last:
        raise RescheduleTooLate(f"{new_date} is after {last}", latest=last)
    row: Installment | Promise | None = (
        session.get(Installment, payment.id)
        if payment.kind == "installment"
        else session.get(Promise, payment.id)
    )
    assert row is not None
    moved = Rescheduled(payment.kind, payment.id, payment.amount_cents, payment.due_on, new_date)
    if new_date == payment.due_on:
        return moved  # already due then: nothing to change or record
    row.due_on = new_date
    if payment.missed:  # a missed payment given a new date is due again
        row.status = "scheduled" if isinstance(row, Installment) else "open"
    account.last_activity_at = now
    record_event(
        session,
        EventKind.PAYMENT_RESCHEDULED,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={
            "kind": payment.kind,
            f"{payment.kind}_id": payment.id,
            "amount_cents": payment.amount_cents,
            "old_date": payment.due_on.isoformat(),
            "new_date": new_date.isoformat(),
            "was_missed": payment.missed,
        },
        at=now,
    )
    return moved
