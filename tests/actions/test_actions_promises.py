"""Promises to pay: understood from the first message, the 30-day limit, recorded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from actions.promises import ActionRecordPromise, ActionStartPromise, ValidatePromiseForm
from bot.domain.dates import format_date, parse_when
from bot.models import Promise
from tests.actions.conftest import GATE_CLEARED, responses, slot

RESET = [slot("promise_amount", None), slot("promise_date", None), slot("promise_confirm", None)]


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
