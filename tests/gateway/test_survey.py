"""Answers to the satisfaction survey through the real /twilio/sms route and the real gateway
(bot/gateway/pipeline.py, bot/services/surveys.py), with a stub Rasa. Each test starts from a
conversation with Maria whose survey went out a few minutes ago, inserted here as the
scheduler (bot/services/outreach.py) leaves it: an Outreach row of kind "survey" pointing at
the sent message."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Account, Conversation, ConversationEvent, Message, Outreach, SurveyResponse
from bot.wording import render
from tests.gateway.conftest import (
    MARIA,
    RASA_REPLY,
    StubRasa,
    handoffs,
    messages,
    new_sid,
    post_sms,
    twiml_bodies,
)

pytestmark = pytest.mark.integration

THANKS = render("utter_survey_thanks")
THANKS_LOW = render("utter_survey_thanks_low")


def surveyed(
    db: Session,
    account: Account,
    *,
    sent: datetime | None = None,
    status: str = "sent",
    quiet: timedelta = timedelta(minutes=5),
) -> Outreach:
    """A resolved SMS conversation with `account` and its survey, as the scheduler and the
    outbox leave them: the survey went out at `sent` (default: 5 minutes ago), which the outbox
    also stamps on the conversation; `quiet` before that, the bot's last reply."""
    sent = sent or utcnow() - timedelta(minutes=5)
    started = sent - quiet - timedelta(minutes=10)
    conversation = Conversation(
        id=os.urandom(16).hex(),
        channel="sms",
        address=MARIA,
        account_id=account.id,
        status="bot",
        started_at=started,
        last_message_at=sent if status in ("sent", "delivered") else sent - quiet,
    )
    db.add(conversation)
    db.flush()
    db.add(
        Message(
            conversation_id=conversation.id,
            direction="out",
            sender="bot",
            channel="sms",
            text="You're all set: your plan is in place.",
            status="sent",
            created_at=sent - quiet,
            sent_at=sent - quiet,
        )
    )
    message = Message(
        conversation_id=conversation.id,
        direction="out",
        sender="bot",
        channel="sms",
        text=render("utter_survey"),
        status=status,
        initiated=True,
        purpose="general",
        provider_sid=new_sid() if status != "queued" else None,
        created_at=sent - timedelta(minutes=1),
        sent_at=sent if status in ("sent", "delivered") else None,
    )
    db.add(message)
    db.flush()
    survey = Outreach(
        kind="survey",
        target=f"conversation:{conversation.id}",
        account_id=account.id,
        conversation_id=conversation.id,
        message_id=message.id,
        created_at=sent - timedelta(minutes=1),
    )
    db.add(survey)
    db.commit()
    return survey


@pytest.fixture
def survey(db: Session, maria: Account) -> Outreach:
    return surveyed(db, maria)


def say(client: FlaskClient, body: str, sid: str | None = None) -> list[str]:
    response = post_sms(client, body, frm=MARIA, sid=sid)
    assert response.status_code == 200, response.get_data(as_text=True)
    return twiml_bodies(response)


def answers(db: Session) -> list[SurveyResponse]:
    db.expire_all()
    return list(db.scalars(select(SurveyResponse).order_by(SurveyResponse.id)))


def survey_events(db: Session) -> list[ConversationEvent]:
    db.expire_all()
    return list(
        db.scalars(select(ConversationEvent).where(ConversationEvent.kind == "survey_answered"))
    )


# ---------------------------------------------------------------- answers


def test_an_answer_with_a_comment_is_recorded_and_thanked_without_asking_rasa(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach, maria: Account
) -> None:
    sid = new_sid()
    assert say(client, "4 great service", sid=sid) == [THANKS]
    [inbound] = messages(db, provider_sid=sid)
    assert inbound.conversation_id == survey.conversation_id
    [answer] = answers(db)
    assert (answer.outreach_id, answer.score, answer.comment) == (survey.id, 4, "great service")
    assert answer.message_id == inbound.id
    assert (answer.conversation_id, answer.account_id) == (survey.conversation_id, maria.id)
    [reply] = messages(db, reply_to_id=inbound.id)
    assert reply.text == THANKS and reply.status == "sent"
    assert reply.purpose == "general" and not reply.initiated  # a reply, not a new contact
    [event] = survey_events(db)
    assert event.conversation_id == survey.conversation_id and event.actor == "debtor"
    assert event.data == {"score": 4, "outreach_id": survey.id}
    assert rasa.sent == []


