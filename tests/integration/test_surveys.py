"""The survey service on a real database (bot/services/surveys.py): which survey a message may
answer, and recording an answer exactly once (also from two sessions at the same time)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    Handoff,
    Message,
    Outreach,
    SurveyResponse,
)
from bot.services import retention
from bot.services.surveys import ANSWER_WINDOW, pending_survey, record_answer
from tests.conftest import NOW, make_account, make_conversation

pytestmark = pytest.mark.integration


def message(
    session: Session,
    conversation: Conversation,
    *,
    direction: str = "out",
    status: str = "sent",
    at: datetime = NOW - timedelta(minutes=5),
    text: str = "How did we do today?",
) -> Message:
    row = Message(
        conversation_id=conversation.id,
        direction=direction,
        sender="bot" if direction == "out" else "debtor",
        channel=conversation.channel,
        text=text,
        status=status,
        created_at=at,
        sent_at=at if direction == "out" and status in ("sent", "delivered", "read") else None,
    )
    session.add(row)
    session.flush()
    return row


def survey_for(session: Session, conversation: Conversation, sent: Message) -> Outreach:
    row = Outreach(
        kind="survey",
        target=f"conversation:{conversation.id}",
        account_id=conversation.account_id,
        conversation_id=conversation.id,
        message_id=sent.id,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def account(session: Session) -> Account:
    return make_account(session)


@pytest.fixture
def conversation(session: Session, account: Account) -> Conversation:
    return make_conversation(
        session, account, started_at=NOW - timedelta(hours=1), last_message_at=NOW
    )


@pytest.fixture
def survey(session: Session, conversation: Conversation) -> Outreach:
    message(session, conversation, at=NOW - timedelta(minutes=40), text="Your plan is set.")
    sent = message(session, conversation)
    found = survey_for(session, conversation, sent)
    session.commit()
    return found


def answer_message(session: Session, conversation: Conversation, text: str = "4") -> Message:
    return message(session, conversation, direction="in", status="received", at=NOW, text=text)


# ---------------------------------------------------------------- pending_survey


def test_a_sent_unanswered_survey_that_was_the_last_thing_sent_is_pending(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    assert pending_survey(session, conversation.id, NOW) == survey


@pytest.mark.parametrize("status", ["delivered", "read"])
def test_delivered_and_read_surveys_are_pending_too(
    session: Session, conversation: Conversation, status: str
) -> None:
    sent = message(session, conversation, status=status)
    survey = survey_for(session, conversation, sent)
    assert pending_survey(session, conversation.id, NOW) == survey


@pytest.mark.parametrize("status", ["queued", "sending", "blocked", "failed", "canceled"])
def test_a_survey_that_never_reached_the_debtor_is_not_pending(
    session: Session, conversation: Conversation, status: str
) -> None:
    sent = message(session, conversation, status=status)
    survey_for(session, conversation, sent)
    assert pending_survey(session, conversation.id, NOW) is None


def test_the_answer_window_is_three_days(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    sent_at = NOW - timedelta(minutes=5)
    assert pending_survey(session, conversation.id, sent_at + ANSWER_WINDOW) == survey
    later = sent_at + ANSWER_WINDOW + timedelta(seconds=1)
    assert pending_survey(session, conversation.id, later) is None


def test_anything_sent_after_the_survey_ends_it(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    message(session, conversation, at=NOW - timedelta(minutes=1), text="Hi, how can I help?")
    assert pending_survey(session, conversation.id, NOW) is None


def test_a_reply_blocked_after_the_survey_does_not_end_it(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    message(session, conversation, status="blocked", at=NOW - timedelta(minutes=1))
    assert pending_survey(session, conversation.id, NOW) == survey


def test_latest_is_by_when_it_went_out_not_by_when_it_was_queued(
    session: Session, conversation: Conversation
) -> None:
    """A survey queued before a reply but held by the outbox until after it is what the
    debtor read last."""
    queued_first = message(session, conversation, at=NOW - timedelta(minutes=5))
    queued_first.created_at = NOW - timedelta(hours=2)
    message(session, conversation, at=NOW - timedelta(minutes=30), text="Anything else?")
    survey = survey_for(session, conversation, queued_first)
    assert pending_survey(session, conversation.id, NOW) == survey


def test_an_answered_survey_is_no_longer_pending(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    record_answer(session, survey, 5, None, answer_message(session, conversation).id, NOW)
    assert pending_survey(session, conversation.id, NOW) is None


def test_no_survey_while_a_person_has_the_conversation(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    session.add(Handoff(conversation_id=conversation.id, reason="human_request", created_at=NOW))
    session.flush()
    assert pending_survey(session, conversation.id, NOW) is None


def test_the_answer_may_arrive_in_a_later_conversation_of_the_same_number(
    session: Session, account: Account, conversation: Conversation, survey: Outreach
) -> None:
    conversation.status = "closed"
    session.flush()
    later = make_conversation(session, account, started_at=NOW, last_message_at=NOW)
    assert later.address == conversation.address
    assert pending_survey(session, later.id, NOW) == survey


def test_another_numbers_survey_is_never_pending(session: Session, survey: Outreach) -> None:
    other = make_account(session, account_ref="ACC-2", phone="+14045550178")
    theirs = make_conversation(session, other, started_at=NOW, last_message_at=NOW)
    assert pending_survey(session, theirs.id, NOW) is None
    assert pending_survey(session, "no-such-conversation", NOW) is None


# ---------------------------------------------------------------- record_answer


def test_recording_twice_keeps_the_first_answer_and_one_event(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    first_msg = answer_message(session, conversation, "4 nice")
    first = record_answer(session, survey, 4, "nice", first_msg.id, NOW)
    second_msg = answer_message(session, conversation, "1")
    again = record_answer(session, survey, 1, None, second_msg.id, NOW)
    session.commit()
    assert again.id == first.id and again.message_id == first_msg.id
    assert (again.score, again.comment) == (4, "nice")
    assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    events = session.scalars(
        select(ConversationEvent).where(ConversationEvent.kind == "survey_answered")
    ).all()
    assert [e.data["score"] for e in events] == [4]


def test_the_comment_is_stored_redacted(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    row = record_answer(
        session,
        survey,
        5,
        "  paid with 4111 1111 1111 1111, ssn 123-45-6789  ",
        answer_message(session, conversation).id,
        NOW,
    )
    assert row.comment is not None
    assert "4111 1111" not in row.comment and "123-45" not in row.comment
    assert row.comment.startswith("paid with [card ending 1111]")


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_off_the_scale_is_refused(
    session: Session, conversation: Conversation, survey: Outreach, score: int
) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        record_answer(session, survey, score, None, None, NOW)


def test_two_sessions_answering_at_once_record_one_answer(
    database_url: str, session: Session, conversation: Conversation, survey: Outreach
) -> None:
    ids = [answer_message(session, conversation, str(n)).id for n in (4, 5)]
    session.commit()
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def answer(i: int) -> None:
        try:
            with factory.begin() as s:
                outreach = s.get(Outreach, survey.id)
                assert outreach is not None
                barrier.wait(timeout=10)
                results[i] = record_answer(s, outreach, 4 + i, None, ids[i], NOW).message_id
        except Exception as exc:  # surfaced by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, int) for r in results), results
    session.expire_all()
    [row] = session.scalars(select(SurveyResponse)).all()
    assert results == [row.message_id, row.message_id]  # both see the one that was recorded
    assert (
        session.scalar(
            select(func.count())
            .select_from(ConversationEvent)
            .where(ConversationEvent.kind == "survey_answered")
        )
        == 1
    )


def test_the_retention_purge_removes_a_surveyed_conversation(
    session: Session, conversation: Conversation, survey: Outreach
) -> None:
    record_answer(session, survey, 4, "ok", answer_message(session, conversation).id, NOW)
    session.commit()
    assert retention.purge(session, [conversation.id]) == 1
    session.commit()
    assert session.get(Conversation, conversation.id) is None
