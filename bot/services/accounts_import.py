"""Loading accounts placed by a creditor (placement CSV, optional charges CSV).

Idempotent on account_ref (re-importing updates, never duplicates) and all-or-nothing: every
row of both files is checked first; one bad row is reported with its line number and nothing
is written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.domain.balance import ChargeKind
from bot.domain.timezones import zones_for_phone, zones_for_state
from bot.models import Account, Charge
from bot.services.verification import normalize_phone

PLACEMENT_COLUMNS = (
    "account_ref", "creditor", "first_name", "last_name", "phone", "email", "date_of_birth",
    "ssn_last4", "zip", "state", "principal", "interest", "fees", "delinquent_since",
    "last_payment_date",
)  # fmt: skip
CHARGE_COLUMNS = ("account_ref", "posted_on", "description", "kind", "amount")
REQUIRED = {"account_ref", "creditor", "first_name", "last_name", "date_of_birth", "ssn_last4",
            "zip", "state", "principal", "interest", "fees", "delinquent_since"}  # fmt: skip

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_LAST4 = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


class ImportFailed(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    charges_added: int = 0
    charges_existing: int = 0
    warnings: list[str] = field(default_factory=list)


def _money(value: str, *, signed: bool) -> int:
    try:
        amount = Decimal(value.strip().replace(",", "").lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount in dollars and cents: {value!r}")
    if not signed and amount < 0:
        raise ValueError(f"negative amount: {value!r}")
    return int(amount * 100)


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


def _rows(
    stream: IO[str], name: str, columns: Iterable[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(stream)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ImportFailed([RowError(name, 1, f"missing columns: {', '.join(missing)}")])
    reader.fieldnames = header
    for row in reader:
        if None in row:  # more fields than the header
            yield reader.line_num, {"__error__": "more fields than the header has"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def _parse_placement(row: dict[str, str], today: date) -> dict[str, Any]:
    if "__error__" in row:
        raise ValueError(row["__error__"])
    empty = sorted(c for c in REQUIRED if not row.get(c))
    if empty:
        raise ValueError(f"required value missing: {', '.join(empty)}")
    ref = row["account_ref"]
    if not _REF.match(ref):
        raise ValueError(f"bad account_ref: {ref!r}")
    phone = None
    if row.get("phone"):
        phone = normalize_phone(row["phone"])
        if phone is None:
            raise ValueError(f"not a valid phone number: {row['phone']!r}")
    email = row.get("email") or None
    if email and "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    dob = _iso_date(row["date_of_birth"])
    if dob >= today:
        raise ValueError(f"date_of_birth in the future: {row['date_of_birth']!r}")
    if not _LAST4.match(row["ssn_last4"]):
        raise ValueError(f"ssn_last4 must be 4 digits: {row['ssn_last4']!r}")
    if not _ZIP.match(row["zip"]):
        raise ValueError(f"bad ZIP code: {row['zip']!r}")
    state = row["state"].upper()
    address_zones = zones_for_state(state)  # ValueError for an unknown state
    last_payment = _iso_date(row["last_payment_date"]) if row.get("last_payment_date") else None
    return {
        "account_ref": ref.upper(),
        "creditor": row["creditor"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone": phone,
        "email": email,
        "date_of_birth": dob,
        "ssn_last4": row["ssn_last4"],
        "zip": row["zip"],
        "state": state,
        "principal_cents": _money(row["principal"], signed=False),
        "interest_cents": _money(row["interest"], signed=False),
        "fees_cents": _money(row["fees"], signed=False),
        "delinquent_since": _iso_date(row["delinquent_since"]),
        "last_payment_date": last_payment,
        "address_zones": " ".join(address_zones),
        "phone_zones": " ".join(zones_for_phone(phone)) if phone else "",
    }


def _parse_charge(row: dict[str, str]) -> dict[str, Any]:
    if "__error__" in row:
        raise ValueError(row["__error__"])
    empty = sorted(c for c in CHARGE_COLUMNS if not row.get(c))
    if empty:
        raise ValueError(f"required value missing: {', '.join(empty)}")
    try:
        kind = ChargeKind(row["kind"].lower())
    except ValueError:
        allowed = ", ".join(k.value for k in ChargeKind)
        raise ValueError(f"kind must be one of {allowed}: {row['kind']!r}") from None
    return {
        "account_ref": row["account_ref"].upper(),
        "posted_on": _iso_date(row["posted_on"]),
        "description": row["description"][:300],
        "kind": kind.value,
        "amount_cents": _money(row["amount"], signed=True),
    }


def import_accounts(
    session: Session,
    placement: IO[str],
    charges: IO[str] | None = None,
    *,
    placement_name: str = "placement",
    charges_name: str = "charges",
    today: date,
) -> ImportReport:
    """Validate both files completely, then upsert. Raises ImportFailed listing every bad row."""
    errors: list[RowError] = []
    accounts: dict[str, dict[str, Any]] = {}
    for line, row in _rows(placement, placement_name, PLACEMENT_COLUMNS):
        try:
            parsed = _parse_placement(row, today)
        except ValueError as exc:
            errors.append(RowError(placement_name, line, str(exc)))
            continue
        if parsed["account_ref"] in accounts:
            errors.append(
                RowError(placement_name, line, f"duplicate account_ref {parsed['account_ref']}")
            )
            continue
        accounts[parsed["account_ref"]] = parsed

    charge_rows: list[dict[str, Any]] = []
    if charges is not None:
        known = set(accounts) | set(session.scalars(select(Account.account_ref)))
        for line, row in _rows(charges, charges_name, CHARGE_COLUMNS):
            try:
                parsed_charge = _parse_charge(row)
            except ValueError as exc:
                errors.append(RowError(charges_name, line, str(exc)))
                continue
            if parsed_charge["account_ref"] not in known:
                errors.append(
                    RowError(
                        charges_name, line, f"unknown account_ref {parsed_charge['account_ref']}"
                    )
                )
                continue
            charge_rows.append(parsed_charge)
    if errors:
        raise ImportFailed(errors)

    report = ImportReport()
    existing = {
        a.account_ref: a
        for a in session.scalars(select(Account).where(Account.account_ref.in_(list(accounts))))
    }
    now = utcnow()
    for ref, values in accounts.items():
        account = existing.get(ref)
        if account is None:
            session.add(Account(**values, placed_at=now, last_activity_at=now))
            report.created += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(account, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(account, key, value)
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()

    if charge_rows:
        ids = {ref: id_ for ref, id_ in session.execute(select(Account.account_ref, Account.id))}
        seen: set[tuple[Any, ...]] = set()
        for values in charge_rows:
            account_id = ids[values.pop("account_ref")]
            natural_key = (
                account_id,
                values["posted_on"],
                values["kind"],
                values["amount_cents"],
                values["description"],
            )
            if natural_key in seen or session.scalar(
                select(Charge.id).where(
                    Charge.account_id == account_id,
                    Charge.posted_on == values["posted_on"],
                    Charge.kind == values["kind"],
                    Charge.amount_cents == values["amount_cents"],
                    Charge.description == values["description"],
                )
            ):
                report.charges_existing += 1
                continue
            seen.add(natural_key)
            session.add(Charge(account_id=account_id, **values))
            report.charges_added += 1
        session.flush()
    return report
