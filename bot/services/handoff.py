"""Handoffs to a human agent: requested by the safety net, the assistant or a failure;
claimed, released back to the bot, or closed by an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from bot.domain.contact import Kind, Purpose
from bot.domain.redaction import redact
from bot.domain.team_hours import TeamHours
from bot.models import Account, Conversation, Handoff, Message, StaffUser
from bot.services.consent import conversation_decision
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.services.events import EventKind, record_event
from bot.services.outbox import queue_message

#: An agent writing within this long of the debtor's last message is replying to it.
REPLY_WINDOW = timedelta(hours=24)


class HandoffReason(StrEnum):
    HUMAN_REQUEST = "human_request"
    DISTRESS = "distress"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    ANGER = "anger"
    COMPLAINT = "complaint"
    FALLBACK = "fallback"
    IDENTITY_FAILED = "identity_failed"
    SETTLEMENT = "settlement"
    FAILURE = "failure"


URGENT_REASONS = frozenset({HandoffReason.DISTRESS})


_OPEN_HANDOFF = (  # built once: the gateway asks every turn
    select(Handoff)
    .where(Handoff.conversation_id == bindparam("conversation_id"), Handoff.status != "closed")
    .order_by(Handoff.id.desc())
    .limit(1)
)


#: Handoff replies that promise a reply "shortly", and the form each takes when the team is
#: away: the person asking for someone at 11 pm is told when they are back instead.
AWAY_FORMS = {
    "utter_handoff_human": "utter_handoff_human_away",
    "utter_handoff_generic": "utter_handoff_generic_away",
    "utter_handoff_fallback": "utter_handoff_fallback_away",
}


def handoff_reply(response: str, team: TeamHours, now: datetime) -> tuple[str, dict[str, str]]:
    """The response that tells the debtor a person is coming, and what it fills in: as it is
    while the team is in; outside its hours, the form that says when they are back."""
    back = team.next_open(now)
    if back is None or response not in AWAY_FORMS:
        return response, {}
    return AWAY_FORMS[response], {"back": team.describe(back, now.date())}


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(_OPEN_HANDOFF, {"conversation_id": conversation_id})


def who_answers(session: Session, conversation_id: str) -> Literal["assistant", "waiting", "agent"]:
    """Who answers the debtor's next message: the assistant, nobody yet (a handoff waits for
    an agent, and the bot stays silent), or the agent who claimed it."""
    handoff = open_handoff(session, conversation_id)
    if handoff is None:
        return "assistant"
    return "agent" if handoff.status == "active" else "waiting"


def request_handoff(
    session: Session,
    conversation: Conversation,
    reason: HandoffReason,
    *,
    now: datetime,
    actor: str = "bot",
    detail: str | None = None,
) -> Handoff:
    """Hand the conversation to a person. Idempotent: a conversation already waiting for or
    with an agent keeps its handoff (an urgent reason upgrades it)."""
    current = open_handoff(session, conversation.id)
    if current is not None:
        if reason in URGENT_REASONS and not current.urgent:
            current.urgent = True
            current.reason = reason.value
        return current
    handoff = Handoff(
        conversation_id=conversation.id,
        reason=reason.value,
        urgent=reason in URGENT_REASONS,
        detail=detail,
        created_at=now,
    )
    session.add(handoff)
    conversation.status = "handoff"
    session.flush()
    record_event(
        session,
        EventKind.HANDOFF_REQUESTED,
        actor=actor,
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        data={"handoff_id": handoff.id, "reason": reason.value, "urgent": handoff.urgent},
        at=now,
    )
    return handoff


def claim(session: Session, handoff_id: int, agent_id: int, *, now: datetime) -> Handoff:
    """Atomic: one UPDATE guarded by status, so of two agents clicking at once one wins."""
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == "waiting")
        .values(status="active", agent_id=agent_id, claimed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if session.get(Handoff, handoff_id) is None:
            raise NotFound("no such handoff")
        raise Conflict("this handoff was already claimed or closed")
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    if handoff is None:
        raise NotFound("no such handoff")
    conversation = session.get(Conversation, handoff.conversation_id)
    record_event(
        session,
        EventKind.HANDOFF_CLAIMED,
        actor=f"agent:{agent_id}",
        conversation_id=handoff.conversation_id,
        account_id=conversation.account_id if conversation else None,
        data={"handoff_id": handoff.id},
        at=now,
    )
    return handoff


# ---------------------------------------------------------------------------- the agent's side

#: A waiting handoff nobody claimed within this long is overdue (HANDOFF_OVERDUE_MINUTES).
DEFAULT_OVERDUE = timedelta(minutes=5)


class NotHandling(Conflict):
    """Only the agent handling an active handoff may act on it."""

    code = "not_handling"


class ContactRefused(Conflict):
    """The contact rules say no (opt-out, cease, attorney...): nothing is sent."""

    code = "contact_refused"


@dataclass(frozen=True)
class QueueItem:
    handoff: Handoff
    conversation: Conversation
    account: Account | None
    waited: timedelta
    overdue: bool


def _with_parties(*columns: Any) -> Select[Any]:
    """Handoffs with their conversation, and `columns` of their account (outer-joined: a
    conversation may have none)."""
    return (
        select(Handoff, Conversation, *columns)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .outerjoin(Account, Account.id == Conversation.account_id)
    )


@dataclass(frozen=True)
class HandoffRow:
    """A handoff with who it is about and who has it (the JSON API's listing)."""

    handoff: Handoff
    conversation: Conversation
    account_ref: str | None
    agent_email: str | None


def handoff_rows(
    session: Session, *, status: str | None = None, handoff_id: int | None = None
) -> list[HandoffRow]:
    """Handoffs, oldest first: all of them, those with `status`, or the one `handoff_id`."""
    query = (
        _with_parties(Account.account_ref, StaffUser.email)
        .outerjoin(StaffUser, StaffUser.id == Handoff.agent_id)
        .order_by(Handoff.id)
    )
    if status is not None:
        query = query.where(Handoff.status == status)
    if handoff_id is not None:
        query = query.where(Handoff.id == handoff_id)
    return [HandoffRow(*row) for row in session.execute(query).all()]


def waiting_queue(
    session: Session, *, now: datetime, overdue_after: timedelta = DEFAULT_OVERDUE
) -> list[QueueItem]:
    """Waiting handoffs: urgent first, then oldest first, with how long each has waited."""
    rows = session.execute(
        _with_parties(Account)
        .where(Handoff.status == "waiting")
        .order_by(Handoff.urgent.desc(), Handoff.created_at, Handoff.id)
    ).all()
    return [
        QueueItem(h, c, a, now - h.created_at, now - h.created_at > overdue_after)
        for h, c, a in rows
    ]


def with_parties(session: Session, handoff_id: int) -> tuple[Handoff, Conversation, Account | None]:
    """The handoff, its conversation and its account (None: not linked to one). NotFound when
    there is no such handoff."""
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound("no such handoff")
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return handoff, conversation, account


def handled_by_agent(session: Session, agent_id: int, *, now: datetime) -> list[QueueItem]:
    """The handoffs this agent has now, in the order claimed, with how long each waited."""
    rows = session.execute(
        _with_parties(Account)
        .where(Handoff.status == "active", Handoff.agent_id == agent_id)
        .order_by(Handoff.claimed_at, Handoff.id)
    ).all()
    return [QueueItem(h, c, a, now - h.created_at, False) for h, c, a in rows]


def _handled(session: Session, handoff_id: int, agent_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound("no such handoff")
    if handoff.status != "active" or handoff.agent_id != agent_id:
        raise NotHandling("only the agent handling this active handoff can do that")
    return handoff


def agent_reply(
    session: Session,
    handoff_id: int,
    agent_id: int,
    text: str,
    *,
    now: datetime,
) -> Message:
    """The agent's reply to the debtor, on the conversation's channel (SMS through the
    outbox, web chat through its poll). Refused when the contact rules say no."""
    handoff = _handled(session, handoff_id, agent_id)
    body = redact(text.strip()).text
    if not body:
        raise ServiceError("the reply is empty")
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    last = session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.id.desc())
        .limit(1)
    )
    # Answering what the debtor said lately is a reply; writing after a silence is initiated.
    replying = last is not None and now - last.created_at < REPLY_WINDOW
    decision = conversation_decision(
        session,
        conversation,
        kind=Kind.REPLY if replying else Kind.INITIATED,
        purpose=Purpose.GENERAL,
        now=now,
    )
    if not decision.allowed:
        raise ContactRefused(
            f"the contact rules say no: {decision.reason}", reason=str(decision.reason)
        )
    return queue_message(
        session,
        conversation,
        body,
        sender="agent",
        initiated=not replying,
        purpose=Purpose.GENERAL,
        agent_id=agent_id,
        now=now,
    )


