"""Identity verification: two of date of birth, last 4 of SSN and ZIP (compliance rules 2-3).

Pure: parsing what people type, and matching it against the account. The service layer keeps
the attempt count and the lock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.domain.dates import parse_dob

MAX_ATTEMPTS = 3
REQUIRED_MATCHES = 2
#: A verification lasts this long; after a silence the person verifies again.
VERIFIED_FOR = timedelta(hours=4)

_ZIP = re.compile(r"(?<![\d-])(\d{5})(?:[-\s]?\d{4})?(?![\d-])")
# "6789", "ends in 6789", "xxx-xx-6789", "***-**-6789" (a redacted full SSN keeps its last 4).
_MASKED_SSN = re.compile(r"[*xX#]{3}[-\s]?[*xX#]{2}[-\s]?(\d{4})\b")
_FOUR = re.compile(r"(?<![\d/.-])(\d{4})(?![\d/-]|\.\d)")


class Factor(StrEnum):
    DOB = "dob"
    SSN_LAST4 = "ssn_last4"
    ZIP = "zip"


@dataclass(frozen=True)
class Identity:
    """What the account holds."""

    date_of_birth: date
    ssn_last4: str
    zip: str

    @property
    def zip5(self) -> str:
        return self.zip[:5]


@dataclass(frozen=True)
class Answers:
    """What the person gave; None for a factor not given (or not understood)."""

    date_of_birth: date | None = None
    ssn_last4: str | None = None
    zip: str | None = None

    def given(self) -> tuple[Factor, ...]:
        pairs = (
            (Factor.DOB, self.date_of_birth),
            (Factor.SSN_LAST4, self.ssn_last4),
            (Factor.ZIP, self.zip),
        )
        return tuple(f for f, v in pairs if v is not None)


class Outcome(StrEnum):
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    INCOMPLETE = "incomplete"  # fewer than two factors given


def parse_ssn_last4(text: str) -> str | None:
    """The last four of an SSN as typed: "6789", "it ends in 6789", or a masked full SSN."""
    if m := _MASKED_SSN.search(text):
        return m.group(1)
    candidates = _FOUR.findall(text)
    return candidates[0] if len(candidates) == 1 else None


def parse_zip(text: str) -> str | None:
    """A US ZIP code, 5 digits or ZIP+4; returns the 5-digit part."""
    found = _ZIP.findall(text)
    return found[0] if len(found) == 1 else None


def parse_factor(factor: Factor, text: str, today: date) -> date | str | None:
    if factor is Factor.DOB:
        return parse_dob(text, today)
    if factor is Factor.SSN_LAST4:
        return parse_ssn_last4(text)
    return parse_zip(text)


def check(identity: Identity, answers: Answers) -> Outcome:
    """Verified when at least two given factors match the account."""
    if len(answers.given()) < REQUIRED_MATCHES:
        return Outcome.INCOMPLETE
    matches = sum(
        (
            answers.date_of_birth is not None and answers.date_of_birth == identity.date_of_birth,
            answers.ssn_last4 is not None and answers.ssn_last4 == identity.ssn_last4,
            answers.zip is not None and answers.zip[:5] == identity.zip5,
        )
    )
    return Outcome.VERIFIED if matches >= REQUIRED_MATCHES else Outcome.MISMATCH


def is_current(verified_at: datetime | None, now: datetime) -> bool:
    """Verified, and recently enough to still count (a phone can change hands)."""
    return verified_at is not None and now - verified_at < VERIFIED_FOR
