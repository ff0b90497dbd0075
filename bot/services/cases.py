"""Disputes, validation requests, hardship, and the escalations that pause collection.

A dispute or validation request typed in chat counts as written (compliance 14): it gets a
reference number and puts the account (or the one charge) on hold until verification is
recorded as sent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bot.domain.contact import HoldReason
from bot.domain.references import new_reference
from bot.models import Account, Charge, Dispute, HardshipRecord, Hold, ValidationRequest
from bot.services.errors import NotFound
from bot.services.events import EventKind, record_event
from bot.services.holds import place_hold, release_hold

#: Business days within which the debtor hears back (shown to them with the reference).
RESPONSE_BUSINESS_DAYS = 30


class DisputeReason(StrEnum):
    NOT_MINE = "not_mine"
    ALREADY_PAID = "already_paid"
    WRONG_AMOUNT = "wrong_amount"
    IDENTITY_THEFT = "identity_theft"
    OTHER = "other"


class ValidationKind(StrEnum):
    VALIDATION = "validation"
    ORIGINAL_CREDITOR = "original_creditor"


class HardshipCategory(StrEnum):
    JOB_LOSS = "job_loss"
    ILLNESS = "illness"
    DIVORCE = "divorce"
    BEREAVEMENT = "bereavement"
    DISASTER = "disaster"
    REDUCED_INCOME = "reduced_income"
    OTHER = "other"


def _unique_reference(
    session: Session, model: type[Dispute] | type[ValidationRequest], prefix: str
) -> str:
    for _ in range(10):
        ref = new_reference(prefix)
        if session.scalar(select(model.id).where(model.reference == ref)) is None:
            return ref
    raise RuntimeError("could not draw a unique reference")  # 31^6 space: practically never


def open_dispute(
    session: Session,
    account: Account,
    reason: DisputeReason,
    *,
    actor: str,
    now: datetime,
    charge_id: int | None = None,
    detail: str | None = None,
    conversation_id: str | None = None,
) -> Dispute:
    if charge_id is not None:
        charge = session.get(Charge, charge_id)
        if charge is None or charge.account_id != account.id:
            raise NotFound("no such charge on this account")
    already = session.scalar(
        select(Dispute).where(
            Dispute.account_id == account.id,
            Dispute.charge_id.is_(None) if charge_id is None else Dispute.charge_id == charge_id,
            Dispute.status == "open",
        )
    )
    if already is not None:  # the same dispute again: one record, one reference
        return already
    dispute = Dispute(
        reference=_unique_reference(session, Dispute, "D"),
        account_id=account.id,
        charge_id=charge_id,
        conversation_id=conversation_id,
        reason=reason.value,
        detail=detail,
        created_by=actor,
        created_at=now,
    )
    session.add(dispute)
    session.flush()
    account.last_activity_at = now
    place_hold(
        session,
        account,
        HoldReason.DISPUTE,
        actor=actor,
        charge_id=charge_id,
        dispute_id=dispute.id,
        conversation_id=conversation_id,
    )
    record_event(
        session,
        EventKind.DISPUTE,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={
            "dispute_id": dispute.id,
            "reference": dispute.reference,
            "reason": reason.value,
            "charge_id": charge_id,
        },
        at=now,
    )
    return dispute


def request_validation(
    session: Session,
    account: Account,
    kind: ValidationKind,
    *,
    actor: str,
    now: datetime,
    conversation_id: str | None = None,
) -> ValidationRequest:
    request = ValidationRequest(
        reference=_unique_reference(session, ValidationRequest, "V"),
        account_id=account.id,
        conversation_id=conversation_id,
        kind=kind.value,
        created_by=actor,
        created_at=now,
    )
    session.add(request)
    session.flush()
    account.last_activity_at = now
    place_hold(
        session,
        account,
        HoldReason.VALIDATION,
        actor=actor,
        validation_request_id=request.id,
        conversation_id=conversation_id,
    )
    record_event(
        session,
        EventKind.VALIDATION_REQUEST,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={"request_id": request.id, "reference": request.reference, "kind": kind.value},
        at=now,
    )
    return request


def record_verification_sent(
    session: Session, dispute: Dispute, *, actor: str, now: datetime
) -> Dispute:
    """Verification of the debt was mailed: the dispute's hold ends (1006.38(d)(2))."""
    dispute.status = "verification_sent"
    dispute.verification_sent_at = now
    _release_holds(session, Hold.dispute_id == dispute.id, actor=actor)
    return dispute


