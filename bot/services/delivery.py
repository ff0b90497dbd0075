"""Delivery status of outbound messages, updated monotonically (compliance rule 23): a late
"sent" never overwrites "delivered". In the web chat a message is delivered when the
browser fetches it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Message
from bot.services.conversations import messages_after

# Twilio's statuses by how far along they are; a final one is never replaced.
RANK = {
    "queued": 1, "accepted": 1, "scheduled": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "read": 5,
}  # fmt: skip


def update_status(
    session: Session, provider_sid: str, status: str, *, error: str | None = None
) -> bool:
    """Apply a status callback. True when it moved the message forward. One guarded UPDATE,
    so callbacks arriving together or out of order cannot move a status backwards."""
    if status not in RANK:
        return False
    behind = [s for s, rank in RANK.items() if rank < RANK[status]]
    values: dict[str, object] = {"status": status, "status_updated_at": utcnow()}
    if error:
        values["error"] = f"twilio error {error}"[:200]
    result = session.execute(
        update(Message)
        .where(Message.provider_sid == provider_sid, Message.status.in_(behind))
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


#: Outbound messages the debtor never sees (contact rules stopped them, or sending failed).
HIDDEN_FROM_CHAT = ("blocked", "failed", "undelivered", "canceled")


def web_chat_messages(
    session: Session, conversation_id: str, *, after: int, limit: int, now: datetime
) -> list[Message]:
    """What the web chat shows of a conversation after the message id `after`, oldest first.
    Outbound web messages still queued (late bot replies, agent replies) are delivered by
    being returned here: each is marked delivered at `now`."""
    rows = session.scalars(
        messages_after(conversation_id, after)
        .where(~((Message.direction == "out") & Message.status.in_(HIDDEN_FROM_CHAT)))
        .limit(limit)
    ).all()
    for message in rows:
        if message.direction == "out" and message.channel == "web" and message.status == "queued":
            message.status, message.sent_at, message.status_updated_at = "delivered", now, now
    return list(rows)
