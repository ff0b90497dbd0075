"""Handoffs to a human agent: requested by the safety net, the assistant or a failure;
claimed, released back to the bot, or closed by an agent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import Conversation, Handoff
from bot.services.errors import Conflict
from bot.services.events import EventKind, record_event


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


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status != "closed")
        .order_by(Handoff.id.desc())
        .limit(1)
    )


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
        raise Conflict("this handoff was already claimed or closed")
    handoff = session.get(Handoff, handoff_id, populate_existing=True)
    assert handoff is not None
    record_event(
        session,
        EventKind.HANDOFF_CLAIMED,
        actor=f"agent:{agent_id}",
        conversation_id=handoff.conversation_id,
        data={"handoff_id": handoff.id},
        at=now,
    )
    return handoff
