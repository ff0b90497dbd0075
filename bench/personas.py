"""The people of a benchmark: demo-like accounts, each with its own valid US phone, written
as a placement file for `accounts import`, and what each of them texts."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

DEMO_PLACEMENT = Path(__file__).resolve().parents[1] / "demo" / "placement.csv"
AREA_CODES = ("206", "312", "404", "212", "617", "415", "303", "512", "602", "503")
STATES = {
    "206": ("WA", "98103"), "312": ("IL", "60614"), "404": ("GA", "30307"),
    "212": ("NY", "10001"), "617": ("MA", "02139"), "415": ("CA", "94110"),
    "303": ("CO", "80205"), "512": ("TX", "78701"), "602": ("AZ", "85004"),
    "503": ("OR", "97205"),
}  # fmt: skip
PLACEMENT_HEADER = [
    "account_ref",
    "creditor",
    "first_name",
    "last_name",
    "phone",
    "email",
    "date_of_birth",
    "ssn_last4",
    "zip",
    "state",
    "principal",
    "interest",
    "fees",
    "delinquent_since",
    "last_payment_date",
]
FIRST = ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "June", "Kai", "Lee")
LAST = ("Reyes", "Stone", "Patel", "Kim", "Olsen", "Moreau", "Baker", "Silva", "Novak", "Ito")


@dataclass(frozen=True)
class Persona:
    account_ref: str
    phone: str
    dob: date
    zip: str
    balance: Decimal

    def script(self, rng: random.Random) -> list[str]:
        """A realistic SMS conversation: hello, date of birth, ZIP, then the debt."""
        dob = rng.choice(
            (f"{self.dob.month}/{self.dob.day}/{self.dob.year}",
             f"{self.dob.month}/{self.dob.day}/{self.dob.year % 100:02d}")
        )  # fmt: skip
        return [
            rng.choice(("hi", "hello", "Hi, I got a text from you")),
            dob,
            self.zip,
            rng.choice(("how much do i owe", "what is my balance", "how much do I owe?")),
            rng.choice(("why is it so much", "what is this charge for")),
            rng.choice(("can i do a payment plan", "can I pay in installments")),
        ]

    @property
    def balance_text(self) -> str:
        return f"${self.balance:,.2f}"


def demo_personas(path: Path = DEMO_PLACEMENT) -> list[Persona]:
    with path.open() as fh:
        return [_persona(row) for row in csv.DictReader(fh)]


def _persona(row: dict[str, str]) -> Persona:
    return Persona(
        account_ref=row["account_ref"],
        phone=row["phone"],
        dob=date.fromisoformat(row["date_of_birth"]),
        zip=row["zip"],
        balance=Decimal(row["principal"]) + Decimal(row["interest"]) + Decimal(row["fees"]),
    )


def write_placement(path: Path, count: int, *, seed: int = 7, prefix: str = "BEN") -> list[Persona]:
    """`count` demo-like accounts, each with its own valid US phone, for `accounts import`."""
    from bot.services.verification import normalize_phone

    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    n = 0
    while len(rows) < count:
        area = AREA_CODES[n % len(AREA_CODES)]
        phone = normalize_phone(f"+1{area}555{1000 + n // len(AREA_CODES):04d}")
        n += 1
        if phone is None:
            continue
        state, zip_code = STATES[area]
        principal = Decimal(rng.randrange(5000, 400000)) / 100
        dob = date(rng.randrange(1950, 2002), rng.randrange(1, 13), rng.randrange(1, 29))
        rows.append(
            {
                "account_ref": f"{prefix}-{len(rows) + 1:06d}",
                "creditor": "Evergreen Health",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "phone": phone,
                "email": "",
                "date_of_birth": dob.isoformat(),
                "ssn_last4": f"{rng.randrange(10000):04d}",
                "zip": zip_code,
                "state": state,
                "principal": f"{principal:.2f}",
                "interest": f"{Decimal(rng.randrange(0, 30000)) / 100:.2f}",
                "fees": f"{Decimal(rng.choice((0, 1500, 3500, 6500))) / 100:.2f}",
                "delinquent_since": "2026-02-01",
                "last_payment_date": "",
            }
        )
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=PLACEMENT_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return [_persona(row) for row in rows]
