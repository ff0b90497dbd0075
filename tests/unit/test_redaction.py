"""Card numbers and full SSNs never reach storage or Rasa (compliance rule 18)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.redaction import Redacted, luhn_valid, redact

DIGIT_RUN = re.compile(r"[0-9]+")


def with_check_digit(body: str) -> str:
    """`body` completed with the Luhn check digit that makes it valid."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),
        ("79927398713", True),
        ("79927398710", False),
        ("0", True),
    ],
)
def test_luhn_check_matches_known_numbers(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111111111111111", "[card ending 1111]"),  # Visa, one run
        ("4111 1111 1111 1111", "[card ending 1111]"),  # with spaces
        ("4111-1111-1111-1111", "[card ending 1111]"),  # with dashes
        ("5555 5555 5555 4444", "[card ending 4444]"),  # Mastercard
        ("6011-1111-1111-1117", "[card ending 1117]"),  # Discover
        ("378282246310005", "[card ending 0005]"),  # Amex, 15 digits
        ("3782 822463 10005", "[card ending 0005]"),  # Amex grouping 4-6-5
        ("30569309025904", "[card ending 5904]"),  # Diners, 14 digits
        ("4222222222222", "[card ending 2222]"),  # 13 digits
        ("6304000000000000018", "[card ending 0018]"),  # 19 digits
        ("6304 0000 0000 0000 018", "[card ending 0018]"),  # 19 digits, 4-4-4-4-3
    ],
)
def test_a_card_number_in_any_common_form_is_masked_to_its_last_4(text: str, expected: str) -> None:
    result = redact(text)
    assert result == Redacted(expected, cards=1, ssns=0)
    assert result.changed


@pytest.mark.parametrize(
    "text",
    [
        "123456789012",  # 12 digits: too short to be a card
        "4111111111111112",  # 16 digits failing Luhn
        "4111 1111 1111 1112",
        "41111111111111110000",  # a valid card inside a longer run of digits
        "94111111111111111",  # 17 digits, failing Luhn as a whole
        "4111 1111-1111 1111",  # mixed separators: no single grouping reaches 13 digits
        "4111  1111  1111  1111",  # double spaces
    ],
)
def test_digits_that_are_not_a_card_number_stay(text: str) -> None:
    assert redact(text) == Redacted(text, cards=0, ssns=0)
    assert not redact(text).changed


def test_the_text_around_a_card_is_kept_word_for_word() -> None:
    text = "Hi, my card is 4111 1111 1111 1111, exp 12/27. Can I pay $50.00 today?"
    assert redact(text).text == (
        "Hi, my card is [card ending 1111], exp 12/27. Can I pay $50.00 today?"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123-45-6789", "***-**-6789"),
        ("123 45 6789", "***-**-6789"),
        ("123456789", "***-**-6789"),
        ("my ssn is 123456789.", "my ssn is ***-**-6789."),
        ("SSN:123-45-6789, dob 1/2/1980", "SSN:***-**-6789, dob 1/2/1980"),
        ("(123 45 6789)", "(***-**-6789)"),
        ("900-12-3456", "***-**-3456"),  # written as an SSN: masked whatever the digits (ITIN)
        ("000-12-3456", "***-**-3456"),
    ],
)
def test_a_full_ssn_is_masked_keeping_its_last_4(text: str, expected: str) -> None:
    assert redact(text) == Redacted(expected, cards=0, ssns=1)


@pytest.mark.parametrize(
    "text",
    [
        "000123456",  # area 000
        "666123456",  # area 666
        "900123456",  # area 900-999
        "999123456",
        "123006789",  # group 00
        "123450000",  # serial 0000
        "AB123456789",  # part of a letter run
        "123456789X",
        "1234567890",  # part of a longer digit run
        "12345678",
        "$123456789",  # an amount
        "123456789.00",
        "1,123456789",
        "+123456789",
        "12-3456-789",
        "1123-45-6789",  # part of a longer run
        "123-45-67890",
        "123-45-6789-1",
    ],
)
def test_what_is_not_a_full_ssn_stays(text: str) -> None:
    assert redact(text) == Redacted(text, cards=0, ssns=0)


