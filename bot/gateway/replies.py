"""What goes out in answer to a message: the outbound rules (the contact decision, the
opt-out line on the first reply, SMS length) applied, and each reply stored, linked to the
message it answers, before anything is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.domain.contact import Channel, Decision, Kind, Purpose
from bot.gateway.outbound import compose
from bot.models import Conversation, Message
from bot.services.consent import ConsentState, conversation_decision, is_opted_out
from bot.wording import render

# Built once (asked every turn): no expression building or cache key per call.
_ANY_REPLY = (
    select(Message.id)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.direction == "out")
    .limit(1)
)


def reply_decision(
    session: Session,
    conversation: Conversation,
    purpose: Purpose,
    now: datetime,
    *,
    consent: ConsentState | None = None,
) -> Decision:
    """May we answer the message the debtor just sent (a reply, not initiated)?"""
    return conversation_decision(
        session, conversation, kind=Kind.REPLY, purpose=purpose, now=now, consent=consent
    )


def record_replies(
    session: Session,
    conversation: Conversation,
    reply_to_id: int,
    replies: list[str],
    now: datetime,
    *,
    queue: bool = False,
    purpose: Purpose = Purpose.GENERAL,
    decided: Decision | None = None,
) -> list[str]:
    """Apply the outbound rules and store what goes out, linked to the message it
    answers; the bodies to answer with now. `queue`: sent later by the outbox worker instead
    of in this response. `decided`: the contact decision already taken for this turn."""
    if not replies:
        return []
    first = session.scalar(_ANY_REPLY, {"conversation_id": conversation.id}) is None
    # Rule 5: the first reply says how to opt out, whatever its purpose (a safety reply
    # can be the first), unless it already does or the number just opted out.
    opt_out_line = (
        render("utter_opt_out_line")
        if first
        and conversation.channel == "sms"
        and not any("STOP" in reply for reply in replies)
        and not is_opted_out(session, conversation.address, Channel.SMS)
        else None
    )
    decision = decided or reply_decision(session, conversation, purpose, now)
    bodies = compose(replies, opt_out_line=opt_out_line)
    sent: list[str] = []
    for body in bodies:
        status = "queued" if queue else ("sent" if conversation.channel == "sms" else "delivered")
        if not decision.allowed:
            status = "blocked"
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="out",
                sender="bot",
                channel=conversation.channel,
                text=body,
                status=status,
                purpose=purpose.value,
                reply_to_id=reply_to_id,
                error=None if decision.allowed else f"contact rules: {decision.reason}",
                created_at=now,
                sent_at=now if status in ("sent", "delivered") else None,
                next_attempt_at=now if queue else None,
            )
        )
        if decision.allowed and not queue:
            sent.append(body)
    session.flush()
    return sent
