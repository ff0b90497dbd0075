"""action_verify_identity (the attempt, the lock) and validate_verify_form (extraction)."""

from __future__ import annotations

import pytest

from actions.verification import ActionVerifyIdentity, ValidateVerifyForm
from bot.models import Conversation
from bot.wording import render
from tests.actions.conftest import NEXT_NONE, responses, slot

CLEARED = [slot("verify_dob", None), slot("verify_second", None)]


def verify_slots(dob: str, second: str, pending: str | None = None) -> dict:
    return {
        "verify_dob": dob,
        "verify_second": second,
        "pending_action": pending,
        "pending_request": {"text": "what do i owe", "entities": {}} if pending else None,
    }


def test_matching_dob_and_zip_verify_and_run_the_pending_action_next(
    session, conversation, make_tracker, run_action
):
    tracker = make_tracker(
        conversation, slots=verify_slots("1984-03-12", "98103", "action_check_balance")
    )

    events, dispatcher = run_action(ActionVerifyIdentity(), tracker)

    assert events == [NEXT_NONE, *CLEARED, slot("followup", "action_check_balance")]
    assert responses(dispatcher) == ["utter_verified"]
    assert dispatcher.messages[0]["first_name"] == "Maria"
    assert session.get(Conversation, conversation.id).verified_at is not None


def test_matching_dob_and_ssn_without_pending_asks_how_to_help(
    session, conversation, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionVerifyIdentity(), make_tracker(conversation, slots=verify_slots("1984-03-12", "6789"))
    )

    assert events == [NEXT_NONE, *CLEARED]
    assert responses(dispatcher) == ["utter_verified", "utter_how_can_i_help"]


def test_mismatch_says_two_attempts_left_and_asks_again(
    session, conversation, make_tracker, run_action
):
    tracker = make_tracker(conversation, slots=verify_slots("1990-01-01", "98103"))

    events, dispatcher = run_action(ActionVerifyIdentity(), tracker)

    assert events == [NEXT_NONE, *CLEARED, slot("followup", "verify_form")]
    assert responses(dispatcher) == ["utter_verify_mismatch"]
    assert dispatcher.messages[0]["attempts_left"] == 2
    row = session.get(Conversation, conversation.id)
    assert row.verified_at is None
    assert row.verification_failures == 1


def test_third_mismatch_locks_verification_in_the_database(
    session, conversation, make_tracker, run_action
):
    tracker = make_tracker(
        conversation, slots=verify_slots("1990-01-01", "11111", "action_check_balance")
    )
    for said in (
        "Those details don't match our records. You have 2 more tries. Let's try again.",
        "Those details don't match our records. You have 1 more try. Let's try again.",
    ):
        _, dispatcher = run_action(ActionVerifyIdentity(), tracker)
        (message,) = dispatcher.messages
        assert render(message["response"], **message) == said

    events, dispatcher = run_action(ActionVerifyIdentity(), tracker)

    assert events == [
        NEXT_NONE,
        *CLEARED,
        slot("pending_action", None),
        slot("pending_request", None),
    ]
    assert responses(dispatcher) == ["utter_verification_locked"]
    assert dispatcher.messages[0]["support_phone"] == "(800) 555-0199"
    row = session.get(Conversation, conversation.id)
    assert row.verification_locked is True
    assert row.verified_at is None


# -- validate_verify_form


def form_tracker(make_tracker, conversation, requested, text, intent="inform", **filled):
    return make_tracker(
        conversation,
        text=text,
        intent=intent,
        slots={"requested_slot": requested, **filled},
        active_loop="verify_form",
        latest_action_name="action_listen",
    )


def test_dob_in_short_us_form_is_extracted_when_asked(conversation, make_tracker, run_action):
    tracker = form_tracker(make_tracker, conversation, "verify_dob", "3/12/84")

    events, dispatcher = run_action(ValidateVerifyForm(), tracker)

    assert events == [slot("verify_dob", "1984-03-12"), slot("requested_slot", "verify_second")]
    assert dispatcher.messages == []


@pytest.mark.parametrize("text", ["98103", "6789"])
def test_zip_or_ssn_last4_is_extracted_for_the_second_detail(
    conversation, make_tracker, run_action, text
):
    tracker = form_tracker(
        make_tracker, conversation, "verify_second", text, verify_dob="1984-03-12"
    )

    events, dispatcher = run_action(ValidateVerifyForm(), tracker)

    assert events == [slot("verify_second", text), slot("requested_slot", None)]
    assert dispatcher.messages == []


def test_garbage_answer_to_dob_is_not_understood_and_asked_again(
    conversation, make_tracker, run_action
):
    tracker = form_tracker(make_tracker, conversation, "verify_dob", "banana pancakes")

    events, dispatcher = run_action(ValidateVerifyForm(), tracker)

    assert events == [slot("verify_dob", None), slot("requested_slot", "verify_dob")]
    assert responses(dispatcher) == ["utter_dob_not_understood"]


def test_garbage_answer_to_second_detail_is_not_understood(conversation, make_tracker, run_action):
    tracker = form_tracker(
        make_tracker, conversation, "verify_second", "blue", verify_dob="1984-03-12"
    )

    events, dispatcher = run_action(ValidateVerifyForm(), tracker)

    assert events == [slot("verify_second", None), slot("requested_slot", "verify_second")]
    assert responses(dispatcher) == ["utter_second_not_understood"]


def test_digression_question_is_not_taken_as_an_answer(conversation, make_tracker, run_action):
    tracker = form_tracker(
        make_tracker, conversation, "verify_dob", "who is this?", intent="ask_who"
    )

    events, dispatcher = run_action(ValidateVerifyForm(), tracker)

    assert events == [slot("requested_slot", "verify_dob")]  # the form asks again after
    assert dispatcher.messages == []


def test_linked_conversation_is_not_asked_for_an_account(conversation, make_tracker, run_action):
    tracker = form_tracker(make_tracker, conversation, "account_lookup", "ACC-100234")

    events, _ = run_action(ValidateVerifyForm(), tracker)

    assert "account_lookup" not in [e["name"] for e in events]