def record_validation_sent(
    session: Session, request: ValidationRequest, *, actor: str, now: datetime
) -> ValidationRequest:
    request.status = "sent"
    request.sent_at = now
    _release_holds(session, Hold.validation_request_id == request.id, actor=actor)
    return request


def _release_holds(session: Session, which: ColumnElement[bool], *, actor: str) -> None:
    for hold in session.scalars(select(Hold).where(which, Hold.released_at.is_(None))):
        release_hold(session, hold, actor=actor)
    session.flush()


def record_hardship(
    session: Session,
    account: Account,
    category: HardshipCategory,
    *,
    actor: str,
    now: datetime,
    temporary: bool | None = None,
    affordable_monthly_cents: int | None = None,
    note: str | None = None,
    conversation_id: str | None = None,
) -> HardshipRecord:
    """A hardship, recorded as soon as it is told: the plans offered from then on use the
    hardship limits, even when the debtor moves on before answering the questions about it."""
    record = HardshipRecord(
        account_id=account.id,
        conversation_id=conversation_id,
        category=category.value,
        temporary=temporary,
        affordable_monthly_cents=affordable_monthly_cents,
        note=note,
        created_by=actor,
        created_at=now,
    )
    session.add(record)
    account.last_activity_at = now
    session.flush()
    _hardship_event(session, record, actor=actor, now=now)
    return record


def answer_hardship(
    session: Session,
    account: Account,
    category: HardshipCategory,
    *,
    actor: str,
    now: datetime,
    conversation_id: str,
    temporary: bool | None,
    affordable_monthly_cents: int | None,
) -> HardshipRecord:
    """The answers to the questions about a hardship, on the record this conversation made of
    it when it was told (`record_hardship`); a new record when there is none. The trail keeps
    both: the hardship as told, then its answers (an event of its own, marked "answers")."""
    record = session.scalar(
        select(HardshipRecord)
        .where(
            HardshipRecord.account_id == account.id,
            HardshipRecord.conversation_id == conversation_id,
            HardshipRecord.created_by == actor,
        )
        .order_by(HardshipRecord.id.desc())
        .limit(1)
    )
    if record is None:
        return record_hardship(
            session, account, category, actor=actor, now=now, temporary=temporary,
            affordable_monthly_cents=affordable_monthly_cents, conversation_id=conversation_id,
        )  # fmt: skip
    record.category = category.value
    record.temporary = temporary
    record.affordable_monthly_cents = affordable_monthly_cents
    account.last_activity_at = now
    session.flush()
    _hardship_event(session, record, actor=actor, now=now, answers=True)
    return record


def _hardship_event(
    session: Session, record: HardshipRecord, *, actor: str, now: datetime, answers: bool = False
) -> None:
    data: dict[str, object] = {
        "hardship_id": record.id,
        "category": record.category,
        "temporary": record.temporary,
        "affordable_monthly_cents": record.affordable_monthly_cents,
    }
    if answers:
        data["answers"] = True
    record_event(
        session,
        EventKind.HARDSHIP,
        actor=actor,
        conversation_id=record.conversation_id,
        account_id=record.account_id,
        data=data,
        at=now,
    )


def hold_for_escalation(
    session: Session,
    account: Account,
    reason: HoldReason,
    *,
    actor: str,
    detail: str | None = None,
    conversation_id: str | None = None,
) -> Hold:
    """Bankruptcy, attorney, distress, deceased: pause collection on the account (rules 15-16).
    Idempotent: an active hold for the same reason is returned, with the detail added."""
    existing = session.scalar(
        select(Hold).where(
            Hold.account_id == account.id,
            Hold.reason == reason.value,
            Hold.charge_id.is_(None),
            Hold.released_at.is_(None),
        )
    )
    if existing is not None:
        if detail and detail not in (existing.detail or ""):
            existing.detail = f"{existing.detail}\n{detail}" if existing.detail else detail
        return existing
    return place_hold(
        session, account, reason, actor=actor, detail=detail, conversation_id=conversation_id
    )
