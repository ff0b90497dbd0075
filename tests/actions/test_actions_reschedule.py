"""Moving a payment date: asked before verification and resumed after it, the date from the
message or asked for, refusals answered with the rule that refused, holds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from actions.common import policy
from actions.reschedule import (
    ActionAskRescheduleDate,
    ActionReschedulePayment,
    ValidateRescheduleForm,
)
from bot.db import utcnow
from bot.domain.dates import MONTH_ABBR, format_date, parse_when
from bot.domain.plans import custom_option
from bot.models import Account, Installment, PaymentPlan
from bot.services.cases import DisputeReason, open_dispute
from bot.services.plans import accept_plan, collectible_cents
from tests.actions.conftest import (
    GATE_CLEARED,
    NEXT_NONE,
    bot_event,
    responses,
    slot,
    user_event,
)

CLEARED = slot("reschedule_date", None)
ASK_AGAIN = slot("followup", "reschedule_form")


@pytest.fixture
def plan(session: Session, demo_account: Account, debtor_today: date) -> PaymentPlan:
    """$250 a month from a week from today (the demo balance of $1,369.37)."""
    option = custom_option(
        collectible_cents(session, demo_account, debtor_today),
        debtor_today,
        policy(),
        amount_cents=25000,
        frequency="monthly",
        first_due=debtor_today + timedelta(days=7),
    )
    plan = accept_plan(session, demo_account, option, today=debtor_today, now=utcnow(), actor="bot")
    session.commit()
    return plan


def first_due(session: Session, plan: PaymentPlan) -> date:
    installment = session.get(Installment, plan.installments[0].id)
    assert installment is not None
    return installment.due_on


def spelled(d: date) -> str:
    """ "Dec 3": how a debtor types a date."""
    return f"{MONTH_ABBR[d.month - 1]} {d.day}"


def test_unverified_request_asks_to_verify_and_keeps_the_request(
    conversation, plan, make_tracker, run_action
):
    text = "can I move it to friday"
    tracker = make_tracker(
        conversation,
        text=text,
        intent="reschedule_payment",
        entities=[{"entity": "date", "value": "friday"}],
    )

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [
        NEXT_NONE,
        slot("pending_action", "action_reschedule_payment"),
        slot("pending_request", {"text": text, "entities": {"date": "friday"}}),
        slot("followup", "verify_form"),
    ]
    assert responses(dispatcher) == ["utter_verify_first"]


def test_after_verification_the_waiting_request_moves_the_installment(
    session, verified, plan, debtor_today, make_tracker, run_action
):
    text = "can I move it to friday"
    old = first_due(session, plan)
    friday = parse_when(text, debtor_today)
    assert friday is not None and debtor_today < friday <= old + timedelta(days=14)
    tracker = make_tracker(
        verified,
        text="98103",
        slots={
            "pending_action": "action_reschedule_payment",
            "pending_request": {"text": text, "entities": {"date": "friday"}},
        },
    )

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED]
    assert responses(dispatcher) == ["utter_reschedule_done"]
    done = dispatcher.messages[0]
    assert done["amount"] == "$250.00"
    assert done["old_date"] == format_date(old, debtor_today)
    assert done["new_date"] == format_date(friday, debtor_today)
    assert first_due(session, plan) == friday


def test_a_date_in_the_message_moves_it_at_once(session, verified, plan, make_tracker, run_action):
    new = first_due(session, plan) + timedelta(days=4)

    events, dispatcher = run_action(
        ActionReschedulePayment(),
        make_tracker(
            verified, text=f"move my due date to {spelled(new)}", intent="reschedule_payment"
        ),
    )

    assert events == [*GATE_CLEARED, CLEARED]
    assert responses(dispatcher) == ["utter_reschedule_done"]
    assert first_due(session, plan) == new


def test_push_it_back_a_week_counts_from_the_date_it_had(
    session, verified, plan, make_tracker, run_action
):
    old = first_due(session, plan)

    run_action(
        ActionReschedulePayment(),
        make_tracker(verified, text="push my payment back a week", intent="reschedule_payment"),
    )

    assert first_due(session, plan) == old + timedelta(days=7)


def test_without_a_date_the_form_asks_for_one(session, verified, plan, make_tracker, run_action):
    old = first_due(session, plan)

    events, dispatcher = run_action(
        ActionReschedulePayment(),
        make_tracker(
            verified, text="I need to change my payment date", intent="reschedule_payment"
        ),
    )

    assert events == [*GATE_CLEARED, CLEARED, ASK_AGAIN]
    assert dispatcher.messages == []
    assert first_due(session, plan) == old


def test_the_date_the_form_collected_is_used(
    session, verified, plan, debtor_today, make_tracker, run_action
):
    new = first_due(session, plan) + timedelta(days=2)
    tracker = make_tracker(verified, text="hmm ok", slots={"reschedule_date": new.isoformat()})

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED]
    assert responses(dispatcher) == ["utter_reschedule_done"]
    assert first_due(session, plan) == new


def test_too_late_names_the_latest_date_and_asks_again(
    session, verified, plan, debtor_today, make_tracker, run_action
):
    old = first_due(session, plan)
    tracker = make_tracker(
        verified, slots={"reschedule_date": (old + timedelta(days=20)).isoformat()}
    )

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED, ASK_AGAIN]
    assert responses(dispatcher) == ["utter_reschedule_too_late"]
    assert dispatcher.messages[0]["latest"] == format_date(old + timedelta(days=14), debtor_today)
    assert first_due(session, plan) == old


def test_today_or_earlier_is_refused_and_asked_again(
    session, verified, plan, debtor_today, make_tracker, run_action
):
    old = first_due(session, plan)
    tracker = make_tracker(verified, slots={"reschedule_date": debtor_today.isoformat()})

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED, ASK_AGAIN]
    assert responses(dispatcher) == ["utter_reschedule_past"]
    assert first_due(session, plan) == old


def test_nothing_to_move_says_so_and_asks_no_date(verified, demo_account, make_tracker, run_action):
    events, dispatcher = run_action(
        ActionReschedulePayment(),
        make_tracker(verified, text="can I move it to friday", intent="reschedule_payment"),
    )

    assert events == [*GATE_CLEARED, CLEARED]
    assert responses(dispatcher) == ["utter_reschedule_nothing"]


def test_a_whole_account_hold_moves_nothing_and_says_collection_is_paused(
    session, verified, demo_account, plan, make_tracker, run_action
):
    old = first_due(session, plan)
    open_dispute(session, demo_account, DisputeReason.NOT_MINE, actor="debtor", now=utcnow())
    session.commit()

    events, dispatcher = run_action(
        ActionReschedulePayment(),
        make_tracker(verified, text="can I move it to friday", intent="reschedule_payment"),
    )

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_on_hold"]
    assert first_due(session, plan) == old


def test_giving_up_on_the_question_moves_nothing(session, verified, plan, make_tracker, run_action):
    old = first_due(session, plan)
    tracker = make_tracker(verified, text="no", intent="deny", slots={"reschedule_date": "no"})

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED]
    assert responses(dispatcher) == ["utter_ok"]
    assert first_due(session, plan) == old


# --------------------------------------------------------------------------- the form


def form_tracker(make_tracker, conversation, text: str, intent: str = "inform"):  # type: ignore[no-untyped-def]
    return make_tracker(
        conversation,
        text=text,
        intent=intent,
        slots={"requested_slot": "reschedule_date"},
        active_loop="reschedule_form",
    )


def test_form_takes_a_date_from_the_answer(verified, plan, debtor_today, make_tracker, run_action):
    events, dispatcher = run_action(
        ValidateRescheduleForm(), form_tracker(make_tracker, verified, "the 20th")
    )

    assert events == [slot("reschedule_date", parse_when("the 20th", debtor_today).isoformat())]
    assert dispatcher.messages == []


def test_form_takes_a_date_from_any_intent_and_a_delay_from_the_old_date(
    session, verified, plan, make_tracker, run_action
):
    old = first_due(session, plan)
    tracker = form_tracker(
        make_tracker, verified, "can u push it back a week", "reschedule_payment"
    )

    events, _ = run_action(ValidateRescheduleForm(), tracker)

    assert events == [slot("reschedule_date", (old + timedelta(days=7)).isoformat())]


def test_form_answer_without_a_date_is_asked_again(verified, plan, make_tracker, run_action):
    events, dispatcher = run_action(
        ValidateRescheduleForm(), form_tracker(make_tracker, verified, "whenever works")
    )

    assert events == [slot("reschedule_date", None)]
    assert responses(dispatcher) == ["utter_promise_date_not_understood"]


def test_form_no_gives_up(verified, plan, make_tracker, run_action):
    events, _ = run_action(
        ValidateRescheduleForm(), form_tracker(make_tracker, verified, "nah forget it", "deny")
    )

    assert events == [slot("reschedule_date", "no")]


def test_form_leaves_a_question_to_the_rules(verified, plan, make_tracker, run_action):
    events, dispatcher = run_action(
        ValidateRescheduleForm(),
        form_tracker(make_tracker, verified, "how much do i owe", "check_balance"),
    )

    assert events == []
    assert dispatcher.messages == []


def test_form_question_is_asked(verified, make_tracker, run_action):
    events, dispatcher = run_action(ActionAskRescheduleDate(), make_tracker(verified))

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_reschedule_ask_date"]


def test_form_question_is_not_repeated_after_a_refusal_that_asks(
    verified, make_tracker, run_action
):
    refusal = {
        **bot_event("I can move it to any date up to ..."),
        "metadata": {"utter_action": "utter_reschedule_too_late"},
    }
    tracker = make_tracker(
        verified,
        slots={"requested_slot": "reschedule_date"},
        events=[user_event("inform", "dec 30"), refusal],
    )

    _, dispatcher = run_action(ActionAskRescheduleDate(), tracker)

    assert dispatcher.messages == []


def test_form_question_is_asked_again_after_an_answer_to_another_question(
    verified, make_tracker, run_action
):
    answer = {**bot_event("Your balance is ..."), "metadata": {"utter_action": "utter_balance"}}
    tracker = make_tracker(
        verified,
        slots={"requested_slot": "reschedule_date"},
        events=[user_event("check_balance", "how much do i owe"), answer],
    )

    _, dispatcher = run_action(ActionAskRescheduleDate(), tracker)

    assert responses(dispatcher) == ["utter_reschedule_ask_date"]


def test_when_is_my_next_payment_due_is_answered_with_its_date(
    session, plan, verified, debtor_today, make_tracker, run_action
):
    due = first_due(session, plan)
    tracker = make_tracker(
        verified, text="when is my next payment due?", intent="reschedule_payment"
    )

    events, dispatcher = run_action(ActionReschedulePayment(), tracker)

    assert events == [*GATE_CLEARED, CLEARED]  # no form: nothing is asked
    assert responses(dispatcher) == ["utter_next_payment"]
    assert dispatcher.messages[0]["amount"] == "$250.00"
    assert dispatcher.messages[0]["due_on"] == format_date(due, debtor_today)
    assert first_due(session, plan) == due  # nothing moved
