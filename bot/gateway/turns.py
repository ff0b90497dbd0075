"""A turn: one inbound message and what answers it. And the turns met a second time: a
Twilio retry of a MessageSid already stored (answered with what was sent the first time), or
a turn whose process died after storing its message (taken over, once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Message

#: A turn still unfinished after this long died with its process: a retry takes it over.
STALE_TURN = timedelta(seconds=30)


@dataclass(frozen=True)
class Inbound:
    channel: str  # "sms" | "web"
    address: str  # E.164 phone, or the web chat's session key
    text: str
    provider_sid: str | None = None  # Twilio's MessageSid
    conversation_id: str | None = None  # web chat: the conversation of this browser


@dataclass
class Outcome:
    conversation_id: str
    message_id: int
    replies: list[str] = field(default_factory=list)  # bodies to answer with now
    duplicate: bool = False
    route: str = "bot"  # bot | keyword | safety | survey | agent | silent | holding | late
    processed: bool = False  # the inbound was marked processed with the turn's last write
    #: A retry of a message whose first turn is still running (or died in the last
    #: STALE_TURN without a trace): nothing to answer yet; the caller asks to be retried.
    in_progress: bool = False


def earlier_attempt(
    sessions: sessionmaker[Session], provider_sid: str, now: datetime, *, take_over: bool = True
) -> Outcome | None:
    """A retried MessageSid: the answer already given (only what was actually sent), or,
    when the first attempt died mid-turn, the turn itself, taken over atomically (unless not
    `take_over`: then it is in progress). None: the MessageSid is not stored."""
    with sessions.begin() as session:
        first = session.scalar(select(Message).where(Message.provider_sid == provider_sid))
        if first is None:
            return None
        if first.status in ("received", "failed") and take_over:
            unfinished = or_(
                Message.status == "failed",
                and_(Message.status == "received", Message.status_updated_at < now - STALE_TURN),
            )
            taken = session.execute(
                update(Message)
                .where(Message.id == first.id, unfinished)
                .values(status="received", status_updated_at=now)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return Outcome(conversation_id=first.conversation_id, message_id=first.id)
        if first.status in ("received", "failed"):  # another attempt is on it
            return Outcome(
                conversation_id=first.conversation_id,
                message_id=first.id,
                duplicate=True,
                route="in_progress",
                in_progress=True,
            )
        replies = session.scalars(
            select(Message.text)
            .where(Message.reply_to_id == first.id, Message.status.in_(("sent", "delivered")))
            .order_by(Message.id)
        ).all()
        return Outcome(
            conversation_id=first.conversation_id,
            message_id=first.id,
            replies=list(replies),
            duplicate=True,
            route="duplicate",
        )


def take_over_unfinished(
    sessions: sessionmaker[Session], now: datetime, *, within: timedelta
) -> Iterator[Outcome]:
    """Inbound messages of the last `within` whose turn died without a trace (the process or
    the database went away after the message was stored, and no retry came): each taken
    over, marked processed in its own commit, as a retry would, and yielded once."""
    with sessions() as session:
        stuck = session.scalars(
            select(Message.id).where(
                Message.direction == "in",
                Message.status.in_(("received", "failed")),
                Message.status_updated_at < now - STALE_TURN,
                Message.created_at > now - within,
            )
        ).all()
    for message_id in stuck:
        with sessions.begin() as session:
            taken = session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    Message.status.in_(("received", "failed")),
                    Message.status_updated_at < now - STALE_TURN,
                )
                .values(status="processed", status_updated_at=now)
            )
            conversation_id = session.scalar(
                select(Message.conversation_id).where(Message.id == message_id)
            )
        if taken.rowcount == 1 and conversation_id is not None:  # type: ignore[attr-defined]
            yield Outcome(conversation_id, message_id)
