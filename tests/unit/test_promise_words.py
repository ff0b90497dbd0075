"""Reading a promise from the debtor's words: "100 now and the rest on the 15th" is two
payments, and the first payment's date is not taken from the rest's."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.promises import PromiseWords, parse_promise

TODAY = date(2026, 12, 7)  # a Monday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "I can pay 100 now and the rest on the 15th",
            PromiseWords(10000, TODAY, date(2026, 12, 15)),
            id="now-and-rest",
        ),
        pytest.param(
            "$250 on friday, the remainder on 12/30",
            PromiseWords(25000, date(2026, 12, 11), date(2026, 12, 30)),
            id="remainder",
        ),
        pytest.param(
            "i\u2019ll send 50 today and what\u2019s left on the 20th",
            PromiseWords(5000, TODAY, date(2026, 12, 20)),
            id="whats-left-curly-apostrophes",
        ),
        pytest.param(
            "can I pay half now and the rest on the 20th",
            PromiseWords(None, TODAY, date(2026, 12, 20), half=True),
            id="half-now",
        ),
        pytest.param(
            "200 on the 10th and the remaining balance on the 28th",
            PromiseWords(20000, date(2026, 12, 10), date(2026, 12, 28)),
            id="remaining-balance",
        ),
    ],
)
def test_a_first_payment_and_the_rest(text: str, expected: PromiseWords) -> None:
    assert parse_promise(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # one payment: as before, the amount and date anywhere in the text
        pytest.param("i can pay 100 on the 15th", PromiseWords(10000, date(2026, 12, 15), None)),
        # "the rest" with no date for it: nothing about the rest
        pytest.param("100 now and I'll sort out the rest later", PromiseWords(10000, TODAY, None)),
        # "the rest" alone, with nothing said about a first payment: one promise
        pytest.param("I'll pay the rest on friday", PromiseWords(None, date(2026, 12, 11), None)),
        pytest.param("i can pay later", PromiseWords(None, None, None)),
    ],
)
def test_otherwise_one_promise(text: str, expected: PromiseWords) -> None:
    assert parse_promise(text, TODAY) == expected


def test_half_is_half_the_balance_rounded_up_and_a_said_amount_is_kept() -> None:
    half = parse_promise("half now and the rest on the 20th", TODAY)
    said = parse_promise("100 now and the rest on the 20th", TODAY)

    assert (half.first_cents(10499), half.first_cents(10000)) == (5250, 5000)
    assert said.first_cents(10499) == 10000
    assert parse_promise("i can pay later", TODAY).first_cents(10499) is None