@pytest.mark.parametrize(
    "text",
    [
        "ZIP 98103-1234",
        "call (206) 555-0100",
        "or +12065550100",
        "206-555-0100",
        "206 555 0100",
        "+1 206 555 0100",
        "on 2026-03-08",
        "on 03/08/2026",
        "pay $1,234.56",
        "pay 1234567.89",
        "ref ACC-100234",
        "the account ACC-100234 owes $2,500.00 since 2025-11-30; call 1-800-555-0199",
        "plan: 12 payments of $104.17",
        "***-**-6789",  # already masked
        "[card ending 1111]",
        "",
    ],
)
def test_zips_phones_dates_amounts_and_references_stay(text: str) -> None:
    assert redact(text) == Redacted(text, cards=0, ssns=0)


def test_several_numbers_in_one_message_are_all_masked() -> None:
    text = (
        "Card 4111-1111-1111-1111 or amex 378282246310005; ssn 123-45-6789 "
        "(old one 234 56 7890), zip 98103-1234, phone (206) 555-0100."
    )
    assert redact(text) == Redacted(
        "Card [card ending 1111] or amex [card ending 0005]; ssn ***-**-6789 "
        "(old one ***-**-7890), zip 98103-1234, phone (206) 555-0100.",
        cards=2,
        ssns=2,
    )


def test_a_card_next_to_a_date_and_phone_numbers_leaves_them_alone() -> None:
    text = "2026-03-08 4111 1111 1111 1111 and 206 555 0100 206 555 0101"
    assert redact(text).text == "2026-03-08 [card ending 1111] and 206 555 0100 206 555 0101"


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "123-45-6789 4111 1111 1111 1111",
        "123 45 6789 4111 1111 1111 1111",
        "ssn 123456789 card 378282246310005",
        "nothing to see",
    ],
)
def test_redaction_is_idempotent_on_examples(text: str) -> None:
    once = redact(text).text
    assert redact(once) == Redacted(once, cards=0, ssns=0)


# --- Properties ---------------------------------------------------------------------------------

card_numbers = st.integers(12, 18).flatmap(
    lambda n: st.text("0123456789", min_size=n, max_size=n).map(with_check_digit)
)


@st.composite
def grouped_cards(draw: st.DrawFn) -> str:
    number = draw(card_numbers)
    separator = draw(st.sampled_from(["", " ", "-"]))
    if not separator:
        return number
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    if len(groups[-1]) < 3:  # keep every group at 3-6 digits
        groups[-2:] = [groups[-2] + groups[-1]]
    return separator.join(groups)


pieces = st.one_of(
    grouped_cards(),
    st.text("0123456789", min_size=1, max_size=22),
    st.from_regex(r"\A[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}\Z"),
    st.text("abcXYZ .,:;$+-()/*[]", max_size=6),
    st.sampled_from(["(206) 555-0100", "98103-1234", "ACC-100234", "$1,234.56", "2026-03-08"]),
)
messages = st.lists(
    st.tuples(pieces, st.sampled_from(["", " ", "-", ", ", "a", "\n"])), max_size=8
).map(lambda parts: "".join(p + s for p, s in parts))


@settings(max_examples=400)
@given(messages)
def test_the_output_never_holds_a_luhn_valid_run_of_13_to_19_digits(text: str) -> None:
    output = redact(text).text
    for run in DIGIT_RUN.findall(output):
        assert not (13 <= len(run) <= 19 and luhn_valid(run)), (text, output)


@settings(max_examples=400)
@given(messages)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once.text) == Redacted(once.text, cards=0, ssns=0)


@given(grouped_cards(), st.sampled_from(["", "Card: ", "my card is "]), st.sampled_from(["", "."]))
def test_every_luhn_valid_card_standing_alone_is_masked_to_its_last_4(
    card: str, before: str, after: str
) -> None:
    last4 = re.sub(r"\D", "", card)[-4:]
    assert redact(f"{before}{card}{after}") == Redacted(
        f"{before}[card ending {last4}]{after}", cards=1, ssns=0
    )


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"])))
def test_text_without_digits_is_returned_unchanged(text: str) -> None:
    assert redact(text) == Redacted(text, cards=0, ssns=0)


@given(messages)
def test_redaction_only_ever_removes_digits(text: str) -> None:
    result = redact(text)
    digits_in, digits_out = len(re.findall(r"[0-9]", text)), len(re.findall(r"[0-9]", result.text))
    assert digits_out <= digits_in
    assert result.changed == (result.text != text)
