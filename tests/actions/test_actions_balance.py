"""action_check_balance and the verification gate every debt action sits behind."""

from __future__ import annotations

from actions.balance import ActionCheckBalance, ActionItemization
from bot.db import utcnow
from bot.domain.dates import format_date
from bot.services.cases import DisputeReason, open_dispute
from tests.actions.conftest import GATE_CLEARED, NEXT_NONE, responses, slot


def test_unverified_balance_request_asks_to_verify_first_and_shows_no_balance(
    conversation, make_tracker, run_action
):
    tracker = make_tracker(conversation, text="what do i owe", intent="check_balance")

    events, dispatcher = run_action(ActionCheckBalance(), tracker)

    assert events == [
        NEXT_NONE,
        slot("pending_action", "action_check_balance"),
        slot("pending_request", {"text": "what do i owe", "entities": {}}),
        slot("followup", "verify_form"),
    ]
    assert responses(dispatcher) == ["utter_verify_first"]
    assert all("total" not in m for m in dispatcher.messages)


def test_unverified_request_keeps_its_entities_for_after_verification(
    conversation, make_tracker, run_action
):
    tracker = make_tracker(
        conversation,
        text="balance on acc-100234",
        intent="check_balance",
        entities=[{"entity": "account_ref", "value": "ACC-100234"}],
    )

    events, _ = run_action(ActionCheckBalance(), tracker)

    assert (
        slot(
            "pending_request",
            {"text": "balance on acc-100234", "entities": {"account_ref": "ACC-100234"}},
        )
        in events
    )


def test_verified_balance_shows_demo_total_creditor_and_date(
    verified, demo_account, debtor_today, make_tracker, run_action
):
    tracker = make_tracker(verified, text="what do i owe", intent="check_balance")

    events, dispatcher = run_action(ActionCheckBalance(), tracker)

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_balance", "utter_balance_next"]
    balance = dispatcher.messages[0]
    assert balance["total"] == "$1,369.37"
    assert balance["creditor"] == "Evergreen Health"
    assert balance["as_of"] == format_date(debtor_today, debtor_today)


def test_balance_of_an_account_under_dispute_asks_for_no_plan_or_payment(
    session, verified, demo_account, make_tracker, run_action
):
    open_dispute(session, demo_account, DisputeReason.WRONG_AMOUNT, actor="debtor", now=utcnow())
    session.commit()
    tracker = make_tracker(verified, text="what do i owe", intent="check_balance")

    events, dispatcher = run_action(ActionCheckBalance(), tracker)

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_balance", "utter_balance_next_on_hold"]
    assert dispatcher.messages[0]["total"] == "$1,369.37"  # the balance is still told


def test_verified_after_gate_clears_pending_request(verified, make_tracker, run_action):
    tracker = make_tracker(
        verified,
        slots={
            "pending_action": "action_check_balance",
            "pending_request": {"text": "what do i owe", "entities": {}},
        },
    )

    events, dispatcher = run_action(ActionCheckBalance(), tracker)

    assert events == GATE_CLEARED
    assert responses(dispatcher)[0] == "utter_balance"


def test_locked_conversation_is_told_to_call_instead_of_verifying(
    session, conversation, make_tracker, run_action
):
    conversation.verification_locked = True
    session.commit()

    events, dispatcher = run_action(
        ActionCheckBalance(), make_tracker(conversation, intent="check_balance")
    )

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert dispatcher.messages[0]["support_phone"] == "(800) 555-0199"


def test_why_the_balance_shows_its_parts_and_every_charge(verified, make_tracker, run_action):
    tracker = make_tracker(verified, text="why is my balance so high", intent="ask_itemization")

    _, dispatcher = run_action(ActionItemization(), tracker)

    assert responses(dispatcher) == [
        "utter_itemization",
        *["utter_charge_line"] * 6,
        "utter_itemization_more",
    ]
    parts = dispatcher.messages[0]
    assert (parts["total"], parts["interest"], parts["fees"]) == ("$1,369.37", "$104.37", "$65.00")


def test_a_question_about_one_kind_of_charge_is_answered_with_those_charges(
    verified, make_tracker, run_action
):
    """'What is this interest charge?' after the breakdown: the interest and its two lines,
    not the whole breakdown again."""
    tracker = make_tracker(verified, text="what is this interest charge", intent="ask_itemization")

    _, dispatcher = run_action(ActionItemization(), tracker)

    assert responses(dispatcher) == [
        "utter_itemization_interest", "utter_charge_line", "utter_charge_line",
        "utter_itemization_more",
    ]  # fmt: skip
    assert dispatcher.messages[0]["amount"] == "$104.37"
    assert dispatcher.messages[0]["total"] == "$1,369.37"
    assert [m["amount"] for m in dispatcher.messages[1:3]] == ["$52.10", "$52.27"]
    assert {m["description"] for m in dispatcher.messages[1:3]} == {"Interest"}
