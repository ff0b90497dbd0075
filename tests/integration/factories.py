"""Small factories the integration tests share (tests/conftest.py has accounts and
conversations)."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.models import Account, Charge, Payment, StaffUser
from bot.services.users import Role, create_user

DEMO_PLACEMENT = ROOT / "demo" / "placement.csv"
DEMO_CHARGES = ROOT / "demo" / "charges.csv"
STAFF_PASSWORD = "correct-horse-battery"


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_staff_user(
    session: Session, email: str = "agent@example.test", role: Role = Role.AGENT
) -> StaffUser:
    return create_user(session, email, role, STAFF_PASSWORD)


# The charges history of the demo account ACC-100234 (demo/charges.csv): it sums to the
# placement amounts of make_account() (principal 1,200.00, interest 104.37, fees 65.00).
DEMO_HISTORY = (
    (date(2025, 12, 10), "Emergency room visit", "principal", 85000),
    (date(2025, 12, 10), "Lab work", "principal", 35000),
    (date(2026, 3, 1), "Interest", "interest", 5210),
    (date(2026, 6, 1), "Interest", "interest", 5227),
    (date(2026, 2, 15), "Late fee", "fee", 4000),
    (date(2026, 4, 15), "Statement fee", "fee", 2500),
)
DEMO_TOTAL_CENTS = 136937


def make_charges(
    session: Session,
    account: Account,
    history: Iterable[tuple[date, str, str, int]] = DEMO_HISTORY,
) -> list[Charge]:
    charges = [
        Charge(
            account_id=account.id,
            posted_on=posted_on,
            description=description,
            kind=kind,
            amount_cents=cents,
        )
        for posted_on, description, kind, cents in history
    ]
    session.add_all(charges)
    session.flush()
    return charges


def make_payment(
    session: Session, account: Account, cents: int, paid_on: date, reference: str | None = None
) -> Payment:
    payment = Payment(
        account_id=account.id,
        amount_cents=cents,
        paid_on=paid_on,
        method="card",
        reference=reference or f"pay_{uuid.uuid4().hex[:12]}",
    )
    session.add(payment)
    session.flush()
    return payment
