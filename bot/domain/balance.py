"""The balance of an account and why it is what it is. Pure arithmetic on integer cents."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ChargeKind(StrEnum):
    PRINCIPAL = "principal"
    INTEREST = "interest"
    FEE = "fee"
    PAYMENT = "payment"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True)
class ChargeLine:
    charge_id: int | None
    posted_on: date
    description: str
    kind: ChargeKind
    amount_cents: int  # as the creditor sent it; payments are positive amounts that reduce


@dataclass(frozen=True)
class Itemization:
    principal_cents: int
    interest_cents: int
    fees_cents: int
    payments_cents: int  # paid so far (positive)
    adjustments_cents: int  # signed
    disputed_cents: int  # part of the balance on hold by a dispute of one charge
    charges: tuple[ChargeLine, ...]
    as_of: date

    @property
    def total_cents(self) -> int:
        return (
            self.principal_cents
            + self.interest_cents
            + self.fees_cents
            - self.payments_cents
            + self.adjustments_cents
        )

    @property
    def collectible_cents(self) -> int:
        """What may be asked for now: the total less charges under dispute."""
        return max(self.total_cents - self.disputed_cents, 0)

    def part_cents(self, kind: ChargeKind) -> int:
        """What one kind of line adds up to (payments: what was paid, positive)."""
        return {
            ChargeKind.PRINCIPAL: self.principal_cents,
            ChargeKind.INTEREST: self.interest_cents,
            ChargeKind.FEE: self.fees_cents,
            ChargeKind.PAYMENT: self.payments_cents,
            ChargeKind.ADJUSTMENT: self.adjustments_cents,
        }[kind]


_ASKED = (
    (ChargeKind.INTEREST, re.compile(r"\binterest\b", re.I)),
    (ChargeKind.FEE, re.compile(r"\bfees?\b", re.I)),
    (ChargeKind.PAYMENT, re.compile(r"\bpayments?\b", re.I)),
    (ChargeKind.PRINCIPAL, re.compile(r"\bprincipal\b", re.I)),
)


def asked_about(text: str) -> ChargeKind | None:
    """The one kind of charge a question is about ("what is this interest charge?"), or None
    for the whole balance (no kind named, or several: "interest vs principal")."""
    kinds = {kind for kind, pattern in _ASKED if pattern.search(text)}
    return kinds.pop() if len(kinds) == 1 else None


def signed_amount(line: ChargeLine) -> int:
    """The line's effect on the balance."""
    if line.kind is ChargeKind.PAYMENT:
        return -abs(line.amount_cents)
    return line.amount_cents


def itemize(
    *,
    placed_principal_cents: int,
    placed_interest_cents: int,
    placed_fees_cents: int,
    charges: Sequence[ChargeLine],
    payments_received_cents: Iterable[int],
    disputed_charge_ids: Iterable[int] = (),
    as_of: date,
) -> Itemization:
    """Itemize an account.

    When the creditor sent a charges history, the parts come from it (principal, interest and
    fee lines, payment lines, adjustments); otherwise from the amounts on the placement.
    Payments received after placement (through us) always reduce the balance.
    """
    received = sum(payments_received_cents)
    disputed_ids = set(disputed_charge_ids)
    disputed = sum(
        max(signed_amount(c), 0)
        for c in charges
        if c.charge_id is not None and c.charge_id in disputed_ids
    )
    if charges:
        by_kind = {kind: 0 for kind in ChargeKind}
        for line in charges:
            by_kind[line.kind] += (
                abs(line.amount_cents) if line.kind is ChargeKind.PAYMENT else line.amount_cents
            )
        return Itemization(
            principal_cents=by_kind[ChargeKind.PRINCIPAL],
            interest_cents=by_kind[ChargeKind.INTEREST],
            fees_cents=by_kind[ChargeKind.FEE],
            payments_cents=by_kind[ChargeKind.PAYMENT] + received,
            adjustments_cents=by_kind[ChargeKind.ADJUSTMENT],
            disputed_cents=disputed,
            charges=tuple(charges),
            as_of=as_of,
        )
    return Itemization(
        principal_cents=placed_principal_cents,
        interest_cents=placed_interest_cents,
        fees_cents=placed_fees_cents,
        payments_cents=received,
        adjustments_cents=0,
        disputed_cents=0,
        charges=(),
        as_of=as_of,
    )
