"""Moving the date of the next payment (bot.services.plans.reschedule_payment) on a real
database: which payment moves, the window it may move in, holds, and what is recorded."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.contact import HoldReason
from bot.domain.plans import PlanPolicy, custom_option
from bot.models import Account, ConversationEvent, Installment, PaymentPlan, Promise
from bot.services.cases import DisputeReason, hold_for_escalation, open_dispute
from bot.services.errors import (
    NothingToReschedule,
    OnHold,
    RescheduleDateInPast,
    RescheduleTooLate,
)
from bot.services.plans import (
    Rescheduled,
    accept_plan,
    collectible_cents,
    record_promise,
    reschedule_payment,
)
from tests.conftest import make_conversation
from tests.integration.factories import make_charges

DAY = timedelta(days=1)


def make_plan(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    *,
    frequency: str = "monthly",
    first_due: date | None = None,
) -> PaymentPlan:
    option = custom_option(
        collectible_cents(session, account, today),
        today,
        policy,
        amount_cents=25000,
        frequency=frequency,
        first_due=first_due or today + 7 * DAY,
    )
    return accept_plan(session, account, option, today=today, now=now, actor="bot")


def make_promise(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, due: date
) -> Promise:
    return record_promise(
        session,
        account,
        amount_cents=10000,
        due_on=due,
        today=today,
        now=now,
        policy=policy,
        actor="bot",
    )


@pytest.fixture
def move(session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy):  # type: ignore[no-untyped-def]
    def run(new_date: date, **overrides: Any) -> Rescheduled:
        values: dict[str, Any] = {
            "today": today,
            "now": now,
            "policy": policy,
            "actor": "bot",
            "conversation_id": None,
        }
        values.update(overrides)
        return reschedule_payment(session, account, new_date, **values)

    return run


def dues(plan: PaymentPlan) -> list[date]:
    return [i.due_on for i in sorted(plan.installments, key=lambda i: i.seq)]


def moved_events(session: Session) -> list[ConversationEvent]:
    return list(
        session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.kind == "payment_rescheduled")
            .order_by(ConversationEvent.id)
        )
    )


def test_the_next_installment_of_the_active_plan_moves_and_the_move_is_recorded(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    conversation = make_conversation(session, account)
    plan = make_plan(session, account, today, now, policy)
    before = dues(plan)
    friday = before[0] + 4 * DAY

    moved = move(friday, conversation_id=conversation.id)
    session.commit()
    session.expire_all()

    first = plan.installments[0]
    assert moved == Rescheduled("installment", first.id, first.amount_cents, before[0], friday)
    assert dues(session.get(PaymentPlan, plan.id)) == [friday, *before[1:]]  # type: ignore[arg-type]
    [event] = moved_events(session)
    assert (event.actor, event.conversation_id, event.account_id) == (
        "bot",
        conversation.id,
        account.id,
    )
    assert event.data == {
        "kind": "installment",
        "installment_id": first.id,
        "amount_cents": 25000,
        "old_date": before[0].isoformat(),
        "new_date": friday.isoformat(),
        "was_missed": False,
    }
    assert account.last_activity_at == now


def test_a_paid_installment_is_passed_over_for_the_next_scheduled_one(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    plan = make_plan(session, account, today, now, policy, first_due=today + 2 * DAY)
    plan.installments[0].status = "paid"
    before = dues(plan)

    moved = move(before[1] + 3 * DAY)

    assert moved.old_date == before[1]
    assert dues(plan) == [before[0], before[1] + 3 * DAY, *before[2:]]


def test_without_a_plan_the_open_promise_moves(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    promise = make_promise(session, account, today, now, policy, today + 5 * DAY)

    moved = move(today + 10 * DAY)

    assert moved == Rescheduled("promise", promise.id, 10000, today + 5 * DAY, today + 10 * DAY)
    assert promise.due_on == today + 10 * DAY
    assert moved_events(session)[0].data["promise_id"] == promise.id


def test_the_plan_goes_before_a_promise_and_a_closed_promise_never_moves(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    kept = make_promise(session, account, today, now, policy, today + 1 * DAY)
    kept.status = "kept"
    plan = make_plan(session, account, today, now, policy)
    # made on top of the plan (a plan made after a promise cancels it: accept_plan)
    promise = make_promise(session, account, today, now, policy, today + 2 * DAY)

    assert move(today + 9 * DAY).kind == "installment"
    assert promise.due_on == today + 2 * DAY and kept.due_on == today + 1 * DAY

    plan.status = "completed"
    assert move(today + 3 * DAY).id == promise.id


def test_nothing_to_move_without_a_scheduled_installment_or_an_open_promise(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    with pytest.raises(NothingToReschedule):
        move(today + DAY)
    plan = make_plan(session, account, today, now, policy)
    for installment in plan.installments:
        installment.status = "paid"
    kept = make_promise(session, account, today, now, policy, today + DAY)
    kept.status = "kept"

    with pytest.raises(NothingToReschedule):
        move(today + 3 * DAY)
    assert moved_events(session) == []


def test_a_payment_missed_lately_moves_and_is_due_again(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    """The follow-up to a missed payment offers a new date: "can I pay it friday" moves the
    missed installment (not the next one) and it is scheduled again."""
    plan = make_plan(session, account, today, now, policy)
    first, second = plan.installments[0], plan.installments[1]
    first.due_on, first.status = today - 3 * DAY, "missed"
    session.flush()

    moved = move(today + 2 * DAY)

    assert (moved.id, moved.old_date, moved.new_date) == (
        first.id,
        today - 3 * DAY,
        today + 2 * DAY,
    )
    assert (first.status, first.due_on) == ("scheduled", today + 2 * DAY)
    assert second.status == "scheduled"
    assert moved_events(session)[0].data["was_missed"] is True


def test_a_payment_missed_too_long_ago_leaves_the_next_one_to_move(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    plan = make_plan(session, account, today, now, policy)
    first, second = plan.installments[0], plan.installments[1]
    first.due_on, first.status = today - 30 * DAY, "missed"
    session.flush()

    assert move(second.due_on + DAY).id == second.id
    assert first.status == "missed"


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        pytest.param(-1, RescheduleDateInPast, id="yesterday"),
        pytest.param(0, RescheduleDateInPast, id="today"),
        pytest.param(1, None, id="tomorrow, before its own date"),
        pytest.param(7 + 14, None, id="the last day of the allowance"),
        pytest.param(7 + 15, RescheduleTooLate, id="past the allowance"),
    ],
)
def test_the_new_date_is_after_today_and_within_the_allowance(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    move,
    offset: int,
    error: type[Exception] | None,
) -> None:
    assert policy.reschedule_max_days == 14
    plan = make_plan(session, account, today, now, policy, first_due=today + 7 * DAY)
    before = dues(plan)
    new_date = today + offset * DAY

    if error is None:
        assert move(new_date).new_date == new_date
        assert dues(plan)[0] == new_date
        return
    with pytest.raises(error) as refused:
        move(new_date)
    if error is RescheduleTooLate:
        assert refused.value.details["latest"] == before[0] + 14 * DAY
    assert dues(plan) == before
    assert moved_events(session) == []


def test_an_installment_stays_before_the_following_one(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    plan = make_plan(session, account, today, now, policy, frequency="weekly")
    before = dues(plan)
    assert before[1] - before[0] == 7 * DAY  # closer than the 14-day allowance

    with pytest.raises(RescheduleTooLate) as refused:
        move(before[1])
    assert refused.value.details["latest"] == before[1] - DAY
    assert move(before[1] - DAY).new_date == before[1] - DAY
    assert dues(plan) == [before[1] - DAY, *before[1:]]


def test_a_payment_whose_allowance_has_run_out_is_nothing_to_move(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    promise = make_promise(session, account, today, now, policy, today)
    promise.due_on = today - 14 * DAY  # long overdue and never marked broken

    with pytest.raises(NothingToReschedule):
        move(today + DAY)


def test_moving_to_the_date_it_already_has_records_nothing(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    plan = make_plan(session, account, today, now, policy)
    due = dues(plan)[0]

    assert move(due) == Rescheduled("installment", plan.installments[0].id, 25000, due, due)
    assert moved_events(session) == []


@pytest.mark.parametrize(
    "hold",
    [
        pytest.param("dispute", id="whole-account dispute"),
        *(pytest.param(r, id=r.value) for r in (HoldReason.BANKRUPTCY, HoldReason.ATTORNEY)),
    ],
)
def test_a_hold_on_the_whole_account_refuses_and_changes_nothing(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    move,
    hold: Any,
) -> None:
    plan = make_plan(session, account, today, now, policy)
    before = dues(plan)
    if hold == "dispute":
        open_dispute(session, account, DisputeReason.WRONG_AMOUNT, actor="debtor", now=now)
    else:
        hold_for_escalation(session, account, hold, actor="bot")

    with pytest.raises(OnHold):
        move(before[0] + 3 * DAY)
    assert dues(plan) == before
    assert moved_events(session) == []


def test_a_dispute_of_one_charge_leaves_the_date_movable(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    charges = make_charges(session, account)
    plan = make_plan(session, account, today, now, policy)
    open_dispute(
        session,
        account,
        DisputeReason.NOT_MINE,
        actor="debtor",
        now=now,
        charge_id=charges[1].id,
    )

    assert move(dues(plan)[0] + 3 * DAY).kind == "installment"


def test_the_installment_row_itself_changes_not_a_copy(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy, move
) -> None:
    plan = make_plan(session, account, today, now, policy)
    first = plan.installments[0]
    moved = move(first.due_on + 2 * DAY)
    session.commit()
    session.expire_all()

    stored = session.get(Installment, first.id)
    assert stored is not None and stored.due_on == moved.new_date and stored.status == "scheduled"
    assert len(session.scalars(select(Installment)).all()) == len(plan.installments)
