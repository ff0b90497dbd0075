"""Money in integer cents: to_cents, format_money, and reading amounts people type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import AmountMention, find_amounts, format_money, parse_amount, to_cents


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("1369.37", 136937),
        ("$1,369.37", 136937),
        ("  $1,369.37 ", 136937),
        ("0", 0),
        ("0.5", 50),
        (".99", 99),
        ("$.99", 99),
        ("5", 500),
        ("1,000,000", 100_000_000),
        ("-5", -500),
        ("-$5.00", -500),
        ("$-5.00", -500),
        ("1.005", 101),  # half up
        ("1.004", 100),
        ("-1.005", -101),  # half away from zero
        ("2.675", 268),
        (Decimal("19.999"), 2000),
        (Decimal("0.005"), 1),
        (Decimal("-0.004"), 0),
        (Decimal("25.00"), 2500),
        (7, 700),
        (0, 0),
        (-3, -300),
    ],
)
def test_to_cents_reads_dollars_and_rounds_half_up_to_the_cent(
    value: str | Decimal | int, cents: int
) -> None:
    assert to_cents(value) == cents


@pytest.mark.parametrize(
    "garbage",
    ["", " ", "$", "abc", "12abc", "1,23", "12,34.5", "1.2.3", "--5", "-$-5", "$$5", "5 5", "NaN"],
)
def test_to_cents_refuses_text_that_is_not_money(garbage: str) -> None:
    with pytest.raises(ValueError):
        to_cents(garbage)


@pytest.mark.parametrize("special", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_to_cents_refuses_decimals_that_are_not_numbers(special: Decimal) -> None:
    with pytest.raises(ValueError):
        to_cents(special)


@pytest.mark.parametrize("wrong_type", [1.5, True, None, b"5", [5]])
def test_to_cents_refuses_floats_and_other_types(wrong_type: object) -> None:
    with pytest.raises(TypeError):
        to_cents(wrong_type)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (136937, "$1,369.37"),
        (5000, "$50.00"),
        (-500, "-$5.00"),
        (0, "$0.00"),
        (1, "$0.01"),
        (-1, "-$0.01"),
        (99, "$0.99"),
        (100, "$1.00"),
        (100_000_000, "$1,000,000.00"),
        (123_456_789, "$1,234,567.89"),
    ],
)
def test_format_money_writes_dollars_with_commas_and_two_decimals(cents: int, text: str) -> None:
    assert format_money(cents) == text


@pytest.mark.parametrize("wrong_type", [1.5, Decimal("1.50"), "150", True])
def test_format_money_takes_only_integer_cents(wrong_type: object) -> None:
    with pytest.raises(TypeError):
        format_money(wrong_type)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_formatted_money_reads_back_to_the_same_cents(cents: int) -> None:
    assert to_cents(format_money(cents)) == cents


@given(st.integers(min_value=0, max_value=10**11))
def test_parse_amount_reads_formatted_money_back(cents: int) -> None:
    assert parse_amount(format_money(cents)) == cents


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=4))
def test_to_cents_is_within_half_a_cent_of_the_decimal(value: Decimal) -> None:
    assert abs(Decimal(to_cents(value)) / 100 - value) <= Decimal("0.005")


# ----------------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("$50", 5000),
        ("50", 5000),
        ("50.", 5000),
        ("$ 50", 5000),
        ("50$", 5000),
        ("50 bucks", 5000),
        ("50bucks", 5000),
        ("50 dollars", 5000),
        ("50 usd", 5000),
        ("fifty dollars", 5000),
        ("Fifty Dollars", 5000),
        ("two hundred", 20000),
        ("two hundred and fifty", 25000),
        ("a hundred", 10000),
        ("twenty-five", 2500),
        ("twenty five dollars", 2500),
        ("one fifty", 15000),
        ("two thousand five hundred", 250000),
        ("1,200", 120000),
        ("1200", 120000),
        ("1200.50", 120050),
        ("$1,369.37", 136937),
        ("$1.2k", 120000),
        ("1.5k", 150000),
        ("2k", 200000),
        ("2 grand", 200000),
        ("a grand", 100000),
        ("5 hundred", 50000),
        ("50 cents", 50),
        ("5 dollars and 50 cents", 550),
        ("$0", 0),
        ("I can do 75 a month", 7500),
        ("fifty a month", 5000),
        ("$50/month", 5000),
        ("50/mo", 5000),
        ("25 per week", 2500),
        ("40 every friday", 4000),
        ("I'll pay $40.", 4000),
        ('"50"', 5000),
        ("can I get a plan for 60", 6000),
        ("I can pay 50 or 60", 5000),
        ("maybe 30 on the 15th", 3000),
        ("I can pay 20 on the 15th", 2000),
        ("on 12/15 I can send 100", 10000),
        ("2 payments of $40", 4000),
        ("in 3 days I can pay 45", 4500),
        ("my zip is 98103 and I can pay 30", 3000),
        ("last four 6789, I can pay $25", 2500),
        ("I have 3 kids and can pay 40", 4000),
        ("call me at 206-555-1234, I can pay 80", 8000),
        ("12000 dollars", 1200000),
        ("$12000", 1200000),
        ("1984", 198400),  # a bare number is an amount where an amount was asked
    ],
)
def test_parse_amount_reads_the_amount_a_person_typed(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    "text",
    [
        "the 15th",
        "on the 15",
        "on 12/15",
        "12/15/26",
        "2026-12-15",
        "3.12.1984",
        "Dec 15",
        "15 dec",
        "friday 13",
        "ACC-100234",
        "A123",
        "98103",
        "my zip is 98103",
        "last four 6789",
        "ssn ends in 6789",
        "account number 4455",
        "#2",
        "option 2",
        "0612",
        "born in 1984",
        "in 3 days",
        "in two weeks",
        "6 months",
        "the six month one",
        "the second one",
        "that one",
        "2nd",
        "50%",
        "at 5",
        "5pm",
        "206-555-1234",
        "(206) 555-1234",
        "50-60",
        "nothing",
        "",
        "I get paid friday",
    ],
)
def test_parse_amount_does_not_read_dates_references_and_counts_as_money(text: str) -> None:
    assert parse_amount(text) is None


def test_parse_amount_prefers_a_number_with_a_money_word_over_a_bare_one() -> None:
    assert parse_amount("in 2 or 3 weeks I could pay $60") == 6000
    assert parse_amount("I could do 4 payments of fifty dollars") == 5000


def test_parse_amount_takes_the_first_of_several_amounts_of_the_same_standing() -> None:
    assert parse_amount("$50 now and $100 on friday") == 5000


def test_find_amounts_reports_where_each_amount_is_and_whether_it_was_certain() -> None:
    text = "I can do 75 a month or maybe 80"
    assert find_amounts(text) == [
        AmountMention(7500, 9, 11, True),
        AmountMention(8000, 29, 31, False),
    ]
    assert text[9:11] == "75"


@given(st.integers(min_value=1, max_value=99_999))
def test_any_whole_dollar_amount_with_a_dollar_sign_is_read(dollars: int) -> None:
    assert parse_amount(f"I can pay ${dollars:,} on friday") == dollars * 100


@given(st.integers(min_value=1, max_value=31))
def test_no_day_of_the_month_is_read_as_money(day: int) -> None:
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day, "th")
    assert parse_amount(f"the {day}{suffix}") is None
    assert parse_amount(f"on the {day}") is None
    assert parse_amount(f"12/{day}") is None
