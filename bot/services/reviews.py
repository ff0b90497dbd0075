"""Reviewers' verdicts on conversations: fine, coaching or breach, with a note. Each verdict is
a new row (the latest counts) and an audit entry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from bot.domain.redaction import redact
from bot.models import Conversation, ConversationReview, StaffUser
from bot.services.audit import audit
from bot.services.errors import NotFound, ServiceError

MAX_NOTE = 2000


class ReviewOutcome(StrEnum):
    FINE = "fine"
    COACHING = "coaching"
    BREACH = "breach"


class BadReview(ServiceError):
    code = "bad_review"


def record_review(
    session: Session,
    conversation_id: str,
    reviewer: StaffUser,
    outcome: str,
    note: str,
    *,
    now: datetime,
    ip: str | None = None,
) -> ConversationReview:
    if session.get(Conversation, conversation_id) is None:
        raise NotFound("no such conversation")
    try:
        verdict = ReviewOutcome(outcome)
    except ValueError:
        raise BadReview("outcome must be fine, coaching or breach") from None
    note = redact(note.strip()).text
    if len(note) > MAX_NOTE:
        raise BadReview(f"the note is longer than {MAX_NOTE} characters")
    if verdict is not ReviewOutcome.FINE and not note:
        raise BadReview("say what needs coaching or what the breach is in the note")
    review = ConversationReview(
        conversation_id=conversation_id,
        reviewer_id=reviewer.id,
        reviewer=reviewer.email,
        outcome=verdict.value,
        note=note,
        created_at=now,
    )
    session.add(review)
    session.flush()
    audit(
        session,
        "transcript.review",
        user=reviewer,
        target_type="conversation",
        target_id=conversation_id,
        ip=ip,
        detail={"outcome": verdict.value, "note": note, "review_id": review.id},
    )
    return review
