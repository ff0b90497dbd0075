"""Hardship: empathy first, verification if needed, recorded, then hardship options."""

from __future__ import annotations

from sqlalchemy import select

from actions.hardship import ActionRecordHardship, ActionStartHardship, ActionStartHardshipForm
from actions.plans import ActionOfferPlans
from bot.models import ConversationEvent, HardshipRecord
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
        slot("hardship_category", "job_loss"),  # not asked again once verified
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


def hardship_events(session) -> list[dict]:
    return [
        e.data
        for e in session.scalars(
            select(ConversationEvent)
            .where(ConversationEvent.kind == "hardship")
            .order_by(ConversationEvent.id)
        )
    ]


def test_unverified_hardship_is_recorded_once_verified_with_what_was_told(
    session, conversation, make_tracker, run_action
):
    run_action(
        ActionStartHardship(),
        make_tracker(conversation, text="i lost my job", intent="explain_hardship"),
    )
    assert session.scalars(select(HardshipRecord)).all() == []  # nothing before verification

    conversation.verified_at = conversation.started_at
    session.commit()
    run_action(
        ActionStartHardshipForm(),
        make_tracker(conversation, slots={"hardship_category": "job_loss"}),
    )

    record = session.scalars(select(HardshipRecord)).one()
    assert (record.category, record.temporary, record.affordable_monthly_cents) == (
        "job_loss", None, None,
    )  # fmt: skip


def test_a_hardship_told_counts_for_plans_before_its_questions_are_answered(
    session, verified, make_tracker, run_action
):
    """The debtor says they lost their job, then asks for a plan instead of answering: the
    plans offered are the hardship ones, and the agent sees the hardship on the account."""
    run_action(
        ActionStartHardship(),
        make_tracker(verified, text="I lost my job last month", intent="explain_hardship"),
    )
    record = session.scalars(select(HardshipRecord)).one()
    assert (record.category, record.conversation_id) == ("job_loss", verified.id)
    assert hardship_events(session)[0]["category"] == "job_loss"

    asked = make_tracker(verified, text="can i do a payment plan", intent="ask_plan")
    _, dispatcher = run_action(ActionOfferPlans(), asked)

    assert responses(dispatcher)[0] == "utter_plan_intro_hardship"


def test_the_answers_complete_the_hardship_told_not_a_second_one(
    session, verified, make_tracker, run_action
):
    run_action(
        ActionStartHardship(),
        make_tracker(verified, text="my hours got cut", intent="explain_hardship"),
    )
    answers = {
        "hardship_category": "reduced_income",
        "hardship_temporary": "long_term",
        "hardship_affordable": 0.0,
    }
    run_action(ActionRecordHardship(), make_tracker(verified, text="nothing", slots=answers))

    record = session.scalars(select(HardshipRecord)).one()
    assert (record.category, record.temporary, record.affordable_monthly_cents) == (
        "reduced_income", False, 0,
    )  # fmt: skip
    told, answered = hardship_events(session)
    assert told["hardship_id"] == answered["hardship_id"] == record.id
    assert "answers" not in told and told["temporary"] is None
    assert answered["answers"] is True and answered["affordable_monthly_cents"] == 0
