"""Holds on collection: placed by disputes, validation requests, bankruptcy, attorney,
distress and deceased reports; released only by what ends them."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.domain.contact import HoldReason
from bot.models import Account, Hold
from bot.services.events import EventKind, record_event

_ACTIVE_HOLDS = (  # built once: the contact rules ask before every reply
    select(Hold)
    .where(Hold.account_id == bindparam("account_id"), Hold.released_at.is_(None))
    .order_by(Hold.id)
)


def active_holds(session: Session, account_id: int) -> list[Hold]:
    return list(session.scalars(_ACTIVE_HOLDS, {"account_id": account_id}))


def account_hold_reasons(session: Session, account_id: int) -> frozenset[HoldReason]:
    """Reasons that pause collection on the whole account (a hold on one charge does not)."""
    return frozenset(
        HoldReason(h.reason) for h in active_holds(session, account_id) if h.charge_id is None
    )


def disputed_charge_ids(session: Session, account_id: int) -> set[int]:
    return {h.charge_id for h in active_holds(session, account_id) if h.charge_id is not None}


def place_hold(
    session: Session,
    account: Account,
    reason: HoldReason,
    *,
    actor: str,
    charge_id: int | None = None,
    detail: str | None = None,
    dispute_id: int | None = None,
    validation_request_id: int | None = None,
    conversation_id: str | None = None,
) -> Hold:
    hold = Hold(
        account_id=account.id,
        reason=reason.value,
        charge_id=charge_id,
        detail=detail,
        dispute_id=dispute_id,
        validation_request_id=validation_request_id,
        created_by=actor,
    )
    session.add(hold)
    session.flush()
    record_event(
        session,
        EventKind.HOLD_PLACED,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={"hold_id": hold.id, "reason": reason.value, "charge_id": charge_id},
    )
    return hold


def release_hold(session: Session, hold: Hold, *, actor: str) -> Hold:
    if hold.released_at is None:
        hold.released_at = utcnow()
        hold.released_by = actor
        record_event(
            session,
            EventKind.HOLD_RELEASED,
            actor=actor,
            account_id=hold.account_id,
            data={"hold_id": hold.id, "reason": hold.reason},
        )
    return hold
