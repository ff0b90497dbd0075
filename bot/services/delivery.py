"""Delivery status of outbound messages, updated monotonically (compliance rule 23): a late
"sent" never overwrites "delivered"."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Message

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
