"""Verifying the person in a conversation against an account (compliance rules 1-3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.verification import MAX_ATTEMPTS, Answers, Identity, Outcome, check
from bot.models import Account, Conversation
from bot.services.errors import NotFound, VerificationLocked
from bot.services.events import EventKind, record_event


@dataclass(frozen=True)
class VerificationResult:
    outcome: Outcome
    attempts_left: int
    locked: bool


def identity_of(account: Account) -> Identity:
    return Identity(
        date_of_birth=account.date_of_birth, ssn_last4=account.ssn_last4, zip=account.zip
    )


@lru_cache(maxsize=4096)  # every SMS asks twice (its rate-limit key, its sender): parse once
def normalize_phone(text: str, region: str = "US") -> str | None:
    """E.164 form of a phone number as typed, or None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_account(session: Session, reference_or_phone: str) -> Account | None:
    """The account a person names by its reference ("ACC-100234") or its phone number.

    A phone shared by several accounts finds none: the person must give the reference.
    """
    text = reference_or_phone.strip()
    ref = text.upper().replace(" ", "")
    candidates = [ref]
    if ref.startswith("ACC") and not ref.startswith("ACC-"):  # "acc100234" for "ACC-100234"
        candidates.append("ACC-" + ref[3:].lstrip("-"))
    for candidate in candidates:
        account = session.scalar(
            select(Account).where(func.upper(Account.account_ref) == candidate)
        )
        if account is not None:
            return account
    phone = normalize_phone(text)
    if phone is None:
        return None
    matches = list(session.scalars(select(Account).where(Account.phone == phone).limit(2)))
    return matches[0] if len(matches) == 1 else None


def attempt(
    session: Session, conversation: Conversation, answers: Answers, *, now: datetime
) -> VerificationResult:
    """One verification attempt. Three mismatches lock verification for the conversation."""
    if conversation.verification_locked:
        raise VerificationLocked("verification is locked for this conversation")
    if conversation.account_id is None:
        raise NotFound("no account linked to this conversation")
    account = session.get(Account, conversation.account_id)
    if account is None:
        raise NotFound("account not found")
    outcome = check(identity_of(account), answers)
    given = [f.value for f in answers.given()]
    if outcome is Outcome.VERIFIED:
        conversation.verified_at = now
        account.last_activity_at = now
        record_event(
            session,
            EventKind.VERIFICATION_PASSED,
            actor="debtor",
            conversation_id=conversation.id,
            account_id=account.id,
            data={"factors": given},
            at=now,
        )
    elif outcome is Outcome.MISMATCH:
        conversation.verification_failures += 1
        record_event(
            session,
            EventKind.VERIFICATION_FAILED,
            actor="debtor",
            conversation_id=conversation.id,
            account_id=account.id,
            data={"factors": given, "attempt": conversation.verification_failures},
            at=now,
        )
        if conversation.verification_failures >= MAX_ATTEMPTS:
            conversation.verification_locked = True
            record_event(
                session,
                EventKind.VERIFICATION_LOCKED,
                actor="system",
                conversation_id=conversation.id,
                account_id=account.id,
                data={"flag": "identity_failed"},
                at=now,
            )
    session.flush()
    return VerificationResult(
        outcome=outcome,
        attempts_left=max(MAX_ATTEMPTS - conversation.verification_failures, 0),
        locked=conversation.verification_locked,
    )
