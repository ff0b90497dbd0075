"""Greeting and who-is-this: the company, never the debt."""

from __future__ import annotations

from actions.greet import ActionAskWho, ActionGreet, ActionHelp
from tests.actions.conftest import NEXT_NONE, responses, slot


def test_greeting_an_unverified_person_starts_verification_without_a_pending_action(
    conversation, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionGreet(), make_tracker(conversation, text="hi", intent="greet")
    )

    assert events == [
        NEXT_NONE,
        slot("pending_action", None),
        slot("pending_request", {"text": "hi", "entities": {}}),
        slot("followup", "verify_form"),
    ]
    assert responses(dispatcher) == ["utter_greet"]
    assert dispatcher.messages[0]["company_name"] == "Evergreen Health Billing"


def test_greeting_a_verified_person_uses_their_first_name(verified, make_tracker, run_action):
    events, dispatcher = run_action(
        ActionGreet(), make_tracker(verified, text="hi", intent="greet")
    )

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_greet_back"]
    assert dispatcher.messages[0]["first_name"] == "Maria"


def test_who_is_this_names_the_company_and_support_line(conversation, make_tracker, run_action):
    events, dispatcher = run_action(
        ActionAskWho(), make_tracker(conversation, text="who is this", intent="ask_who")
    )

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_ask_who"]
    assert dispatcher.messages[0]["support_phone"] == "(800) 555-0199"


def test_help_before_verification_says_nothing_about_a_debt(conversation, make_tracker, run_action):
    _, dispatcher = run_action(ActionHelp(), make_tracker(conversation, text="no", intent="deny"))

    assert responses(dispatcher) == ["utter_help"]  # rule 1: no balance, no plans


def test_help_once_verified_lists_everything(verified, make_tracker, run_action):
    _, dispatcher = run_action(ActionHelp(), make_tracker(verified, text="no", intent="deny"))

    assert responses(dispatcher) == ["utter_help_verified"]
