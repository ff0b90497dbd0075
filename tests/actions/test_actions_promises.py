"""Promises to pay: understood from the first message, the 30-day limit, recorded; "100 now
and the rest on the 15th" confirmed and recorded as two promises."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from actions.common import policy
from actions.plans import ActionOfferPlans
from actions.promises import (
    ActionAskPromiseConfirm,
    ActionRecordPromise,
    ActionStartPromise,
    ValidatePromiseForm,
)
from bot.db import utcnow
from bot.domain.dates import format_date, parse_when
from bot.models import Promise
from bot.services.plans import record_promise
from tests.actions.conftest import GATE_CLEARED, responses, slot

RESET = [
    slot("promise_amount", None),
    slot("promise_date", None),
    slot("promise_confirm", None),
    slot("promise_rest_date", None),
]
BALANCE_CENTS = 136937  # ACC-100234's demo balance, $1,369.37


def test_start_takes_amount_and_date_from_the_first_message(
    verified, debtor_today, make_tracker, run_action
):
    text = "i can pay 100 on the 15th"

    events, dispatcher = run_action(
        ActionStartPromise(), make_tracker(verified, text=text, intent="promise_to_pay")
    )

    assert events == [
        *GATE_CLEARED,
        *RESET,
        slot("promise_amount", 100.0),
        slot("promise_date", parse_when(text, debtor_today).isoformat()),
        slot("followup", "promise_form"),
    ]
    assert parse_when(text, debtor_today).day == 15
    assert dispatcher.messages == []


def test_start_without_details_opens_an_empty_promise_form(verified, make_tracker, run_action):
    events, _ = run_action(
        ActionStartPromise(),
        make_tracker(verified, text="i can pay later", intent="promise_to_pay"),
    )

    assert events == [*GATE_CLEARED, *RESET, slot("followup", "promise_form")]


def test_date_more_than_30_days_out_is_refused_with_the_latest_date(
    verified, debtor_today, make_tracker, run_action
):
    far = debtor_today + timedelta(days=45)
    tracker = make_tracker(
        verified,
        text=far.isoformat(),
        slots={"requested_slot": "promise_date", "promise_amount": 100.0},
        active_loop="promise_form",
    )

    events, dispatcher = run_action(ValidatePromiseForm(), tracker)

    assert events == [slot("promise_date", None)]
    assert responses(dispatcher) == ["utter_promise_date_too_late"]
    latest = debtor_today + timedelta(days=30)
    assert dispatcher.messages[0]["limit"] == format_date(latest, debtor_today)


def test_date_within_30_days_is_accepted(verified, debtor_today, make_tracker, run_action):
    soon = debtor_today + timedelta(days=7)
    tracker = make_tracker(
        verified,
        text=soon.isoformat(),
        slots={"requested_slot": "promise_date", "promise_amount": 100.0},
        active_loop="promise_form",
    )

    events, dispatcher = run_action(ValidatePromiseForm(), tracker)

    assert events == [slot("promise_date", soon.isoformat())]
    assert dispatcher.messages == []


def test_confirmed_promise_is_recorded_with_a_payment_link(
    session, verified, demo_account, debtor_today, make_tracker, run_action
):
    due = debtor_today + timedelta(days=7)
    tracker = make_tracker(
        verified,
        text="yes",
        intent="affirm",
        slots={"promise_amount": 100.0, "promise_date": due.isoformat(), "promise_confirm": True},
    )

    events, dispatcher = run_action(ActionRecordPromise(), tracker)

    assert events == [*GATE_CLEARED, *RESET]
    assert responses(dispatcher) == ["utter_promise_recorded"]
    message = dispatcher.messages[0]
    assert message["amount"] == "$100.00"
    assert message["due_on"] == format_date(due, debtor_today)
    assert message["link"].startswith("http")
    promise = session.scalars(select(Promise)).one()
    assert (promise.account_id, promise.amount_cents, promise.due_on) == (
        demo_account.id,
        10000,
        due,
    )
    assert promise.conversation_id == verified.id


def test_unconfirmed_promise_records_nothing(
    session, verified, debtor_today, make_tracker, run_action
):
    due = debtor_today + timedelta(days=7)
    tracker = make_tracker(
        verified,
        slots={"promise_amount": 100.0, "promise_date": due.isoformat(), "promise_confirm": False},
    )

    events, dispatcher = run_action(ActionRecordPromise(), tracker)

    assert events == [*GATE_CLEARED, *RESET, slot("followup", "promise_form")]
    assert responses(dispatcher) == ["utter_promise_not_recorded"]
    assert session.scalars(select(Promise)).all() == []


# ------------------------------------------------------------------ "and the rest on ..."
def test_start_takes_the_first_payment_and_the_date_for_the_rest(
    verified, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=8)
    text = f"I can pay 100 now and the rest on {rest_on.month}/{rest_on.day}"

    events, _ = run_action(
        ActionStartPromise(), make_tracker(verified, text=text, intent="promise_to_pay")
    )

    assert events == [
        *GATE_CLEARED,
        *RESET,
        slot("promise_amount", 100.0),
        slot("promise_date", debtor_today.isoformat()),  # "now", not the rest's date
        slot("promise_rest_date", rest_on.isoformat()),
        slot("followup", "promise_form"),
    ]


def test_the_rest_given_with_the_date_answer_is_kept(
    verified, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=10)
    tracker = make_tracker(
        verified,
        text=f"today, and the rest on {rest_on.isoformat()}",
        slots={"requested_slot": "promise_date", "promise_amount": 100.0},
        active_loop="promise_form",
    )

    events, dispatcher = run_action(ValidatePromiseForm(), tracker)

    assert slot("promise_date", debtor_today.isoformat()) in events
    assert slot("promise_rest_date", rest_on.isoformat()) in events
    assert dispatcher.messages == []


def rest_tracker(make_tracker, verified, due, rest_on, **more):
    slots = {"promise_amount": 100.0, "promise_date": due.isoformat()}
    slots["promise_rest_date"] = rest_on.isoformat()
    return make_tracker(verified, text="yes", intent="affirm", slots={**slots, **more})


def test_confirmation_names_both_payments_and_what_the_rest_comes_to(
    verified, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=8)

    events, dispatcher = run_action(
        ActionAskPromiseConfirm(), rest_tracker(make_tracker, verified, debtor_today, rest_on)
    )

    assert events == [slot("followup", None)]
    assert responses(dispatcher) == ["utter_promise_summary_with_rest"]
    message = dispatcher.messages[0]
    assert (message["amount"], message["rest_amount"]) == ("$100.00", "$1,269.37")
    assert message["due_on"] == format_date(debtor_today, debtor_today)
    assert message["rest_on"] == format_date(rest_on, debtor_today)


def test_a_rest_date_past_the_limit_is_said_and_left_out(
    verified, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=45)

    events, dispatcher = run_action(
        ActionAskPromiseConfirm(), rest_tracker(make_tracker, verified, debtor_today, rest_on)
    )

    assert events == [slot("followup", None), slot("promise_rest_date", None)]
    assert responses(dispatcher) == ["utter_promise_rest_not_noted", "utter_promise_summary"]
    latest = debtor_today + timedelta(days=30)
    assert dispatcher.messages[0]["limit"] == format_date(latest, debtor_today)
    assert dispatcher.messages[1]["amount"] == "$100.00"


def test_a_rest_date_before_the_first_payment_is_said_and_left_out(
    verified, debtor_today, make_tracker, run_action
):
    due = debtor_today + timedelta(days=10)
    tracker = rest_tracker(make_tracker, verified, due, debtor_today + timedelta(days=5))

    _, dispatcher = run_action(ActionAskPromiseConfirm(), tracker)

    assert responses(dispatcher) == ["utter_promise_rest_not_noted", "utter_promise_summary"]


def test_confirmed_first_payment_and_rest_are_two_promises_for_the_whole_balance(
    session, verified, demo_account, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=8)
    tracker = rest_tracker(make_tracker, verified, debtor_today, rest_on, promise_confirm=True)

    events, dispatcher = run_action(ActionRecordPromise(), tracker)

    assert events == [*GATE_CLEARED, *RESET]
    assert responses(dispatcher) == ["utter_promise_recorded_with_rest"]
    message = dispatcher.messages[0]
    assert (message["amount"], message["rest_amount"]) == ("$100.00", "$1,269.37")
    assert message["link"].startswith("http")
    promises = session.scalars(select(Promise).order_by(Promise.due_on)).all()
    assert [(p.amount_cents, p.due_on) for p in promises] == [
        (10000, debtor_today),
        (BALANCE_CENTS - 10000, rest_on),
    ]
    assert {p.conversation_id for p in promises} == {verified.id}


def test_a_first_payment_of_the_whole_balance_leaves_no_rest_to_note(
    session, verified, debtor_today, make_tracker, run_action
):
    tracker = rest_tracker(
        make_tracker, verified, debtor_today, debtor_today + timedelta(days=8),
        promise_amount=BALANCE_CENTS / 100,
    )  # fmt: skip

    _, dispatcher = run_action(ActionAskPromiseConfirm(), tracker)

    assert responses(dispatcher) == ["utter_promise_rest_too_small", "utter_promise_summary"]
    assert dispatcher.messages[1]["amount"] == "$1,369.37"


def test_half_now_and_the_rest_on_a_date_asked_as_a_plan_becomes_two_promises(
    verified, debtor_today, make_tracker, run_action
):
    rest_on = debtor_today + timedelta(days=12)
    text = f"can I pay half now and the rest on {rest_on.month}/{rest_on.day}"

    events, dispatcher = run_action(
        ActionOfferPlans(), make_tracker(verified, text=text, intent="ask_plan")
    )

    assert events[-5:] == [
        *RESET[-1:],
        slot("promise_amount", 684.69),  # half of $1,369.37, rounded up
        slot("promise_date", debtor_today.isoformat()),
        slot("promise_rest_date", rest_on.isoformat()),
        slot("followup", "promise_form"),
    ]
    assert "utter_plan_options_intro" not in responses(dispatcher)
    assert not any(r and r.startswith("utter_plan_option") for r in responses(dispatcher))


def test_the_confirmation_first_names_what_is_already_promised(
    session, verified, demo_account, debtor_today, make_tracker, run_action
):
    earlier = debtor_today + timedelta(days=3)
    record_promise(
        session, demo_account, amount_cents=5000, due_on=earlier, today=debtor_today,
        now=utcnow(), policy=policy(), actor="bot",
    )  # fmt: skip
    due = debtor_today + timedelta(days=9)
    tracker = make_tracker(
        verified, slots={"promise_amount": 100.0, "promise_date": due.isoformat()}
    )

    _, dispatcher = run_action(ActionAskPromiseConfirm(), tracker)

    assert responses(dispatcher) == ["utter_promise_existing", "utter_promise_summary"]
    existing = dispatcher.messages[0]
    assert (existing["amount"], existing["due_on"]) == (
        "$50.00",
        format_date(earlier, debtor_today),
    )
