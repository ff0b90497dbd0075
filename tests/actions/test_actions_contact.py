"""Stop, contact preferences and wrong number."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from actions.contact import ActionContactPreference, ActionStopContact, ActionWrongNumber
from bot.models import ConsentEvent, ContactPreference
from bot.wording import render
from tests.actions.conftest import DEMO_PHONE, GATE_CLEARED, NEXT_NONE, responses


def test_stop_records_an_sms_opt_out_for_the_sender_and_pauses(
    session, conversation, demo_account, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionStopContact(),
        make_tracker(conversation, text="please stop texting me", intent="stop_contact"),
    )

    assert events == [NEXT_NONE, {"event": "pause"}]
    assert responses(dispatcher) == ["utter_opt_out_confirmed"]
    consent = session.scalars(select(ConsentEvent)).one()
    assert (consent.address, consent.channel, consent.action, consent.account_id) == (
        DEMO_PHONE,
        "sms",
        "opt_out",
        demo_account.id,
    )


def test_evening_preference_is_saved_with_earliest_6pm(
    session, verified, demo_account, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionContactPreference(),
        make_tracker(verified, text="text me after 6pm", intent="contact_preference"),
    )

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_preference_saved", "utter_preference_saved_hours"]
    assert dispatcher.messages[1]["earliest"] == "6:00 PM"
    preference = session.scalars(select(ContactPreference)).one()
    assert preference.account_id == demo_account.id
    assert preference.earliest == time(18, 0)


def test_a_second_preference_keeps_the_first_and_the_reply_says_both(
    session, verified, make_tracker, run_action
):
    """'Please only text me in the evenings', then 'and not on weekends': the evenings are
    kept, SMS is not made the only channel, and the reply says the whole preference."""
    for text in ("please only text me in the evenings", "and not on weekends"):
        _, dispatcher = run_action(
            ActionContactPreference(),
            make_tracker(verified, text=text, intent="contact_preference"),
        )
    assert said(dispatcher) == [
        "Got it. From now on:",
        "We'll only reach out between 5:00 PM and 9:00 PM your time.",
        "We won't message you on weekends.",
    ]
    preference = session.scalars(select(ContactPreference)).one()
    assert (preference.earliest, preference.avoid_weekends, preference.channels) == (
        time(17), True, None,
    )  # fmt: skip


def test_a_channel_is_named_in_words(session, verified, make_tracker, run_action):
    _, dispatcher = run_action(
        ActionContactPreference(),
        make_tracker(verified, text="no calls please", intent="contact_preference"),
    )
    assert said(dispatcher)[1] == "We'll contact you by email or text only."


def test_preference_needs_verification_first(session, conversation, make_tracker, run_action):
    _, dispatcher = run_action(
        ActionContactPreference(),
        make_tracker(conversation, text="text me after 6pm", intent="contact_preference"),
    )

    assert responses(dispatcher) == ["utter_verify_first"]
    assert session.scalars(select(ContactPreference)).all() == []


def test_unclear_preference_is_not_understood(session, verified, make_tracker, run_action):
    _, dispatcher = run_action(
        ActionContactPreference(),
        make_tracker(verified, text="whenever", intent="contact_preference"),
    )

    assert responses(dispatcher) == ["utter_preference_not_understood"]
    assert session.scalars(select(ContactPreference)).all() == []


def test_wrong_number_is_recorded_and_pauses(session, conversation, make_tracker, run_action):
    events, dispatcher = run_action(
        ActionWrongNumber(),
        make_tracker(conversation, text="wrong number, who is maria", intent="wrong_number"),
    )

    assert events == [NEXT_NONE, {"event": "pause"}]
    assert responses(dispatcher) == ["utter_wrong_number"]
    consent = session.scalars(select(ConsentEvent)).one()
    assert (consent.address, consent.channel, consent.action) == (DEMO_PHONE, "sms", "wrong_number")


def said(dispatcher) -> list[str]:
    return [
        render(m["response"], **{k: v for k, v in m.items() if k != "response"})
        for m in dispatcher.messages
    ]
