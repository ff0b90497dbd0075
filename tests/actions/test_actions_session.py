"""action_session_start: company name and support line as slots, the metadata kept."""

from __future__ import annotations

from actions.session import ActionSessionStart
from tests.actions.conftest import slot


def test_session_start_sets_company_slots_and_keeps_metadata(
    conversation, make_tracker, run_action
):
    metadata = {"channel": "sms", "address": conversation.address}
    tracker = make_tracker(conversation, slots={"session_started_metadata": metadata})

    events, dispatcher = run_action(ActionSessionStart(), tracker)

    assert events == [
        {"event": "session_started"},
        slot("session_started_metadata", metadata),
        slot("company_name", "Evergreen Health Billing"),
        slot("support_phone", "(800) 555-0199"),
        {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
    ]
    assert dispatcher.messages == []