def add_note(session: Session, handoff_id: int, agent_id: int, text: str, *, now: datetime) -> None:
    """A private note on the conversation; the debtor never sees it."""
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise NotFound("no such handoff")
    if not text.strip():
        raise ServiceError("the note is empty")
    record_event(
        session,
        EventKind.AGENT_NOTE,
        actor=f"agent:{agent_id}",
        conversation_id=handoff.conversation_id,
        data={"handoff_id": handoff.id, "text": redact(text.strip()).text[:2000]},
        at=now,
    )


def _end(
    session: Session, handoff_id: int, agent_id: int, now: datetime, *, back_to_bot: bool
) -> tuple[Handoff, Conversation]:
    """Close the handoff; the conversation goes back to the bot, or ends."""
    handoff = _handled(session, handoff_id, agent_id)
    handoff.status = "closed"
    handoff.closed_at = now
    if back_to_bot:
        handoff.released_at = now
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    conversation.status = "bot" if back_to_bot else "closed"
    record_event(
        session,
        EventKind.HANDOFF_RELEASED if back_to_bot else EventKind.HANDOFF_CLOSED,
        actor=f"agent:{agent_id}",
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        data={"handoff_id": handoff.id},
        at=now,
    )
    return handoff, conversation


def release(
    session: Session, handoff_id: int, agent_id: int, *, now: datetime, welcome_back: str
) -> Handoff:
    """Hand the conversation back to the bot: the debtor is told the assistant is back. The
    caller resumes the Rasa tracker after the commit."""
    handoff, conversation = _end(session, handoff_id, agent_id, now, back_to_bot=True)
    if conversation_decision(
        session, conversation, kind=Kind.REPLY, purpose=Purpose.GENERAL, now=now
    ).allowed:
        queue_message(
            session, conversation, welcome_back, sender="system", initiated=False,
            purpose=Purpose.GENERAL, now=now,
        )  # fmt: skip
    return handoff


def close(session: Session, handoff_id: int, agent_id: int, *, now: datetime) -> Handoff:
    """End the handoff and the conversation; the debtor's next message starts a new one."""
    handoff, _ = _end(session, handoff_id, agent_id, now, back_to_bot=False)
    return handoff
