"""Answers to the satisfaction survey: which survey a debtor's message may answer, and recording
the answer once. The scheduler (bot/services/outreach.py) sends the survey; reading the text is
pure (bot/domain/survey.py); the numbers are in bot/services/metrics.py (``csat``).

A survey is *pending* for a message when all of these hold:
- it is the last thing we sent to that address on that channel that reached it (status
  sent, delivered or read; by the time it went out): once anything else was sent after it,
  a "5" answers that, not the survey;
- it went out within ANSWER_WINDOW;
- it has no answer yet;
- nobody is handling the conversation the message arrived in (no open handoff): while a
  person has it, the bot stays silent and the agent reads the message.
The address, not only the surveyed conversation, because the answer does not always arrive in
it: a conversation closed by an agent, or one quiet for a day, is never reopened, so the
answer to its survey starts a new conversation (bot/gateway/pipeline.py, ``_conversation``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.domain.redaction import redact
from bot.domain.survey import SCALE, SurveyAnswer, parse_answer
from bot.models import Conversation, Message, Outreach, SurveyResponse
from bot.services.events import EventKind, record_event
from bot.services.handoff import open_handoff

__all__ = [
    "ANSWER_WINDOW",
    "SURVEY_KIND",
    "SurveyAnswer",
    "parse_answer",
    "pending_survey",
    "record_answer",
]

SURVEY_KIND = "survey"  # Outreach.kind of a satisfaction survey
#: How long after it went out a survey can still be answered.
ANSWER_WINDOW = timedelta(days=3)
#: Outbound statuses of a message that reached the debtor.
REACHED = ("sent", "delivered", "read")
COMMENT_MAX = 1000


def pending_survey(session: Session, conversation_id: str, now: datetime) -> Outreach | None:
    """The survey a message arriving now in this conversation may answer, or None."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.status == "handoff":
        return None
    if open_handoff(session, conversation.id) is not None:
        return None
    latest = session.scalar(
        select(Message)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(
            Conversation.channel == conversation.channel,
            Conversation.address == conversation.address,
            Message.direction == "out",
            Message.status.in_(REACHED),
        )
        .order_by(func.coalesce(Message.sent_at, Message.created_at).desc(), Message.id.desc())
        .limit(1)
    )
    if latest is None or (latest.sent_at or latest.created_at) < now - ANSWER_WINDOW:
        return None
    answered = select(SurveyResponse.id).where(SurveyResponse.outreach_id == Outreach.id)
    return session.scalar(
        select(Outreach).where(
            Outreach.kind == SURVEY_KIND,
            Outreach.message_id == latest.id,
            ~answered.exists(),
        )
    )


def record_answer(
    session: Session,
    survey: Outreach,
    score: int,
    comment: str | None,
    message_id: int | None,
    now: datetime,
) -> SurveyResponse:
    """Record the answer to `survey` (`message_id`: the debtor's message), with a
    ``survey_answered`` event on the conversation of that message. Once per survey: when it
    already has an answer (a retried webhook, two answers sent together) that answer is
    returned and nothing is written; compare its ``message_id`` to tell."""
    if score not in SCALE:
        raise ValueError(f"a survey score is 1 to 5, not {score!r}")
    if survey.kind != SURVEY_KIND:
        raise ValueError(f"outreach {survey.id} is a {survey.kind}, not a survey")
    answer = session.get(Message, message_id) if message_id is not None else None
    conversation_id = survey.conversation_id or (answer.conversation_id if answer else None)
    if conversation_id is None:
        raise ValueError(f"survey {survey.id} belongs to no conversation")
    account_id = survey.account_id
    if account_id is None:
        surveyed = session.get(Conversation, conversation_id)
        account_id = surveyed.account_id if surveyed else None
    text = redact(comment.strip()).text[:COMMENT_MAX] if comment and comment.strip() else None
    values = {
        "outreach_id": survey.id,
        "conversation_id": conversation_id,
        "account_id": account_id,
        "message_id": message_id,
        "score": score,
        "comment": text,
        "created_at": now,
    }
    # The unique outreach_id decides, in the database: INSERT ... ON CONFLICT DO NOTHING, so a
    # second answer never raises (an IntegrityError would abort a PostgreSQL transaction, and
    # a SAVEPOINT around it is unreliable with SQLite's driver).
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.scalar(
        insert(SurveyResponse)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[SurveyResponse.outreach_id])
        .returning(SurveyResponse.id)
    )
    row = session.scalar(select(SurveyResponse).where(SurveyResponse.outreach_id == survey.id))
    assert row is not None
    if inserted is not None:  # this call recorded it
        data: dict[str, object] = {"score": score, "outreach_id": survey.id}
        if answer is not None and answer.conversation_id != conversation_id:
            data["surveyed_conversation_id"] = conversation_id
        record_event(
            session,
            EventKind.SURVEY_ANSWERED,
            actor="debtor",
            conversation_id=answer.conversation_id if answer else conversation_id,
            account_id=account_id,
            data=data,
            at=now,
        )
    return row
