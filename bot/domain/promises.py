"""What a promise to pay says, read from the debtor's words: "I can pay 100 now and the rest
on the 15th" is two payments, the second of whatever the first leaves.

Read, not judged: whether the dates and amounts fit the creditor's policy is the service's
call (`bot.services.plans`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.domain.dates import parse_when
from bot.domain.money import parse_amount

# "the rest", "the remainder", "the remaining balance", "what's left", "everything else"
_REST = re.compile(
    r"\b(?:the\s+)?(?:rest|remainder|remaining(?:\s+balance)?|what'?s\s+left|"
    r"everything\s+else)\b",
    re.IGNORECASE,
)


_HALF = re.compile(r"\bhalf\b", re.IGNORECASE)


@dataclass(frozen=True)
class PromiseWords:
    amount_cents: int | None  # None: not said
    due_on: date | None  # None: not said
    rest_on: date | None  # "and the rest on the 15th"; None: nothing said about the rest
    half: bool = False  # "half now and the rest on the 20th": the first payment is half

    def first_cents(self, balance_cents: int) -> int | None:
        """The first payment: the amount said, or half the balance (rounded up), or None."""
        if self.amount_cents is not None or not self.half:
            return self.amount_cents
        return -(-balance_cents // 2)


def parse_promise(text: str, today: date) -> PromiseWords:
    """The amount and date of a promise, and the date for the rest of the balance when the
    debtor gives one after a first amount or date ("100 now and the rest on the 15th"). The
    first payment is read from the words before "the rest", so its date is not the rest's."""
    text = text.replace("\u2019", "'")
    if m := _REST.search(text):
        first, rest = text[: m.start()], text[m.end() :]
        rest_on = parse_when(rest, today)
        amount, due_on = parse_amount(first), parse_when(first, today)
        half = amount is None and bool(_HALF.search(first))
        if rest_on is not None and (amount is not None or due_on is not None or half):
            return PromiseWords(amount, due_on, rest_on, half)
    return PromiseWords(parse_amount(text), parse_when(text, today), None)
