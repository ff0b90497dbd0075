"""Tamper evidence: recompute each conversation's hash chain from what is stored now."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import chain
from bot.models import Conversation, ConversationEvent, Message, TranscriptLink
from bot.models.chained import Entry, entry_digest


@dataclass(frozen=True)
class ChainReport:
    conversation_id: str
    entries: int
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_conversation(session: Session, conversation_id: str) -> ChainReport:
    links = session.scalars(
        select(TranscriptLink)
        .where(TranscriptLink.conversation_id == conversation_id)
        .order_by(TranscriptLink.seq)
    ).all()
    stored: dict[tuple[str, int], Entry] = {}
    for message in session.scalars(
        select(Message).where(Message.conversation_id == conversation_id)
    ):
        stored["message", message.id] = message
    for event in session.scalars(
        select(ConversationEvent).where(ConversationEvent.conversation_id == conversation_id)
    ):
        stored["event", event.id] = event
    problems: list[str] = []
    previous = chain.genesis(conversation_id)
    linked: set[tuple[str, int]] = set()
    for expected_seq, link in enumerate(links, start=1):
        key = (link.entry_type, link.entry_id)
        linked.add(key)
        where = f"link {link.seq} ({link.entry_type} {link.entry_id})"
        if link.seq != expected_seq:
            problems.append(f"{where}: expected link {expected_seq}, a link is missing")
        entry = stored.get(key)
        if entry is None:
            problems.append(f"{where}: the {link.entry_type} was deleted")
        elif entry_digest(entry) != link.digest:
            problems.append(f"{where}: the {link.entry_type} was changed")
        previous = chain.link(previous, link.digest)
        if previous != link.chain:
            problems.append(f"{where}: the chain was rewritten")
            previous = link.chain  # report each break once, not every later link
    for key in sorted(stored.keys() - linked):
        problems.append(f"{key[0]} {key[1]} was added outside the app (not in the chain)")
    return ChainReport(conversation_id, len(stored), problems)


def verify_all(
    session: Session, conversation_ids: Iterable[str] | None = None
) -> Iterator[ChainReport]:
    """Every conversation's report, oldest first (or only the ones named)."""
    ids = (
        list(conversation_ids)
        if conversation_ids is not None
        else session.scalars(select(Conversation.id).order_by(Conversation.started_at)).all()
    )
    for conversation_id in ids:
        yield verify_conversation(session, conversation_id)
        session.expunge_all()  # keep memory flat over a large database
