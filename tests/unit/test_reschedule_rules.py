"""The pure rules of moving a payment date: the window (bot.domain.plans.reschedule_window)
and the date a debtor asks for (bot.domain.dates.parse_delay, requested_date)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.dates import parse_delay, requested_date
from bot.domain.plans import PlanPolicy, reschedule_window

FRIDAY = date(2026, 11, 27)  # the reminder went out; the payment is due Monday
MONDAY = date(2026, 11, 30)
POLICY = PlanPolicy(reschedule_max_days=14)


def test_window_runs_from_tomorrow_to_the_allowance_after_its_own_date() -> None:
    assert reschedule_window(MONDAY, FRIDAY, POLICY) == (
        date(2026, 11, 28),
        date(2026, 12, 14),
    )


def test_window_ends_the_day_before_the_following_installment() -> None:
    following = MONDAY + timedelta(days=7)
    assert reschedule_window(MONDAY, FRIDAY, POLICY, following_due=following)[1] == following - (
        timedelta(days=1)
    )


def test_a_following_installment_further_than_the_allowance_does_not_widen_it() -> None:
    following = MONDAY + timedelta(days=30)
    assert reschedule_window(MONDAY, FRIDAY, POLICY, following_due=following)[1] == date(
        2026, 12, 14
    )


def test_window_is_empty_for_a_payment_overdue_past_the_allowance() -> None:
    first, last = reschedule_window(FRIDAY - timedelta(days=15), FRIDAY, POLICY)
    assert first > last


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("push my payment back a week", 7),
        ("can i push it back 2 weeks", 14),
        ("push it back a couple days", 2),
        ("a couple of days later", 2),
        ("can i delay it by 3 days", 3),
        ("give me 2 more weeks", 14),
        ("five more days pls", 5),
        ("can i have another week", 7),
        ("a week later would be better", 7),
        ("move it out a week", 7),
    ],
)
def test_a_delay_is_days_or_weeks_named_in_words_or_digits(text: str, days: int) -> None:
    assert parse_delay(text) == timedelta(days=days)


@pytest.mark.parametrize(
    "text",
    ["push it back", "a few days later", "can i move it to friday", "in a week", "0 more days"],
)
def test_no_delay_without_an_amount_of_days_or_weeks(text: str) -> None:
    assert parse_delay(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can I move it to friday", date(2026, 12, 4)),  # said on a Friday: next week's
        ("can i pay on the 20th instead", date(2026, 12, 20)),
        ("move my due date to next friday", date(2026, 12, 4)),
        ("move it to dec 3", date(2026, 12, 3)),
        ("push my payment back a week", MONDAY + timedelta(days=7)),
        ("push it back to wednesday", date(2026, 12, 2)),  # a named date wins over "back"
        ("i need to change my payment date", None),
    ],
)
def test_requested_date_is_a_named_date_or_the_current_one_plus_a_delay(
    text: str, expected: date | None
) -> None:
    assert requested_date(text, FRIDAY, MONDAY) == expected


def test_a_delay_without_a_current_date_is_no_date() -> None:
    assert requested_date("push it back a week", FRIDAY, None) is None
