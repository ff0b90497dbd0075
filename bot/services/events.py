"""Conversation events: the one place they are written."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import ConversationEvent


class EventKind(StrEnum):
    VERIFICATION_PASSED = "verification_passed"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_LOCKED = "verification_locked"
    PLAN_OFFERED = "plan_offered"
    PLAN_ACCEPTED = "plan_accepted"
    PROMISE = "promise"
    PAYMENT_RESCHEDULED = "payment_rescheduled"
    PAYMENT_MISSED = "payment_missed"  # an installment or promise not paid (outreach)
    DISPUTE = "dispute"
    VALIDATION_REQUEST = "validation_request"
    HOLD_PLACED = "hold_placed"
    HOLD_RELEASED = "hold_released"
    HARDSHIP = "hardship"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CEASE = "cease"
    WRONG_NUMBER = "wrong_number"
    PREFERENCE = "preference"
    COMPLAINT = "complaint"
    HANDOFF_REQUESTED = "handoff_requested"
    HANDOFF_CLAIMED = "handoff_claimed"
    HANDOFF_RELEASED = "handoff_released"
    HANDOFF_CLOSED = "handoff_closed"
    AGENT_NOTE = "agent_note"
    PAYMENT_LINK = "payment_link"
    SURVEY_ANSWERED = "survey_answered"


def record_event(
    session: Session,
    kind: EventKind,
    *,
    actor: str,
    conversation_id: str | None = None,
    account_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ConversationEvent:
    event = ConversationEvent(
        kind=kind.value,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account_id,
        data=data or {},
        created_at=at or utcnow(),
    )
    session.add(event)
    session.flush()
    return event
