"""The business services on a migrated database: balances, verification, plans and promises,
disputes and holds, hardship, consent and contact rules, handoffs, and the audit log."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from bot.domain.contact import Channel, HoldReason, Kind, Preference, Purpose, Reason
from bot.domain.plans import PlanPolicy, PolicyViolation
from bot.domain.references import ALPHABET
from bot.domain.verification import Answers, Outcome
from bot.models import (
    Account,
    AppendOnlyError,
    AuditLog,
    Base,
    ConsentEvent,
    ContactPreference,
    Conversation,
    ConversationEvent,
    Handoff,
    Hold,
    Installment,
    Message,
    PaymentPlan,
    Promise,
)
from bot.services.audit import audit
from bot.services.balances import itemization
from bot.services.cases import (
    DisputeReason,
    HardshipCategory,
    ValidationKind,
    hold_for_escalation,
    open_dispute,
    record_hardship,
    record_validation_sent,
    record_verification_sent,
    request_validation,
)
from bot.services.consent import (
    ConsentAction,
    ConsentState,
    consent_state,
    contact_decision,
    has_ceased,
    is_opted_out,
    is_wrong_number,
    preference_of,
    record_consent,
    set_preference,
)
from bot.services.errors import Conflict, NotFound, OnHold, VerificationLocked
from bot.services.handoff import HandoffReason, claim, request_handoff
from bot.services.holds import account_hold_reasons
from bot.services.outreach_due import OutreachKind, reminders
from bot.services.plans import (
    accept_plan,
    collectible_cents,
    has_hardship,
    next_installment,
    open_promises,
    plan_options,
    record_promise,
    record_promise_and_rest,
)
from bot.services.verification import attempt, find_account
from tests.conftest import make_account, make_conversation
from tests.integration.factories import (
    DEMO_TOTAL_CENTS,
    make_charges,
    make_payment,
    make_staff_user,
)

pytestmark = pytest.mark.integration

MARIA_DOB = date(1984, 3, 12)
RIGHT = Answers(date_of_birth=MARIA_DOB, zip="98103")
WRONG = Answers(date_of_birth=date(1990, 1, 1), zip="10001")


def events(session: Session, kind: str, **where: Any) -> list[ConversationEvent]:
    query = select(ConversationEvent).where(ConversationEvent.kind == kind)
    for column, value in where.items():
        query = query.where(getattr(ConversationEvent, column) == value)
    return list(session.scalars(query.order_by(ConversationEvent.id)))


def count(session: Session, model: type[Base], *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- balances -------------------------------------------------------------------------------


def test_balance_of_an_account_with_a_charges_history_comes_from_it(
    session: Session, today: date
) -> None:
    account = make_account(session, principal_cents=1, interest_cents=2, fees_cents=3)
    make_charges(session, account)

    items = itemization(session, account, today)

    assert (items.principal_cents, items.interest_cents, items.fees_cents) == (120000, 10437, 6500)
    assert items.total_cents == DEMO_TOTAL_CENTS
    assert [c.posted_on for c in items.charges] == sorted(c.posted_on for c in items.charges)
    assert len(items.charges) == 6


def test_payment_rows_reduce_the_balance(session: Session, account: Account, today: date) -> None:
    make_charges(session, account)
    make_payment(session, account, 5000, today - timedelta(days=3))
    make_payment(session, account, 1937, today)

    items = itemization(session, account, today)

    assert items.payments_cents == 6937
    assert items.total_cents == DEMO_TOTAL_CENTS - 6937
    assert collectible_cents(session, account, today) == 130000


def test_payment_rows_reduce_a_balance_known_only_from_the_placement(
    session: Session, account: Account, today: date
) -> None:
    make_payment(session, account, 36937, today)

    assert itemization(session, account, today).total_cents == 100000


def test_payments_on_another_account_do_not_count(
    session: Session, account: Account, today: date
) -> None:
    other = make_account(session, account_ref="ACC-100512", phone="+14045550178")
    make_payment(session, other, 5000, today)

    assert itemization(session, account, today).total_cents == DEMO_TOTAL_CENTS


# --- verification ---------------------------------------------------------------------------


def test_dob_and_zip_verify_the_conversation(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)

    result = attempt(session, conversation, RIGHT, now=now)

    assert result.outcome is Outcome.VERIFIED
    assert not result.locked and result.attempts_left == 3
    session.commit()
    session.expire_all()
    assert conversation.verified_at == now
    passed = events(session, "verification_passed", conversation_id=conversation.id)
    assert [e.data["factors"] for e in passed] == [["dob", "zip"]]


def test_each_mismatch_is_counted_with_an_event(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)

    first = attempt(session, conversation, WRONG, now=now)
    second = attempt(session, conversation, WRONG, now=now)

    assert (first.outcome, first.attempts_left, first.locked) == (Outcome.MISMATCH, 2, False)
    assert (second.outcome, second.attempts_left, second.locked) == (Outcome.MISMATCH, 1, False)
    session.commit()
    session.expire_all()
    assert conversation.verification_failures == 2
    assert conversation.verified_at is None
    failed = events(session, "verification_failed", conversation_id=conversation.id)
    assert [e.data["attempt"] for e in failed] == [1, 2]


def test_a_single_factor_is_incomplete_and_not_counted(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)

    result = attempt(session, conversation, Answers(zip="10001"), now=now)

    assert result.outcome is Outcome.INCOMPLETE
    assert result.attempts_left == 3
    assert conversation.verification_failures == 0


def test_third_mismatch_locks_and_flags_identity_failed(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)
    attempt(session, conversation, WRONG, now=now)
    attempt(session, conversation, WRONG, now=now)

    third = attempt(session, conversation, WRONG, now=now)

    assert (third.outcome, third.attempts_left, third.locked) == (Outcome.MISMATCH, 0, True)
    session.commit()
    session.expire_all()
    stored = session.get(Conversation, conversation.id)
    assert stored is not None and stored.verification_locked and stored.verified_at is None
    locked = events(session, "verification_locked", conversation_id=conversation.id)
    assert len(locked) == 1
    assert locked[0].data["flag"] == "identity_failed"
    assert locked[0].account_id == account.id


def test_attempts_after_the_lock_raise_even_with_right_answers(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)
    for _ in range(3):
        attempt(session, conversation, WRONG, now=now)
    before = count(session, ConversationEvent)

    with pytest.raises(VerificationLocked):
        attempt(session, conversation, RIGHT, now=now)

    assert conversation.verified_at is None
    assert count(session, ConversationEvent) == before


def test_the_lock_belongs_to_the_conversation_not_the_account(
    session: Session, account: Account, now: datetime
) -> None:
    locked = make_conversation(session, account)
    for _ in range(3):
        attempt(session, locked, WRONG, now=now)
    fresh = make_conversation(session, account)

    assert attempt(session, fresh, RIGHT, now=now).outcome is Outcome.VERIFIED


@pytest.mark.parametrize(
    "typed", ["acc-100234", "ACC100234", "ACC-100234", " Acc 100234 ", "acc100234"]
)
def test_find_account_by_reference_in_any_form(
    session: Session, account: Account, typed: str
) -> None:
    assert find_account(session, typed) == account


@pytest.mark.parametrize(
    "typed",
    [
        "(206) 555-0134",
        "206-555-0134",
        "206.555.0134",
        "2065550134",
        "+1 206 555 0134",
        "1-206-555-0134",
        "+12065550134",
    ],
)
def test_find_account_by_phone_in_any_format(
    session: Session, account: Account, typed: str
) -> None:
    assert find_account(session, typed) == account


def test_a_phone_two_accounts_share_finds_neither(session: Session, account: Account) -> None:
    make_account(session, account_ref="ACC-100999", phone=account.phone)

    assert find_account(session, "(206) 555-0134") is None
    assert find_account(session, "ACC-100999") is not None  # the reference still does


@pytest.mark.parametrize("ref", ["ACC100234", "ACCT-77"])
def test_find_account_by_its_exact_reference_without_the_usual_dash(
    session: Session, ref: str
) -> None:
    stored = make_account(session, account_ref=ref)

    assert find_account(session, ref) == stored


@pytest.mark.parametrize("typed", ["ACC-999999", "(404) 555-0178", "hello", ""])
def test_find_account_finds_nothing_for_unknown_input(
    session: Session, account: Account, typed: str
) -> None:
    assert find_account(session, typed) is None


# --- plans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts", "delinquent_since", "settlement"),
    [
        # 295 days delinquent: the 180-day tier, 80% of 1,369.37 rounded up to the cent
        pytest.param((120000, 10437, 6500), date(2026, 2, 1), 109550, id="demo-295-days"),
        pytest.param((120000, 10437, 6500), date(2026, 10, 1), None, id="demo-53-days"),
        pytest.param((8999, 0, 1500), date(2026, 7, 10), None, id="odd-10499"),
        # 1,057 days: the 730-day tier, 60% of 1,000.01 = 600.006, rounded up
        pytest.param((100000, 0, 1), date(2024, 1, 1), 60001, id="odd-100001-old"),
        pytest.param((3000, 0, 0), date(2026, 1, 1), 2400, id="too-small-to-split"),
        pytest.param((2000, 0, 0), date(2026, 9, 1), None, id="tiny-no-settlement"),
    ],
)
def test_plan_options_are_two_to_four_and_each_pays_the_balance(
    session: Session,
    today: date,
    policy: PlanPolicy,
    amounts: tuple[int, int, int],
    delinquent_since: date,
    settlement: int | None,
) -> None:
    principal, interest, fees = amounts
    account = make_account(
        session,
        principal_cents=principal,
        interest_cents=interest,
        fees_cents=fees,
        delinquent_since=delinquent_since,
    )
    balance = principal + interest + fees

    options = plan_options(session, account, today=today, policy=policy)

    assert 2 <= len(options) <= 4
    assert len({o.key for o in options}) == len(options)
    settlements = [o for o in options if o.kind == "settlement"]
    assert [o.total_cents for o in settlements] == ([settlement] if settlement else [])
    for option in options:
        assert option.balance_cents == balance
        paid = sum(i.amount_cents for i in option.installments)
        assert paid == (settlement if option.kind == "settlement" else balance), option.key
        assert option.first_due >= today
        assert option.first_due <= today + timedelta(days=policy.max_days_to_first_payment)


def test_accept_plan_records_the_plan_its_installments_and_an_event(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    make_charges(session, account)
    conversation = make_conversation(session, account)
    option = next(
        o for o in plan_options(session, account, today=today, policy=policy) if o.count > 2
    )

    plan = accept_plan(
        session,
        account,
        option,
        today=today,
        now=now,
        actor="bot",
        conversation_id=conversation.id,
    )
    session.commit()
    session.expire_all()

    stored = session.get(PaymentPlan, plan.id)
    assert stored is not None
    assert (stored.option_key, stored.kind, stored.frequency) == (
        option.key,
        option.kind,
        option.frequency,
    )
    assert stored.balance_cents == DEMO_TOTAL_CENTS
    assert stored.status == "active"
    rows = session.scalars(
        select(Installment).where(Installment.plan_id == plan.id).order_by(Installment.seq)
    ).all()
    assert [r.seq for r in rows] == list(range(1, option.count + 1))
    assert [(r.due_on, r.amount_cents) for r in rows] == [
        (i.due_on, i.amount_cents) for i in option.installments
    ]
    assert sum(r.amount_cents for r in rows) == stored.total_cents == DEMO_TOTAL_CENTS
    accepted = events(session, "plan_accepted", account_id=account.id)
    assert len(accepted) == 1
    assert accepted[0].conversation_id == conversation.id
    assert accepted[0].data["plan_id"] == plan.id and accepted[0].data["key"] == option.key
    assert account.last_activity_at == now


def test_a_new_plan_replaces_the_one_the_account_had(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    """One plan at a time: the debtor who sets up a second is not reminded of two schedules
    for the same balance, and the trail says which plan the new one replaced."""
    options = plan_options(session, account, today=today, policy=policy)
    first = accept_plan(session, account, options[1], today=today, now=now, actor="bot")
    assert next_installment(session, account).plan_id == first.id  # type: ignore[union-attr]

    later = now + timedelta(minutes=5)
    second = accept_plan(session, account, options[2], today=today, now=later, actor="bot")
    session.commit()
    session.expire_all()

    assert session.get(PaymentPlan, first.id).status == "replaced"  # type: ignore[union-attr]
    assert session.get(PaymentPlan, first.id).ended_at == later  # type: ignore[union-attr]
    assert session.get(PaymentPlan, second.id).status == "active"  # type: ignore[union-attr]
    assert next_installment(session, account).plan_id == second.id  # type: ignore[union-attr]
    accepted = events(session, "plan_accepted", account_id=account.id)
    assert "replaces" not in accepted[0].data
    assert accepted[1].data["replaces"] == [first.id]


def test_a_new_plan_cancels_the_open_promises_and_no_reminder_comes_for_them(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    """'I'll pay $50 Friday', then a plan for the whole balance: the plan is the arrangement,
    the promise is cancelled (no reminder for it), and the trail says so. A promise already
    broken stays broken: that is what happened."""
    promise = record_promise(
        session, account, amount_cents=5000, due_on=today + timedelta(days=3), today=today,
        now=now, policy=policy, actor="bot",
    )  # fmt: skip
    broken = record_promise(
        session, account, amount_cents=4000, due_on=today, today=today, now=now,
        policy=policy, actor="bot",
    )  # fmt: skip
    broken.status = "broken"
    assert open_promises(session, account) == [promise]
    tomorrow = now + timedelta(days=1)
    assert _promise_reminders(session, tomorrow, policy) == [f"promise:{promise.id}"]

    option = plan_options(session, account, today=today, policy=policy)[1]
    accept_plan(session, account, option, today=today, now=now, actor="bot")
    session.commit()
    session.expire_all()

    assert session.get(Promise, promise.id).status == "cancelled"  # type: ignore[union-attr]
    assert session.get(Promise, broken.id).status == "broken"  # type: ignore[union-attr]
    assert open_promises(session, account) == []
    [accepted] = events(session, "plan_accepted", account_id=account.id)
    assert accepted.data["cancels_promises"] == [promise.id]
    assert _promise_reminders(session, tomorrow, policy) == []


def _promise_reminders(session: Session, now: datetime, policy: PlanPolicy) -> list[str]:
    values = {"company_name": "Acme", "support_phone": "+18005550100"}
    return [
        t.key.split("@")[0]
        for c in reminders(session, now, policy, values)
        for t in c.targets
        if t.kind == OutreachKind.PROMISE_REMINDER
    ]


def test_accepting_an_option_offered_before_a_payment_is_a_conflict(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    option = plan_options(session, account, today=today, policy=policy)[1]
    make_payment(session, account, 2500, today)

    with pytest.raises(Conflict):
        accept_plan(session, account, option, today=today, now=now, actor="bot")

    assert count(session, PaymentPlan) == 0
    assert events(session, "plan_accepted") == []


def test_whole_account_dispute_puts_plans_and_promises_on_hold(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    option = plan_options(session, account, today=today, policy=policy)[1]

    dispute = open_dispute(session, account, DisputeReason.WRONG_AMOUNT, actor="debtor", now=now)

    assert re.fullmatch(rf"D-[{ALPHABET}]{{6}}", dispute.reference)
    assert account_hold_reasons(session, account.id) == {HoldReason.DISPUTE}
    with pytest.raises(OnHold) as held:
        plan_options(session, account, today=today, policy=policy)
    assert held.value.details["reasons"] == ["dispute"]
    with pytest.raises(OnHold):
        accept_plan(session, account, option, today=today, now=now, actor="bot")
    with pytest.raises(OnHold):
        record_promise(
            session,
            account,
            amount_cents=5000,
            due_on=today,
            today=today,
            now=now,
            policy=policy,
            actor="bot",
        )
    assert count(session, PaymentPlan) == 0 and count(session, Promise) == 0


def test_one_charge_dispute_reduces_the_collectible_balance_by_that_charge(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    charges = make_charges(session, account)
    lab_work = next(c for c in charges if c.description == "Lab work")

    open_dispute(
        session,
        account,
        DisputeReason.NOT_MINE,
        actor="debtor",
        now=now,
        charge_id=lab_work.id,
    )

    assert account_hold_reasons(session, account.id) == frozenset()
    assert collectible_cents(session, account, today) == DEMO_TOTAL_CENTS - 35000
    options = plan_options(session, account, today=today, policy=policy)
    assert {o.balance_cents for o in options} == {DEMO_TOTAL_CENTS - 35000}
    assert itemization(session, account, today).total_cents == DEMO_TOTAL_CENTS


def test_recording_verification_sent_releases_the_dispute_hold(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    charges = make_charges(session, account)
    whole = open_dispute(session, account, DisputeReason.OTHER, actor="debtor", now=now)
    one = open_dispute(
        session, account, DisputeReason.NOT_MINE, actor="debtor", now=now, charge_id=charges[0].id
    )

    record_verification_sent(session, whole, actor="agent:ops@example.test", now=now)
    record_verification_sent(session, one, actor="agent:ops@example.test", now=now)

    assert whole.status == "verification_sent" and whole.verification_sent_at == now
    assert count(session, Hold, Hold.released_at.is_(None)) == 0
    options = plan_options(session, account, today=today, policy=policy)
    assert {o.balance_cents for o in options} == {DEMO_TOTAL_CENTS}
    assert len(events(session, "hold_released", account_id=account.id)) == 2


def test_a_dispute_of_a_charge_of_another_account_is_refused(
    session: Session, account: Account, now: datetime
) -> None:
    other = make_account(session, account_ref="ACC-100512", phone="+14045550178")
    foreign = make_charges(session, other)[0]

    with pytest.raises(NotFound):
        open_dispute(
            session, account, DisputeReason.NOT_MINE, actor="debtor", now=now, charge_id=foreign.id
        )


# --- promises -------------------------------------------------------------------------------


def _promise(session: Session, account: Account, **kw: Any) -> Promise:
    values: dict[str, Any] = {"actor": "bot"} | kw
    return record_promise(session, account, **values)


@pytest.mark.parametrize("days_ahead", [0, 7, 30])
def test_promise_in_range_is_recorded_with_an_event(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    days_ahead: int,
) -> None:
    due = today + timedelta(days=days_ahead)
    assert days_ahead <= policy.promise_max_days

    promise = _promise(
        session, account, amount_cents=5000, due_on=due, today=today, now=now, policy=policy
    )
    session.commit()

    stored = session.get(Promise, promise.id)
    assert stored is not None
    assert (stored.amount_cents, stored.due_on, stored.status) == (5000, due, "open")
    recorded = events(session, "promise", account_id=account.id)
    assert [e.data for e in recorded] == [
        {"promise_id": promise.id, "amount_cents": 5000, "due_on": due.isoformat()}
    ]


def test_promise_of_the_whole_balance_is_allowed(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    promise = _promise(
        session,
        account,
        amount_cents=DEMO_TOTAL_CENTS,
        due_on=today,
        today=today,
        now=now,
        policy=policy,
    )

    assert promise.amount_cents == DEMO_TOTAL_CENTS


@pytest.mark.parametrize(
    ("days_ahead", "amount", "code"),
    [
        pytest.param(-1, 5000, "first_payment_in_past", id="yesterday"),
        pytest.param(31, 5000, "first_payment_too_late", id="beyond-promise-max-days"),
        pytest.param(7, DEMO_TOTAL_CENTS + 1, "amount_exceeds_balance", id="above-balance"),
        pytest.param(7, 99, "below_minimum", id="below-minimum"),
    ],
)
def test_promise_outside_the_policy_is_refused(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    days_ahead: int,
    amount: int,
    code: str,
) -> None:
    assert policy.promise_max_days == 30 and policy.promise_min_cents == 100

    with pytest.raises(PolicyViolation) as refused:
        _promise(
            session,
            account,
            amount_cents=amount,
            due_on=today + timedelta(days=days_ahead),
            today=today,
            now=now,
            policy=policy,
        )

    assert refused.value.code == code
    assert count(session, Promise) == 0
    assert events(session, "promise") == []


def test_promise_above_the_collectible_balance_is_refused_after_a_payment(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    make_payment(session, account, 36937, today)

    with pytest.raises(PolicyViolation) as refused:
        _promise(
            session, account, amount_cents=100001, due_on=today, today=today, now=now, policy=policy
        )

    assert refused.value.limit == 100000


def test_a_first_payment_and_the_rest_are_two_promises_for_the_collectible_balance(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    make_payment(session, account, 36937, today)  # collectible: $1,000.00
    rest_on = today + timedelta(days=14)

    first, rest = record_promise_and_rest(
        session, account, amount_cents=25000, due_on=today, rest_on=rest_on, today=today,
        now=now, policy=policy, actor="bot",
    )  # fmt: skip
    session.commit()

    assert [(p.amount_cents, p.due_on) for p in open_promises(session, account)] == [
        (25000, today),
        (75000, rest_on),
    ]
    assert [e.data["promise_id"] for e in events(session, "promise")] == [first.id, rest.id]


@pytest.mark.parametrize(
    ("due_days", "rest_days", "amount", "code"),
    [
        pytest.param(0, 31, 5000, "rest_date_not_allowed", id="rest-beyond-max-days"),
        pytest.param(10, 10, 5000, "rest_date_not_allowed", id="rest-same-day-as-first"),
        pytest.param(10, 5, 5000, "rest_date_not_allowed", id="rest-before-first"),
        pytest.param(0, 7, DEMO_TOTAL_CENTS - 99, "no_rest", id="less-than-minimum-left"),
        pytest.param(0, 7, DEMO_TOTAL_CENTS, "no_rest", id="nothing-left"),
    ],
)
def test_a_rest_outside_the_policy_records_neither_promise(
    session: Session,
    account: Account,
    today: date,
    now: datetime,
    policy: PlanPolicy,
    due_days: int,
    rest_days: int,
    amount: int,
    code: str,
) -> None:
    with pytest.raises(PolicyViolation) as refused:
        record_promise_and_rest(
            session, account, amount_cents=amount, due_on=today + timedelta(days=due_days),
            rest_on=today + timedelta(days=rest_days), today=today, now=now, policy=policy,
            actor="bot",
        )  # fmt: skip

    assert refused.value.code == code
    assert count(session, Promise) == 0
    assert events(session, "promise") == []


# --- validation, hardship, escalation holds -------------------------------------------------


def test_validation_request_gets_a_reference_and_holds_the_account(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    conversation = make_conversation(session, account)

    request = request_validation(
        session,
        account,
        ValidationKind.ORIGINAL_CREDITOR,
        actor="debtor",
        now=now,
        conversation_id=conversation.id,
    )

    assert re.fullmatch(rf"V-[{ALPHABET}]{{6}}", request.reference)
    holds = session.scalars(select(Hold).where(Hold.account_id == account.id)).all()
    assert [(h.reason, h.validation_request_id, h.released_at) for h in holds] == [
        ("validation", request.id, None)
    ]
    with pytest.raises(OnHold):
        plan_options(session, account, today=today, policy=policy)
    recorded = events(session, "validation_request", conversation_id=conversation.id)
    assert [e.data["reference"] for e in recorded] == [request.reference]


def test_validation_sent_releases_the_validation_hold(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    request = request_validation(
        session, account, ValidationKind.VALIDATION, actor="debtor", now=now
    )

    record_validation_sent(session, request, actor="agent:ops@example.test", now=now)

    assert request.status == "sent"
    assert account_hold_reasons(session, account.id) == frozenset()
    assert plan_options(session, account, today=today, policy=policy)


def test_references_are_unique_across_many_requests(
    session: Session, account: Account, now: datetime
) -> None:
    refs = {
        request_validation(
            session, account, ValidationKind.VALIDATION, actor="d", now=now
        ).reference
        for _ in range(20)
    }

    assert len(refs) == 20


def test_recorded_hardship_adds_a_hardship_option(
    session: Session, account: Account, today: date, now: datetime, policy: PlanPolicy
) -> None:
    before = plan_options(session, account, today=today, policy=policy)
    assert not has_hardship(session, account.id)
    assert all(o.kind != "hardship" for o in before)

    record_hardship(
        session,
        account,
        HardshipCategory.JOB_LOSS,
        actor="debtor",
        now=now,
        temporary=True,
        affordable_monthly_cents=6000,
    )

    assert has_hardship(session, account.id)
    after = plan_options(session, account, today=today, policy=policy)
    assert 2 <= len(after) <= 4
    hardship = [o for o in after if o.kind == "hardship"]
    assert len(hardship) == 1
    assert sum(i.amount_cents for i in hardship[0].installments) == DEMO_TOTAL_CENTS
    assert hardship[0].per_payment_cents < min(
        o.per_payment_cents for o in before if o.kind == "installments"
    )
    recorded = events(session, "hardship", account_id=account.id)
    assert recorded[0].data["category"] == "job_loss"


def test_hold_for_escalation_is_idempotent(session: Session, account: Account) -> None:
    first = hold_for_escalation(
        session, account, HoldReason.BANKRUPTCY, actor="bot", detail="case 26-10001"
    )
    second = hold_for_escalation(
        session, account, HoldReason.BANKRUPTCY, actor="bot", detail="case 26-10001"
    )
    third = hold_for_escalation(session, account, HoldReason.BANKRUPTCY, actor="bot")
    session.flush()

    assert first.id == second.id == third.id
    assert count(session, Hold) == 1
    assert first.detail == "case 26-10001"
    assert len(events(session, "hold_placed", account_id=account.id)) == 1


def test_hold_for_escalation_adds_new_detail_to_the_same_hold(
    session: Session, account: Account
) -> None:
    hold_for_escalation(session, account, HoldReason.ATTORNEY, actor="bot")
    hold = hold_for_escalation(
        session, account, HoldReason.ATTORNEY, actor="bot", detail="J. Doe, (206) 555-0100"
    )
    hold = hold_for_escalation(
        session, account, HoldReason.ATTORNEY, actor="bot", detail="Doe & Roe LLP"
    )
    session.commit()
    session.expire_all()

    assert count(session, Hold) == 1
    assert hold.detail == "J. Doe, (206) 555-0100\nDoe & Roe LLP"


def test_different_escalations_each_hold(session: Session, account: Account) -> None:
    hold_for_escalation(session, account, HoldReason.DISTRESS, actor="bot")
    hold_for_escalation(session, account, HoldReason.DECEASED, actor="bot")

    assert account_hold_reasons(session, account.id) == {
        HoldReason.DISTRESS,
        HoldReason.DECEASED,
    }


# --- consent --------------------------------------------------------------------------------


def test_opt_out_then_opt_in_keeps_both_ledger_rows(
    session: Session, account: Account, now: datetime
) -> None:
    phone = account.phone
    assert phone is not None and not is_opted_out(session, phone, Channel.SMS)

    record_consent(session, phone, Channel.SMS, ConsentAction.OPT_OUT, source="keyword", now=now)
    assert is_opted_out(session, phone, Channel.SMS)
    assert not is_opted_out(session, phone, Channel.EMAIL)

    record_consent(
        session,
        phone,
        Channel.SMS,
        ConsentAction.OPT_IN,
        source="keyword",
        now=now + timedelta(minutes=5),
    )
    session.commit()

    assert not is_opted_out(session, phone, Channel.SMS)
    ledger = session.scalars(
        select(ConsentEvent).where(ConsentEvent.address == phone).order_by(ConsentEvent.id)
    ).all()
    assert [e.action for e in ledger] == ["opt_out", "opt_in"]
    assert [e.kind for e in session.scalars(select(ConversationEvent))] == ["opt_out", "opt_in"]


def test_opting_out_again_after_opting_in_opts_out(
    session: Session, account: Account, now: datetime
) -> None:
    phone = account.phone
    assert phone is not None
    for action in (ConsentAction.OPT_OUT, ConsentAction.OPT_IN, ConsentAction.OPT_OUT):
        record_consent(session, phone, Channel.SMS, action, source="keyword", now=now)

    assert is_opted_out(session, phone, Channel.SMS)
    assert count(session, ConsentEvent) == 3


def test_wrong_number_is_marked_for_that_account_only(
    session: Session, account: Account, now: datetime
) -> None:
    other = make_account(session, account_ref="ACC-100512", phone=account.phone)
    phone = account.phone
    assert phone is not None

    record_consent(
        session,
        phone,
        Channel.SMS,
        ConsentAction.WRONG_NUMBER,
        source="language",
        account_id=account.id,
    )

    assert is_wrong_number(session, phone, account.id)
    assert not is_wrong_number(session, phone, other.id)
    refused = contact_decision(
        session,
        address=phone,
        channel=Channel.SMS,
        kind=Kind.REPLY,
        purpose=Purpose.GENERAL,
        now=now,
        account=account,
    )
    allowed = contact_decision(
        session,
        address=phone,
        channel=Channel.SMS,
        kind=Kind.REPLY,
        purpose=Purpose.GENERAL,
        now=now,
        account=other,
    )
    assert (refused.allowed, refused.reason) == (False, Reason.WRONG_NUMBER)
    assert allowed.allowed


def test_one_consent_query_reads_each_rule_as_the_single_lookups_do(
    session: Session, account: Account, now: datetime
) -> None:
    """The gateway's one query per turn: opt-outs by address and channel (latest wins), a
    cease by account (any address), a wrong number by address and account."""
    other = make_account(session, account_ref="ACC-100512", phone="+12065550199")
    phone, elsewhere = account.phone, "+12065550111"
    assert phone is not None and other.phone is not None

    def both(address: str, channel: Channel, account_id: int | None) -> ConsentState:
        state = consent_state(session, address, channel, account_id)
        assert state.opted_out == is_opted_out(session, address, channel)
        if account_id is not None:
            assert state.ceased == has_ceased(session, account_id)
            assert state.wrong_number == is_wrong_number(session, address, account_id)
        return state

    assert both(phone, Channel.SMS, account.id) == ConsentState()
    for action in (ConsentAction.OPT_OUT, ConsentAction.OPT_IN, ConsentAction.OPT_OUT):
        record_consent(session, phone, Channel.SMS, action, source="keyword", now=now)
    record_consent(session, phone, Channel.EMAIL, ConsentAction.OPT_IN, source="web", now=now)
    assert both(phone, Channel.SMS, account.id) == ConsentState(opted_out=True)
    assert both(phone, Channel.EMAIL, account.id) == ConsentState()
    assert both(phone, Channel.SMS, None) == ConsentState(opted_out=True)

    # a cease asked from another address still covers the account, on every channel
    record_consent(
        session, elsewhere, Channel.SMS, ConsentAction.CEASE,
        source="language", account_id=account.id, now=now,
    )  # fmt: skip
    assert both(phone, Channel.EMAIL, account.id) == ConsentState(ceased=True)
    assert both(other.phone, Channel.SMS, other.id) == ConsentState()

    # a wrong number is this address for this account only
    record_consent(
        session, other.phone, Channel.SMS, ConsentAction.WRONG_NUMBER,
        source="language", account_id=other.id, now=now,
    )  # fmt: skip
    assert both(other.phone, Channel.SMS, other.id) == ConsentState(wrong_number=True)
    assert both(other.phone, Channel.SMS, account.id) == ConsentState(ceased=True)
    assert both(phone, Channel.SMS, other.id) == ConsentState(opted_out=True)


def test_cease_stops_everything_but_its_confirmation(
    session: Session, account: Account, now: datetime
) -> None:
    phone = account.phone
    assert phone is not None and not has_ceased(session, account.id)

    record_consent(
        session, phone, Channel.SMS, ConsentAction.CEASE, source="language", account_id=account.id
    )

    assert has_ceased(session, account.id)
    general = _decide(session, account, Kind.REPLY, Purpose.GENERAL, now)
    confirmation = _decide(session, account, Kind.REPLY, Purpose.COMPLIANCE, now)
    assert (general.allowed, general.reason) == (False, Reason.CEASED)
    assert confirmation.allowed


def test_set_preference_then_preference_of_reads_it_back(
    session: Session, account: Account
) -> None:
    assert preference_of(session, account.id) is None

    set_preference(
        session,
        account,
        actor="debtor",
        channels=frozenset({Channel.SMS, Channel.EMAIL}),
        earliest=time(18),
        latest=time(20, 30),
        avoid_work_hours=True,
    )
    session.commit()

    assert preference_of(session, account.id) == Preference(
        channels=frozenset({Channel.SMS, Channel.EMAIL}),
        earliest=time(18),
        latest=time(20, 30),
        avoid_work_hours=True,
    )


def test_a_new_preference_replaces_the_old_and_each_change_is_an_event(
    session: Session, account: Account
) -> None:
    set_preference(session, account, actor="debtor", earliest=time(18))
    set_preference(session, account, actor="debtor", channels=frozenset({Channel.EMAIL}))

    assert preference_of(session, account.id) == Preference(channels=frozenset({Channel.EMAIL}))
    assert count(session, ContactPreference) == 1
    assert len(events(session, "preference", account_id=account.id)) == 2


# --- contact decisions ----------------------------------------------------------------------

# The account is in Washington with a 206 number: Pacific time, UTC-8 in November.
AT_23_LOCAL = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # Mon 23 Nov, 23:00 PST
NEXT_8_LOCAL = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # Tue 24 Nov, 08:00 PST


def _decide(session: Session, account: Account, kind: Kind, purpose: Purpose, now: datetime) -> Any:
    assert account.phone is not None
    return contact_decision(
        session,
        address=account.phone,
        channel=Channel.SMS,
        kind=kind,
        purpose=purpose,
        now=now,
        account=account,
    )


def test_reply_is_allowed_at_23_local(session: Session, account: Account) -> None:
    decision = _decide(session, account, Kind.REPLY, Purpose.COLLECTION, AT_23_LOCAL)

    assert decision.allowed and decision.reason is Reason.OK


def test_initiated_message_at_23_local_waits_until_8(session: Session, account: Account) -> None:
    decision = _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, AT_23_LOCAL)

    assert (decision.allowed, decision.reason) == (False, Reason.OUTSIDE_WINDOW)
    assert decision.not_before == NEXT_8_LOCAL


def test_initiated_message_in_the_local_day_is_allowed(
    session: Session, account: Account, now: datetime
) -> None:
    # `now` is 18:30 UTC, 10:30 in Seattle, 13:30 in New York.
    assert _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, now).allowed


def test_initiated_message_respects_the_preferred_hours(
    session: Session, account: Account, now: datetime
) -> None:
    set_preference(session, account, actor="debtor", earliest=time(18))

    decision = _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, now)

    assert (decision.allowed, decision.reason) == (False, Reason.PREFERENCE_HOURS)
    assert decision.not_before == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 18:00 PST


def _sent_initiated(session: Session, account: Account, *at: datetime) -> None:
    conversation = make_conversation(session, account)
    session.add_all(
        Message(
            conversation_id=conversation.id,
            direction="out",
            sender="bot",
            channel="sms",
            text="Reminder",
            status="delivered",
            initiated=True,
            purpose="collection",
            created_at=sent,
            sent_at=sent,
        )
        for sent in at
    )
    session.flush()


@pytest.mark.parametrize(
    ("state", "cap"), [pytest.param("WA", 3, id="default-3"), pytest.param("MA", 2, id="MA-2")]
)
def test_initiated_messages_are_capped_per_account_in_seven_days(
    session: Session, now: datetime, state: str, cap: int
) -> None:
    account = make_account(session, state=state, phone="+12065550134")
    oldest = now - timedelta(days=6)
    _sent_initiated(session, account, *(oldest + timedelta(days=i) for i in range(cap - 1)))
    assert _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, now).allowed
    _sent_initiated(session, account, now - timedelta(hours=1))

    capped = _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, now)
    reply = _decide(session, account, Kind.REPLY, Purpose.COLLECTION, now)

    assert (capped.allowed, capped.reason) == (False, Reason.FREQUENCY_CAP)
    assert capped.not_before is not None and capped.not_before >= oldest + timedelta(days=7)
    assert reply.allowed


def test_opted_out_number_is_refused_except_the_confirmation(
    session: Session, account: Account, now: datetime
) -> None:
    assert account.phone is not None
    record_consent(session, account.phone, Channel.SMS, ConsentAction.OPT_OUT, source="keyword")

    for kind, purpose in [
        (Kind.REPLY, Purpose.GENERAL),
        (Kind.INITIATED, Purpose.COLLECTION),
        (Kind.INITIATED, Purpose.COMPLIANCE),
    ]:
        decision = _decide(session, account, kind, purpose, now)
        assert (decision.allowed, decision.reason) == (False, Reason.OPTED_OUT)
    assert _decide(session, account, Kind.REPLY, Purpose.COMPLIANCE, now).allowed


def test_opted_out_unknown_number_is_refused(session: Session, now: datetime) -> None:
    record_consent(session, "+13125550100", Channel.SMS, ConsentAction.OPT_OUT, source="keyword")

    decision = contact_decision(
        session,
        address="+13125550100",
        channel=Channel.SMS,
        kind=Kind.REPLY,
        purpose=Purpose.GENERAL,
        now=now,
    )

    assert (decision.allowed, decision.reason) == (False, Reason.OPTED_OUT)


def test_dispute_hold_refuses_collection_but_allows_general(
    session: Session, account: Account, now: datetime
) -> None:
    open_dispute(session, account, DisputeReason.NOT_MINE, actor="debtor", now=now)

    for kind in (Kind.REPLY, Kind.INITIATED):
        collection = _decide(session, account, kind, Purpose.COLLECTION, now)
        general = _decide(session, account, kind, Purpose.GENERAL, now)
        assert (collection.allowed, collection.reason) == (False, Reason.HOLD_DISPUTE)
        assert general.allowed


def test_one_charge_dispute_does_not_stop_collection_messages(
    session: Session, account: Account, now: datetime
) -> None:
    charge = make_charges(session, account)[0]
    open_dispute(
        session, account, DisputeReason.NOT_MINE, actor="debtor", now=now, charge_id=charge.id
    )

    assert _decide(session, account, Kind.INITIATED, Purpose.COLLECTION, now).allowed


# --- handoffs -------------------------------------------------------------------------------


def test_requesting_a_handoff_twice_gives_one_handoff(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)

    first = request_handoff(session, conversation, HandoffReason.HUMAN_REQUEST, now=now)
    second = request_handoff(session, conversation, HandoffReason.COMPLAINT, now=now)

    assert first.id == second.id
    assert second.reason == "human_request" and not second.urgent
    assert count(session, Handoff) == 1
    assert conversation.status == "handoff"
    assert len(events(session, "handoff_requested", conversation_id=conversation.id)) == 1


def test_distress_upgrades_a_waiting_handoff_to_urgent(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)
    request_handoff(session, conversation, HandoffReason.HUMAN_REQUEST, now=now)

    upgraded = request_handoff(session, conversation, HandoffReason.DISTRESS, now=now)
    session.commit()
    session.expire_all()

    assert upgraded.urgent and upgraded.reason == "distress"
    assert count(session, Handoff) == 1


def test_distress_handoff_is_urgent_from_the_start(
    session: Session, account: Account, now: datetime
) -> None:
    conversation = make_conversation(session, account)

    handoff = request_handoff(session, conversation, HandoffReason.DISTRESS, now=now)

    assert handoff.urgent
    recorded = events(session, "handoff_requested", conversation_id=conversation.id)
    assert recorded[0].data == {"handoff_id": handoff.id, "reason": "distress", "urgent": True}


@pytest.fixture
def waiting_handoff(session: Session, account: Account, now: datetime) -> tuple[int, int, int]:
    """A committed waiting handoff and two agents: (handoff id, agent a id, agent b id)."""
    conversation = make_conversation(session, account)
    handoff = request_handoff(session, conversation, HandoffReason.HUMAN_REQUEST, now=now)
    a = make_staff_user(session, "a@example.test")
    b = make_staff_user(session, "b@example.test")
    session.commit()
    return handoff.id, a.id, b.id


def test_claim_by_two_sessions_has_one_winner(
    database_url: str, waiting_handoff: tuple[int, int, int], now: datetime
) -> None:
    handoff_id, agent_a, agent_b = waiting_handoff
    engine = create_engine(database_url)
    try:
        with Session(engine) as first, Session(engine) as second:
            # Both agents loaded the queue and see the handoff waiting.
            for s in (first, second):
                seen = s.get(Handoff, handoff_id)
                assert seen is not None and seen.status == "waiting"

            won = claim(first, handoff_id, agent_a, now=now)
            assert (won.agent_id, won.status) == (agent_a, "active")
            first.commit()
            with pytest.raises(Conflict):
                claim(second, handoff_id, agent_b, now=now)
            second.rollback()

        with Session(engine) as check:
            stored = check.get(Handoff, handoff_id)
            assert stored is not None and stored.agent_id == agent_a
            assert stored.claimed_at == now
    finally:
        engine.dispose()


def test_claim_racing_in_two_threads_has_exactly_one_winner(
    database_url: str, waiting_handoff: tuple[int, int, int], now: datetime
) -> None:
    handoff_id, agent_a, agent_b = waiting_handoff
    engine = create_engine(database_url, connect_args=_busy_wait(database_url))
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def race(agent_id: int) -> None:
        with Session(engine) as s:
            s.get(Handoff, handoff_id)
            barrier.wait()
            try:
                claim(s, handoff_id, agent_id, now=now)
                s.commit()
                outcomes[agent_id] = "won"
            except Conflict:
                s.rollback()
                outcomes[agent_id] = "conflict"
            except Exception as exc:  # anything else is a failure of the guard
                s.rollback()
                outcomes[agent_id] = f"error: {exc!r}"

    try:
        threads = [threading.Thread(target=race, args=(a,)) for a in (agent_a, agent_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes.values()) == ["conflict", "won"], outcomes
        winner = next(a for a, o in outcomes.items() if o == "won")
        with Session(engine) as check:
            stored = check.get(Handoff, handoff_id)
            assert stored is not None and stored.agent_id == winner
            assert count(check, ConversationEvent, ConversationEvent.kind == "handoff_claimed") == 1
    finally:
        engine.dispose()


def _busy_wait(url: str) -> dict[str, Any]:
    return {"timeout": 15} if url.startswith("sqlite") else {}


def test_a_closed_handoff_cannot_be_claimed(
    session: Session, waiting_handoff: tuple[int, int, int], now: datetime
) -> None:
    handoff_id, agent_a, _ = waiting_handoff
    session.execute(update(Handoff).where(Handoff.id == handoff_id).values(status="closed"))

    with pytest.raises(Conflict):
        claim(session, handoff_id, agent_a, now=now)


# --- audit log ------------------------------------------------------------------------------


def test_audit_log_refuses_update_through_the_orm(session: Session) -> None:
    entry = audit(session, "transcript.view", actor="c@example.test", target_type="conversation")
    session.commit()

    entry.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()

    assert session.scalars(select(AuditLog.action)).all() == ["transcript.view"]


def test_audit_log_refuses_delete_through_the_orm(session: Session) -> None:
    entry = audit(session, "transcript.export", actor="c@example.test")
    session.commit()

    session.delete(entry)
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()

    assert count(session, AuditLog) == 1


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_audit_log_refuses_bulk_update_and_delete_through_the_session(
    session: Session, statement: str
) -> None:
    audit(session, "transcript.view", actor="c@example.test")
    session.commit()
    bulk = (
        update(AuditLog).values(action="nothing.happened")
        if statement == "update"
        else delete(AuditLog)
    )

    with pytest.raises(AppendOnlyError):
        session.execute(bulk)
    session.rollback()

    assert session.scalars(select(AuditLog.action)).all() == ["transcript.view"]