def test_a_retried_message_sid_records_the_answer_once(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    sid = new_sid()
    first = say(client, "5", sid=sid)
    assert first == [THANKS]
    for _ in range(2):
        assert say(client, "5", sid=sid) == first
    assert len(messages(db, provider_sid=sid)) == 1
    assert [a.score for a in answers(db)] == [5]
    assert len(survey_events(db)) == 1
    assert rasa.sent == []


@pytest.mark.parametrize("text", ["2", "1 - too slow", "one"])
def test_a_low_score_gets_the_sorry_thanks(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach, text: str
) -> None:
    assert say(client, text) == [THANKS_LOW]
    [answer] = answers(db)
    assert answer.score <= 2


def test_the_survey_is_answered_once_a_second_number_goes_to_rasa(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    assert say(client, "5") == [THANKS]
    assert say(client, "3") == [RASA_REPLY]
    assert [a.score for a in answers(db)] == [5]
    assert [text for _, text in rasa.sent] == ["3"]


def test_an_answer_in_a_new_conversation_still_answers_the_survey(
    client: FlaskClient, db: Session, rasa: StubRasa, maria: Account
) -> None:
    """Sent two days ago: the conversation went idle, so the answer starts a new one (the
    gateway never reopens one); it still answers the survey it follows."""
    survey = surveyed(db, maria, sent=utcnow() - timedelta(days=2))
    sid = new_sid()
    [reply] = say(client, "4 - easy", sid=sid)
    assert reply.startswith(THANKS)  # the first reply of the new conversation: + opt-out line
    [inbound] = messages(db, provider_sid=sid)
    assert inbound.conversation_id != survey.conversation_id
    [answer] = answers(db)
    assert (answer.conversation_id, answer.score, answer.comment) == (
        survey.conversation_id,
        4,
        "easy",
    )
    [event] = survey_events(db)
    assert event.conversation_id == inbound.conversation_id
    assert event.data["surveyed_conversation_id"] == survey.conversation_id


# ---------------------------------------------------------------- not answers: to Rasa


@pytest.mark.parametrize(
    "text", ["can I pay 5 on friday", "2pm", "$5", "1 more question", "what does 5 mean?"]
)
def test_something_else_goes_to_rasa_and_the_survey_stays_unanswered(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach, text: str
) -> None:
    assert say(client, text) == [RASA_REPLY]
    assert [t for _, t in rasa.sent] == [text]
    assert answers(db) == [] and survey_events(db) == []


def test_a_number_after_something_else_was_sent_goes_to_rasa(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    say(client, "hi")  # the assistant answers: the survey is no longer the last thing sent
    assert say(client, "5") == [RASA_REPLY]
    assert [t for _, t in rasa.sent] == ["hi", "5"]
    assert answers(db) == []


def test_a_survey_older_than_three_days_is_not_answered(
    client: FlaskClient, db: Session, rasa: StubRasa, maria: Account
) -> None:
    surveyed(db, maria, sent=utcnow() - timedelta(days=3, minutes=1))
    assert say(client, "5") == [f"{RASA_REPLY}\nReply STOP to opt out."]
    assert answers(db) == []


def test_a_survey_still_queued_is_not_answered(
    client: FlaskClient, db: Session, rasa: StubRasa, maria: Account
) -> None:
    surveyed(db, maria, status="queued")
    say(client, "5")
    assert [t for _, t in rasa.sent] == ["5"]
    assert answers(db) == []


def test_no_survey_no_answer(client: FlaskClient, db: Session, rasa: StubRasa) -> None:
    assert say(client, "5")[0].startswith(RASA_REPLY)
    assert answers(db) == []


# ---------------------------------------------------------------- what comes first


def test_stop_still_opts_out_and_a_later_answer_is_not_recorded(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    [confirmation] = say(client, "STOP")
    assert "unsubscribed" in confirmation
    assert say(client, "5") == []  # opted out: stored, nothing sent, nothing recorded
    assert answers(db) == [] and rasa.sent == []


def test_distress_gets_crisis_resources_and_a_person_never_a_survey_answer(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    [reply] = say(client, "i want to die")
    assert "988" in reply and "911" in reply
    [handoff] = handoffs(db)
    assert handoff.reason == "distress" and handoff.urgent
    assert handoff.conversation_id == survey.conversation_id
    assert say(client, "1") == []  # a person has the conversation now: the bot stays silent
    assert answers(db) == [] and survey_events(db) == []
    assert rasa.sent == []


def test_a_score_with_a_distress_comment_is_caught_by_the_safety_net(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    [reply] = say(client, "1 i want to end my life")
    assert "988" in reply
    assert [h.reason for h in handoffs(db)] == ["distress"]
    assert answers(db) == []


def test_praise_for_the_agent_is_an_answer_not_a_request_for_one(
    client: FlaskClient, db: Session, rasa: StubRasa, survey: Outreach
) -> None:
    assert say(client, "5 - the agent was great") == [THANKS]
    assert handoffs(db) == []
    assert [(a.score, a.comment) for a in answers(db)] == [(5, "the agent was great")]
