"""Identity verification: parsing what people type, two of three factors, and how long it lasts
(compliance rules 2-3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.dates import parse_dob
from bot.domain.verification import (
    Answers,
    Factor,
    Identity,
    Outcome,
    check,
    is_current,
    parse_factor,
    parse_ssn_last4,
    parse_zip,
)

TODAY = date(2026, 11, 23)
MARIA = Identity(date_of_birth=date(1984, 3, 12), ssn_last4="6789", zip="98103")
AISHA = Identity(date_of_birth=date(1992, 2, 29), ssn_last4="1122", zip="60614")


def dob(text: str) -> date:
    parsed = parse_dob(text, TODAY)
    assert parsed is not None, f"parse_dob could not read {text!r}"
    return parsed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6789", "6789"),
        ("it ends in 6789", "6789"),
        ("last 4: 6789", "6789"),
        ("***-**-6789", "6789"),
        ("xxx-xx-6789", "6789"),
        ("XXX XX 6789", "6789"),
        ("my ssn is ***-**-6789 thanks", "6789"),
    ],
)
def test_ssn_last4_is_read_from_plain_or_masked_text(text: str, expected: str) -> None:
    assert parse_ssn_last4(text) == expected


def test_ssn_last4_at_the_end_of_a_sentence_is_read() -> None:
    assert parse_ssn_last4("It ends in 6789.") == "6789"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I don't remember",
        "678",
        "67890",
        "1234 or 6789",  # two candidates: ask again rather than guess
        "03/12/1984",  # a date, not an SSN
        "98103-1234",  # a ZIP+4, not an SSN
    ],
)
def test_ssn_last4_is_none_when_not_exactly_one_four_digit_group(text: str) -> None:
    assert parse_ssn_last4(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("98103", "98103"),
        ("98103-1234", "98103"),
        ("98103 1234", "98103"),
        ("my zip is 98103-1234", "98103"),
        ("zip code: 02134.", "02134"),
    ],
)
def test_zip_is_read_as_its_five_digit_part(text: str, expected: str) -> None:
    assert parse_zip(text) == expected


@pytest.mark.parametrize("text", ["", "9810", "981034", "98103 or 98104", "Seattle"])
def test_zip_is_none_when_not_exactly_one_zip(text: str) -> None:
    assert parse_zip(text) is None


@pytest.mark.parametrize(
    "typed",
    ["03/12/1984", "3/12/84", "March 12, 1984", "1984-03-12", "12 Mar 1984"],
)
def test_date_of_birth_typed_five_ways_verifies_with_zip(typed: str) -> None:
    answers = Answers(date_of_birth=dob(typed), zip=parse_zip("98103"))

    assert answers.date_of_birth == date(1984, 3, 12)
    assert check(MARIA, answers) is Outcome.VERIFIED


@pytest.mark.parametrize("typed", ["02/29/1992", "2/29/92", "February 29, 1992", "1992-02-29"])
def test_leap_day_date_of_birth_verifies(typed: str) -> None:
    answers = Answers(date_of_birth=dob(typed), ssn_last4="1122")

    assert check(AISHA, answers) is Outcome.VERIFIED


@pytest.mark.parametrize("typed", ["02/29/1991", "1991-02-29", "February 30, 1992"])
def test_impossible_date_of_birth_is_not_a_date(typed: str) -> None:
    assert parse_dob(typed, TODAY) is None


def test_leap_day_is_not_matched_by_the_day_after() -> None:
    answers = Answers(date_of_birth=dob("03/01/1992"), ssn_last4="1122")

    assert check(AISHA, answers) is Outcome.MISMATCH


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(Answers(date_of_birth=date(1984, 3, 12), zip="98103"), id="dob+zip"),
        pytest.param(Answers(date_of_birth=date(1984, 3, 12), ssn_last4="6789"), id="dob+ssn"),
        pytest.param(Answers(ssn_last4="6789", zip="98103"), id="ssn+zip"),
        pytest.param(
            Answers(date_of_birth=date(1984, 3, 12), ssn_last4="6789", zip="98103"), id="all-three"
        ),
        pytest.param(Answers(ssn_last4="6789", zip="98103-1234"), id="zip-plus-4-answer"),
    ],
)
def test_two_matching_factors_verify(answers: Answers) -> None:
    assert check(MARIA, answers) is Outcome.VERIFIED


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(
            Answers(date_of_birth=date(1984, 3, 12), ssn_last4="0000", zip="98103"),
            id="wrong-ssn",
        ),
        pytest.param(
            Answers(date_of_birth=date(1985, 3, 12), ssn_last4="6789", zip="98103"),
            id="wrong-dob",
        ),
        pytest.param(
            Answers(date_of_birth=date(1984, 3, 12), ssn_last4="6789", zip="98104"),
            id="wrong-zip",
        ),
    ],
)
def test_two_matches_verify_even_when_the_third_factor_is_wrong(answers: Answers) -> None:
    assert check(MARIA, answers) is Outcome.VERIFIED


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(Answers(date_of_birth=date(1984, 3, 12), zip="98104"), id="dob-ok-zip-wrong"),
        pytest.param(Answers(ssn_last4="6789", zip="98104"), id="ssn-ok-zip-wrong"),
        pytest.param(Answers(ssn_last4="9876", zip="98103"), id="ssn-wrong-zip-ok"),
        pytest.param(
            Answers(date_of_birth=date(1984, 3, 13), ssn_last4="6789", zip="98104"),
            id="one-of-three",
        ),
        pytest.param(
            Answers(date_of_birth=date(1984, 12, 3), ssn_last4="9876", zip="98104"),
            id="none-of-three",
        ),
    ],
)
def test_fewer_than_two_matches_is_a_mismatch(answers: Answers) -> None:
    assert check(MARIA, answers) is Outcome.MISMATCH


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(Answers(), id="nothing"),
        pytest.param(Answers(date_of_birth=date(1984, 3, 12)), id="right-dob-alone"),
        pytest.param(Answers(ssn_last4="6789"), id="right-ssn-alone"),
        pytest.param(Answers(zip="00000"), id="wrong-zip-alone"),
    ],
)
def test_a_single_factor_is_incomplete_not_a_mismatch(answers: Answers) -> None:
    assert check(MARIA, answers) is Outcome.INCOMPLETE


def test_answers_list_the_factors_given_in_order() -> None:
    assert Answers(zip="98103", date_of_birth=date(1984, 3, 12)).given() == (
        Factor.DOB,
        Factor.ZIP,
    )


def test_zip_plus_4_on_the_account_matches_a_five_digit_answer() -> None:
    identity = Identity(date_of_birth=date(1984, 3, 12), ssn_last4="6789", zip="98103-1234")

    assert check(identity, Answers(ssn_last4="6789", zip=parse_zip("98103"))) is Outcome.VERIFIED


@pytest.mark.parametrize(
    ("factor", "text", "expected"),
    [
        (Factor.DOB, "March 12, 1984", date(1984, 3, 12)),
        (Factor.SSN_LAST4, "***-**-6789", "6789"),
        (Factor.ZIP, "98103-1234", "98103"),
    ],
)
def test_parse_factor_dispatches_to_the_right_parser(
    factor: Factor, text: str, expected: object
) -> None:
    assert parse_factor(factor, text, TODAY) == expected


VERIFIED_AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("elapsed", "current"),
    [
        (timedelta(0), True),
        (timedelta(hours=3, minutes=59, seconds=59), True),
        (timedelta(hours=4), False),
        (timedelta(hours=4, seconds=1), False),
        (timedelta(days=1), False),
    ],
)
def test_verification_lasts_four_hours(elapsed: timedelta, current: bool) -> None:
    assert is_current(VERIFIED_AT, VERIFIED_AT + elapsed) is current


def test_never_verified_is_not_current() -> None:
    assert is_current(None, VERIFIED_AT) is False
