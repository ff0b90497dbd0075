"""Escalations: each records a handoff with its reason, holds the account when it must, and
pauses the bot; de-escalation and fallback hand off on the second time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.escalation import (
    ActionAttorney,
    ActionBankruptcy,
    ActionDeceased,
    ActionDeescalate,
    ActionDistress,
    ActionFallback,
    ActionHandoff,
)
from bot.db import utcnow
from bot.models import Conversation, ConversationEvent, Handoff, Hold
from tests.actions.conftest import NEXT_NONE, PAUSED, bot_event, responses, user_event
from tests.conftest import make_conversation


@pytest.mark.parametrize(
    ("action", "reason", "response", "hold", "urgent"),
    [
        (ActionHandoff(), "human_request", "utter_handoff_human", None, False),
        (ActionAttorney(), "attorney", "utter_attorney", "attorney", False),
        (ActionDistress(), "distress", "utter_distress", "distress", True),
        (ActionDeceased(), "deceased", "utter_deceased", "deceased", False),
        (ActionBankruptcy(), "bankruptcy", "utter_bankruptcy", "bankruptcy", False),
    ],
    ids=["handoff", "attorney", "distress", "deceased", "bankruptcy"],
)
def test_escalation_hands_off_with_its_reason_holds_and_pauses(
    session,
    conversation,
    demo_account,
    make_tracker,
    run_action,
    action,
    reason,
    response,
    hold,
    urgent,
):
    events, dispatcher = run_action(action, make_tracker(conversation, text="...", intent="x"))

    assert events == [NEXT_NONE, *PAUSED]
    assert responses(dispatcher) == [response]
    handoff = session.scalars(select(Handoff)).one()
    assert (handoff.conversation_id, handoff.reason, handoff.urgent) == (
        conversation.id,
        reason,
        urgent,
    )
    assert session.get(Conversation, conversation.id).status == "handoff"
    holds = session.scalars(select(Hold)).all()
    if hold is None:
        assert holds == []
    else:
        assert [(h.account_id, h.reason, h.charge_id) for h in holds] == [
            (demo_account.id, hold, None)
        ]


def test_escalation_on_an_unknown_number_hands_off_without_a_hold(
    session, make_tracker, run_action
):
    stranger = make_conversation(session, None, address="+15005550006")
    session.commit()

    events, _ = run_action(
        ActionAttorney(), make_tracker(stranger, text="talk to my lawyer", intent="attorney")
    )

    assert events == [NEXT_NONE, *PAUSED]
    assert session.scalars(select(Handoff)).one().reason == "attorney"
    assert session.scalars(select(Hold)).all() == []


def test_first_frustration_gets_one_deescalation_attempt(
    session, conversation, make_tracker, run_action
):
    text = "this is ridiculous"
    tracker = make_tracker(
        conversation,
        text=text,
        intent="express_frustration",
        events=[user_event("express_frustration", text)],
    )

    events, dispatcher = run_action(ActionDeescalate(), tracker)

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_deescalate"]
    assert session.scalars(select(Handoff)).all() == []


def test_second_frustration_hands_off_for_anger(session, conversation, make_tracker, run_action):
    tracker = make_tracker(
        conversation,
        text="stop wasting my time",
        intent="express_frustration",
        events=[
            user_event("express_frustration", "this is ridiculous"),
            bot_event("I understand this is frustrating."),
            user_event("express_frustration", "stop wasting my time"),
        ],
    )

    events, dispatcher = run_action(ActionDeescalate(), tracker)

    assert events == [NEXT_NONE, *PAUSED]
    assert responses(dispatcher) == ["utter_handoff_generic"]
    assert session.scalars(select(Handoff)).one().reason == "anger"


def test_complaint_is_recorded_and_hands_off(session, conversation, make_tracker, run_action):
    text = "I want to file a complaint"
    tracker = make_tracker(conversation, text=text, intent="express_frustration")

    events, dispatcher = run_action(ActionDeescalate(), tracker)

    assert events == [NEXT_NONE, *PAUSED]
    assert responses(dispatcher) == ["utter_handoff_generic"]
    assert session.scalars(select(Handoff)).one().reason == "complaint"
    complaint = session.scalars(
        select(ConversationEvent).where(ConversationEvent.kind == "complaint")
    ).one()
    assert complaint.conversation_id == conversation.id
    assert complaint.data == {"channel": "sms"}


def test_one_fallback_asks_to_rephrase(session, conversation, make_tracker, run_action):
    tracker = make_tracker(conversation, text="asdf qwer", intent="nlu_fallback")

    events, dispatcher = run_action(ActionFallback(), tracker)

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_ask_rephrase"]
    assert session.scalars(select(Handoff)).all() == []


def test_two_fallbacks_in_a_row_hand_off(session, conversation, make_tracker, run_action):
    tracker = make_tracker(
        conversation,
        text="zzz",
        intent="nlu_fallback",
        events=[
            user_event("nlu_fallback", "asdf qwer"),
            bot_event("Sorry, I didn't get that."),
            user_event("nlu_fallback", "zzz"),
        ],
    )

    events, dispatcher = run_action(ActionFallback(), tracker)

    assert events == [NEXT_NONE, *PAUSED]
    assert responses(dispatcher) == ["utter_handoff_fallback"]
    assert session.scalars(select(Handoff)).one().reason == "fallback"


def test_fallback_after_an_understood_message_does_not_hand_off(
    session, conversation, make_tracker, run_action
):
    tracker = make_tracker(
        conversation,
        text="zzz",
        intent="nlu_fallback",
        events=[user_event("check_balance", "balance"), user_event("nlu_fallback", "zzz")],
    )

    events, dispatcher = run_action(ActionFallback(), tracker)

    assert events == [NEXT_NONE]
    assert responses(dispatcher) == ["utter_ask_rephrase"]


def test_a_handoff_while_the_team_is_away_says_when_they_are_back(
    session, conversation, make_tracker, run_action, monkeypatch
):
    """What the assistant itself says on a handoff (asked for by the model, or after repeated
    misunderstanding) follows the team's hours as the gateway's does."""
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[(utcnow().weekday() + 3) % 7]
    monkeypatch.setenv("TEAM_HOURS", f"{day} 10:00-11:00")
    monkeypatch.setenv("TEAM_TIMEZONE", "UTC")
    _, dispatcher = run_action(ActionHandoff(), make_tracker(conversation, text="...", intent="x"))

    assert responses(dispatcher) == ["utter_handoff_human_away"]
    assert dispatcher.messages[0]["back"].endswith("at 10:00 AM UTC")
    assert session.scalars(select(Handoff)).one().reason == "human_request"
