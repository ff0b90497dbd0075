"""Every message and event stored in a conversation is linked into its hash chain in the same
flush that stores it, whichever code path wrote it (gateway, actions, agent console, outbox).

Appends to one conversation are serialized by locking its row (PostgreSQL ``FOR NO KEY UPDATE``;
SQLite already serializes writers), so two processes never claim the same link.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.orm import Session, UOWTransaction

from bot.db import utcnow
from bot.domain import chain
from bot.models.conversations import Conversation, ConversationEvent, Message
from bot.models.review import TranscriptLink

Entry = Message | ConversationEvent

# Built once (every stored message runs them): no expression building or cache key per call.
_LOCK_CONVERSATION = (
    select(Conversation.id)
    .where(Conversation.id == bindparam("conversation_id"))
    # NO KEY UPDATE: compatible with the KEY SHARE lock the row's inserts just took through
    # their foreign key, so two writers queue here instead of deadlocking.
    .with_for_update(key_share=True)
)
_LAST_LINK = (
    select(TranscriptLink.seq, TranscriptLink.chain)
    .where(TranscriptLink.conversation_id == bindparam("conversation_id"))
    .order_by(TranscriptLink.seq.desc())
    .limit(1)
)


def entry_type(entry: Entry) -> str:
    return "message" if isinstance(entry, Message) else "event"


def entry_fields(entry: Entry) -> dict[str, Any]:
    """The content that the chain protects (never the delivery bookkeeping)."""
    if isinstance(entry, Message):
        fields = {name: getattr(entry, name, None) for name in chain.MESSAGE_FIELDS}
        fields["provider_sid_in"] = entry.provider_sid if entry.direction == "in" else None
        return fields
    return {name: getattr(entry, name) for name in chain.EVENT_FIELDS}


def entry_digest(entry: Entry) -> str:
    return chain.digest(entry_type(entry), entry_fields(entry))


@event.listens_for(Session, "after_flush")
def _link_new_entries(session: Session, _flush: UOWTransaction) -> None:
    by_conversation: dict[str, list[Entry]] = defaultdict(list)
    for obj in session.new:
        if isinstance(obj, Message | ConversationEvent) and obj.conversation_id:
            by_conversation[obj.conversation_id].append(obj)
    if not by_conversation:
        return
    connection = session.connection()
    # SQLite: this flush's inserts already hold the database's one write lock
    serialize_by_row_lock = connection.dialect.name != "sqlite"
    now = utcnow()
    for conversation_id in sorted(by_conversation):
        entries = sorted(
            by_conversation[conversation_id],
            key=lambda e: (e.created_at, entry_type(e) == "event", e.id),
        )
        params = {"conversation_id": conversation_id}
        if serialize_by_row_lock:
            connection.execute(_LOCK_CONVERSATION, params)
        last = connection.execute(_LAST_LINK, params).first()
        seq, previous = (last.seq, last.chain) if last else (0, chain.genesis(conversation_id))
        rows = []
        for entry in entries:
            seq += 1
            digest = entry_digest(entry)
            previous = chain.link(previous, digest)
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "seq": seq,
                    "entry_type": entry_type(entry),
                    "entry_id": entry.id,
                    "digest": digest,
                    "chain": previous,
                    "created_at": now,
                }
            )
        connection.execute(insert(TranscriptLink), rows)
