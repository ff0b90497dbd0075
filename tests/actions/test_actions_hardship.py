"""Hardship: empathy first, verification if needed, recorded, then hardship options."""

from __future__ import annotations

from sqlalchemy import select

from actions.hardship import ActionRecordHardship, ActionStartHardship
from bot.models import HardshipRecord
from tests.actions.conftest import GATE_CLEARED, NEXT_NONE, responses, slot

RESET = [
    slot("hardship_category", None),
    slot("hardship_temporary", None),
    slot("hardship_affordable", None),
]


def test_unverified_hardship_says_empathy_before_asking_to_verify(
    conversation, make_tracker, run_action
):
    text = "i lost my job"
    events, dispatcher = run_action(
        ActionStartHardship(), make_tracker(conversation, text=text, intent="explain_hardship")
    )

    assert responses(dispatcher) == ["utter_hardship_empathy", "utter_verify_first"]
    assert events == [
        NEXT_NONE,
        *RESET,
        slot("pending_action", "action_start_hardship_form"),
        slot("pending_request", {"text": text, "entities": {}}),
        slot("followup", "verify_form"),
    ]


def test_verified_hardship_says_empathy_and_takes_the_category_from_the_words(
    verified, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionStartHardship(),
        make_tracker(verified, text="i got laid off last month", intent="explain_hardship"),
    )

    assert responses(dispatcher) == ["utter_hardship_empathy"]
    assert events == [
        NEXT_NONE,
        *RESET,
        slot("hardship_category", "job_loss"),
        slot("followup", "hardship_form"),
    ]


def test_record_hardship_stores_the_answers_and_offers_plans_next(
    session, verified, demo_account, make_tracker, run_action
):
    tracker = make_tracker(
        verified,
        text="about 50 a month",
        slots={
            "hardship_category": "job_loss",
            "hardship_temporary": "temporary",
            "hardship_affordable": 50.0,
        },
    )

    events, dispatcher = run_action(ActionRecordHardship(), tracker)

    assert events == [*GATE_CLEARED, *RESET, slot("followup", "action_offer_plans")]
    assert responses(dispatcher) == ["utter_hardship_recorded", "utter_hardship_resources"]
    record = session.scalars(select(HardshipRecord)).one()
    assert record.account_id == demo_account.id
    assert record.conversation_id == verified.id
    assert record.category == "job_loss"
    assert record.temporary is True
    assert record.affordable_monthly_cents == 5000
