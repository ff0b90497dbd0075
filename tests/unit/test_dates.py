"""Dates as debtors type them (payment dates, frequencies, dates of birth) and as we write them."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.dates import (
    age_on,
    asks_when,
    format_clock,
    format_date,
    parse_dob,
    parse_frequency,
    parse_when,
)

WED = date(2026, 11, 18)  # a Wednesday in a 30-day month
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ABBR = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Monday 2026-11-16 .. Sunday 2026-11-22
WEEK = [date(2026, 11, 16) + timedelta(days=k) for k in range(7)]
any_day = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


def _ordinal(n: int) -> str:
    if n in (11, 12, 13):
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


# ----------------------------------------------------------------------------- parse_when


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", WED),
        ("Today!", WED),
        ("tonight", WED),
        ("now", WED),
        ("later this evening", WED),
        ("tomorrow", date(2026, 11, 19)),
        ("Tomorrow.", date(2026, 11, 19)),
        ("tmrw", date(2026, 11, 19)),
        ("tommorow", date(2026, 11, 19)),
        ("tomorow", date(2026, 11, 19)),
        ("2morrow", date(2026, 11, 19)),
        ("day after tomorrow", date(2026, 11, 20)),
        ("the day after tomorrow", date(2026, 11, 20)),
        ("friday", date(2026, 11, 20)),
        ("Fri", date(2026, 11, 20)),
        ("fri.", date(2026, 11, 20)),
        ("this friday", date(2026, 11, 20)),
        ("this coming friday", date(2026, 11, 20)),
        ("on friday", date(2026, 11, 20)),
        ("I get paid fridays", date(2026, 11, 20)),
        ("fryday", date(2026, 11, 20)),
        ("wensday", date(2026, 11, 25)),
        ("thrusday", date(2026, 11, 19)),
        ("thurs", date(2026, 11, 19)),
        ("next friday", date(2026, 11, 27)),
        ("friday after next", date(2026, 12, 4)),
        ("a week from friday", date(2026, 11, 27)),
        ("next week friday", date(2026, 11, 27)),
        ("wednesday", date(2026, 11, 25)),  # today counts only for "today"
        ("the 15th", date(2026, 12, 15)),
        ("on the 15th", date(2026, 12, 15)),
        ("the 15", date(2026, 12, 15)),
        ("on the fifteenth", date(2026, 12, 15)),
        ("15th", date(2026, 12, 15)),
        ("on the 1st", date(2026, 12, 1)),
        ("the 18th", WED),  # today is the 18th
        ("the 20th", date(2026, 11, 20)),
        ("the 31st", date(2026, 11, 30)),  # November has 30 days
        ("the 30th", date(2026, 11, 30)),
        ("the twenty first", date(2026, 11, 21)),
        ("I can pay $50 on the 15th", date(2026, 12, 15)),
        ("end of month", date(2026, 11, 30)),
        ("end of the month", date(2026, 11, 30)),
        ("by the end of the month", date(2026, 11, 30)),
        ("eom", date(2026, 11, 30)),
        ("EOM", date(2026, 11, 30)),
        ("last day of the month", date(2026, 11, 30)),
        ("end of the mnth", date(2026, 11, 30)),
        ("end of next month", date(2026, 12, 31)),
        ("first of the month", date(2026, 12, 1)),
        ("the 1st of the month", date(2026, 12, 1)),
        ("first of next month", date(2026, 12, 1)),
        ("beginning of next month", date(2026, 12, 1)),
        ("the 15th of next month", date(2026, 12, 15)),
        ("next month", date(2026, 12, 1)),
        ("12/15", date(2026, 12, 15)),
        ("on 12/15", date(2026, 12, 15)),
        ("12-15", date(2026, 12, 15)),
        ("12/15/26", date(2026, 12, 15)),
        ("12/15/2026", date(2026, 12, 15)),
        ("11/18", WED),
        ("11/17", date(2027, 11, 17)),  # passed this year: next year's
        ("1/5", date(2027, 1, 5)),
        ("Dec 15", date(2026, 12, 15)),
        ("dec. 15", date(2026, 12, 15)),
        ("december 15th", date(2026, 12, 15)),
        ("December 15, 2026", date(2026, 12, 15)),
        ("15 dec", date(2026, 12, 15)),
        ("15th of december", date(2026, 12, 15)),
        ("jan 3", date(2027, 1, 3)),
        ("nov 30", date(2026, 11, 30)),
        ("2026-12-15", date(2026, 12, 15)),
        ("in 3 days", date(2026, 11, 21)),
        ("in three days", date(2026, 11, 21)),
        ("3 days from now", date(2026, 11, 21)),
        ("in a couple of days", date(2026, 11, 20)),
        ("in 2 weeks", date(2026, 12, 2)),
        ("in two weeks", date(2026, 12, 2)),
        ("in a week", date(2026, 11, 25)),
        ("a week from today", date(2026, 11, 25)),
        ("in a month", date(2026, 12, 18)),
        ("next week", date(2026, 11, 23)),  # Monday of next week
        ("end of the week", date(2026, 11, 20)),
        ("this weekend", date(2026, 11, 21)),
    ],
)
def test_parse_when_reads_the_date_a_debtor_means(text: str, expected: date) -> None:
    assert parse_when(text, WED) == expected


@pytest.mark.parametrize(
    "text",
    [
        "payday",
        "when I get paid",
        "soon",
        "asap",
        "whenever",
        "",
        "   ",
        "in a few days",
        "last friday",
        "13/45",
        "2/30",
        "feb 30",
        "2026-02-30",
        "the 32nd",
        "the 0th",
        "the 15 dollars",
        "by 5pm",
        "I can pay 15",
        "the first one",
    ],
)
def test_parse_when_gives_none_for_what_is_not_a_date(text: str) -> None:
    assert parse_when(text, WED) is None


def test_a_date_with_an_explicit_past_year_is_returned_for_the_caller_to_refuse() -> None:
    assert parse_when("12/15/2025", WED) == date(2025, 12, 15)


def test_feb_29_without_a_year_is_the_next_leap_day() -> None:
    assert parse_when("2/29", WED) == date(2028, 2, 29)
    assert parse_when("feb 29", date(2028, 2, 1)) == date(2028, 2, 29)


@pytest.mark.parametrize(("today_index", "name"), [(i, d) for i in range(7) for d in DAYS])
def test_a_weekday_is_its_next_occurrence_after_today(today_index: int, name: str) -> None:
    today = WEEK[today_index]
    target = DAYS.index(name)
    for said in (name, ABBR[target], f"this {name}", f"on {name.title()}"):
        when = parse_when(said, today)
        assert when is not None
        assert when.weekday() == target
        assert 1 <= (when - today).days <= 7


@pytest.mark.parametrize(("today_index", "name"), [(i, d) for i in range(7) for d in DAYS])
def test_next_weekday_is_that_day_of_next_calendar_week(today_index: int, name: str) -> None:
    today = WEEK[today_index]
    when = parse_when(f"next {name}", today)
    assert when is not None
    assert when.weekday() == DAYS.index(name)
    assert when - timedelta(days=when.weekday()) == date(2026, 11, 23)  # next week's Monday


@pytest.mark.parametrize(
    ("today", "text", "days_away"),
    [
        (date(2026, 11, 20), "friday", 7),  # said on a Friday: next week's
        (date(2026, 11, 20), "this friday", 7),
        (date(2026, 11, 20), "today", 0),
        (date(2026, 11, 20), "next friday", 7),
        (date(2026, 11, 18), "next friday", 9),  # Wednesday: not this week's
        (date(2026, 11, 19), "next friday", 8),
        (date(2026, 11, 21), "next friday", 6),  # Saturday: the coming one is next week's
        (date(2026, 11, 22), "next monday", 1),  # Sunday: tomorrow is next week
        (date(2026, 11, 16), "next sunday", 13),
        (date(2026, 11, 16), "sunday", 6),
        (date(2026, 11, 22), "next week", 1),
        (date(2026, 11, 16), "next week", 7),
        (date(2026, 11, 21), "end of the week", 6),
        (date(2026, 11, 20), "end of the week", 0),
        (date(2026, 11, 22), "this weekend", 0),
    ],
)
def test_weekday_phrases_on_the_edges_of_the_week(today: date, text: str, days_away: int) -> None:
    assert parse_when(text, today) == today + timedelta(days=days_away)


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2026, 11, 30), "the 31st", date(2026, 11, 30)),  # the clamped day is today
        (date(2026, 12, 1), "the 31st", date(2026, 12, 31)),
        (date(2026, 12, 20), "the 15th", date(2027, 1, 15)),  # across the year
        (date(2026, 11, 15), "the 15th", date(2026, 11, 15)),
        (date(2026, 11, 16), "the 15th", date(2026, 12, 15)),
        (date(2028, 2, 10), "the 30th", date(2028, 2, 29)),  # leap February
        (date(2027, 2, 10), "the 30th", date(2027, 2, 28)),
        (date(2027, 2, 10), "the 29th", date(2027, 2, 28)),
        (date(2027, 1, 31), "the 31st", date(2027, 1, 31)),
        (date(2027, 1, 31), "the 30th", date(2027, 2, 28)),
        (date(2026, 4, 30), "the 31st", date(2026, 4, 30)),
        (date(2028, 2, 29), "end of month", date(2028, 2, 29)),
        (date(2027, 2, 1), "end of the month", date(2027, 2, 28)),
        (date(2026, 12, 5), "eom", date(2026, 12, 31)),
        (date(2027, 1, 31), "end of next month", date(2027, 2, 28)),
        (date(2026, 12, 1), "first of the month", date(2026, 12, 1)),  # today is the 1st
        (date(2026, 12, 1), "first of next month", date(2027, 1, 1)),
        (date(2026, 12, 31), "next month", date(2027, 1, 1)),
        (date(2027, 1, 31), "in a month", date(2027, 2, 28)),
        (date(2026, 12, 20), "12/15", date(2027, 12, 15)),
        (date(2026, 12, 31), "tomorrow", date(2027, 1, 1)),
        (date(2028, 2, 28), "tomorrow", date(2028, 2, 29)),
    ],
)
def test_days_of_the_month_at_month_and_year_ends(today: date, text: str, expected: date) -> None:
    assert parse_when(text, today) == expected


@pytest.mark.parametrize(
    "today",
    [date(2026, 3, 8), date(2026, 11, 1), date(2027, 3, 14), date(2027, 11, 7)],
    ids=["dst-start-2026", "dst-end-2026", "dst-start-2027", "dst-end-2027"],
)
def test_daylight_saving_changes_do_not_move_dates(today: date) -> None:
    assert parse_when("tomorrow", today) == today + timedelta(days=1)
    assert parse_when("in 7 days", today) == today + timedelta(days=7)
    assert parse_when("in 2 weeks", today) == today + timedelta(days=14)
    assert parse_when("today", today) == today


@given(today=any_day, day=st.integers(min_value=1, max_value=31))
def test_the_nth_is_the_next_such_day_clamped_to_the_month(today: date, day: int) -> None:
    for said in (f"the {_ordinal(day)}", f"on the {day}"):
        when = parse_when(said, today)
        assert when is not None
        assert today <= when < today + timedelta(days=32)
        assert when.day == min(day, monthrange(when.year, when.month)[1])
        if when.month == today.month and when != today:
            assert when > today


@given(today=any_day, weekday=st.integers(min_value=0, max_value=6))
def test_any_weekday_is_within_the_coming_week(today: date, weekday: int) -> None:
    when = parse_when(DAYS[weekday], today)
    assert when is not None
    assert when.weekday() == weekday
    assert today < when <= today + timedelta(days=7)
    later = parse_when(f"next {DAYS[weekday]}", today)
    assert later is not None
    assert when <= later <= when + timedelta(days=7)


@given(today=any_day, n=st.integers(min_value=0, max_value=365))
def test_in_n_days_and_weeks_count_from_today(today: date, n: int) -> None:
    assert parse_when(f"in {n} days", today) == today + timedelta(days=n)
    assert parse_when(f"in {n} weeks", today) == today + timedelta(weeks=n)


@given(today=any_day)
def test_end_of_month_is_the_last_day_of_this_month(today: date) -> None:
    when = parse_when("end of the month", today)
    assert when is not None
    assert (when.year, when.month) == (today.year, today.month)
    assert (when + timedelta(days=1)).day == 1


# ----------------------------------------------------------------------------- frequency


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekly", ("weekly", None)),
        ("every week", ("weekly", None)),
        ("once a week", ("weekly", None)),
        ("$20 a week", ("weekly", None)),
        ("25 per week", ("weekly", None)),
        ("$20 /wk", ("weekly", None)),
        ("every friday", ("weekly", 4)),
        ("Every Friday", ("weekly", 4)),
        ("each monday", ("weekly", 0)),
        ("fridays", ("weekly", 4)),
        ("on tuesdays", ("weekly", 1)),
        ("weekly on tuesdays", ("weekly", 1)),
        ("every other friday", ("biweekly", 4)),
        ("every second thursday", ("biweekly", 3)),
        ("every 2 fridays", ("biweekly", 4)),
        ("biweekly", ("biweekly", None)),
        ("bi-weekly", ("biweekly", None)),
        ("bi-weekly on fridays", ("biweekly", 4)),
        ("every two weeks", ("biweekly", None)),
        ("every 2 weeks", ("biweekly", None)),
        ("every other week", ("biweekly", None)),
        ("every two weeks on friday", ("biweekly", 4)),
        ("fortnightly", ("biweekly", None)),
        ("twice a month", ("biweekly", None)),  # the nearest allowed schedule
        ("semi-monthly", ("biweekly", None)),
        ("monthly", ("monthly", None)),
        ("a month", ("monthly", None)),
        ("$50 a month", ("monthly", None)),
        ("per month", ("monthly", None)),
        ("each month", ("monthly", None)),
        ("every month", ("monthly", None)),
        ("once a month", ("monthly", None)),
        ("50/mo", ("monthly", None)),
    ],
)
def test_parse_frequency_reads_how_often(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_frequency(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "6 months",
        "in a month",
        "in a week",
        "twice a week",
        "every other month",
        "every 2 months",
        "bimonthly",
        "every payday",
        "yearly",
        "friday",
        "tomorrow",
    ],
)
def test_parse_frequency_gives_none_for_no_or_an_unsupported_frequency(text: str) -> None:
    assert parse_frequency(text) is None


# ----------------------------------------------------------------------------- parse_dob

DOB_TODAY = date(2026, 6, 1)
MARCH_12_84 = date(1984, 3, 12)


@pytest.mark.parametrize(
    "text",
    [
        "3/12/84",
        "03/12/1984",
        "3/12/1984",
        "3-12-84",
        "03-12-1984",
        "3.12.1984",
        "3.12.84",
        "3 12 84",
        "March 12 1984",
        "march 12, 1984",
        "MARCH 12TH 1984",
        "Mar 12 84",
        "Mar. 12, 1984",
        "12 March 1984",
        "12th of March 1984",
        "12-Mar-1984",
        "1984-03-12",
        "1984/03/12",
        "03121984",
        "031284",
        "19840312",
        "my dob is 3/12/84",
        "born 3/12/84, zip 98103",
    ],
)
def test_parse_dob_reads_a_birth_date_typed_many_ways(text: str) -> None:
    assert parse_dob(text, DOB_TODAY) == MARCH_12_84


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2/29/84", date(1984, 2, 29)),  # leap day
        ("02/29/1984", date(1984, 2, 29)),
        ("feb 29 1984", date(1984, 2, 29)),
        ("2/29/00", date(2000, 2, 29)),  # 2000 is a leap year
        ("25/12/1984", date(1984, 12, 25)),  # only a day-first reading exists
        ("12/25/84", date(1984, 12, 25)),
        ("1/2/03", date(2003, 1, 2)),
        ("6/1/08", date(2008, 6, 1)),  # exactly 18 today
        ("3/12/08", date(2008, 3, 12)),
        ("6/2/08", date(1908, 6, 2)),  # 2008 would be 17: the century before, 117
        ("3/12/10", date(1910, 3, 12)),
        ("3/12/30", date(1930, 3, 12)),
        ("3/12/99", date(1999, 3, 12)),
        ("6/2/1906", date(1906, 6, 2)),  # 119
    ],
)
def test_parse_dob_edge_dates_and_two_digit_years(text: str, expected: date) -> None:
    assert parse_dob(text, DOB_TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2/30/84",
        "2/29/83",  # not a leap year
        "02/29/1983",
        "13/13/1984",
        "0/12/1984",
        "3/32/1984",
        "6/2/2008",  # 17 tomorrow-birthday: under 18
        "1/1/2020",
        "1/1/2030",  # the future
        "6/1/1906",  # 120 today
        "1/1/1850",
        "tomorrow",
        "",
        "98103",
        "last four 6789",
    ],
)
def test_parse_dob_refuses_impossible_or_implausible_dates(text: str) -> None:
    assert parse_dob(text, DOB_TODAY) is None


def test_a_feb_29_birthday_comes_on_march_1_in_other_years() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 17
    assert age_on(born, date(2026, 3, 1)) == 18
    assert parse_dob("2/29/2008", date(2026, 2, 28)) is None
    assert parse_dob("2/29/2008", date(2026, 3, 1)) == born


@given(
    st.dates(min_value=date(1907, 6, 2), max_value=date(2008, 6, 1)),
    st.sampled_from(
        [
            "{d.month}/{d.day}/{d.year}",
            "{d.month:02d}/{d.day:02d}/{d.year}",
            "{d.month}-{d.day}-{d.year}",
            "{d.month}.{d.day}.{d.year}",
            "{d.year}-{d.month:02d}-{d.day:02d}",
            "{month} {d.day}, {d.year}",
            "{d.day} {month} {d.year}",
            "{d.month:02d}{d.day:02d}{d.year}",
        ]
    ),
)
def test_any_adult_birth_date_reads_back_in_every_format(born: date, pattern: str) -> None:
    month = format_date(born).split(", ")[1].split()[0]
    assert parse_dob(pattern.format(d=born, month=month), DOB_TODAY) == born


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 6, 1)))
def test_two_digit_years_pick_the_most_recent_adult_year(born: date) -> None:
    parsed = parse_dob(f"{born.month}/{born.day}/{born.year % 100:02d}", DOB_TODAY)
    if parsed is None:
        return
    assert (parsed.month, parsed.day, parsed.year % 100) == (born.month, born.day, born.year % 100)
    assert 18 <= age_on(parsed, DOB_TODAY) < 120
    try:
        newer = parsed.replace(year=parsed.year + 100)
    except ValueError:
        return
    assert newer > DOB_TODAY or age_on(newer, DOB_TODAY) < 18


# ----------------------------------------------------------------------------- format_date


@pytest.mark.parametrize(
    ("d", "today", "text"),
    [
        (date(2026, 12, 4), None, "Friday, Dec 4"),
        (date(2026, 12, 4), date(2026, 1, 1), "Friday, Dec 4"),
        (date(2027, 1, 8), date(2026, 12, 4), "Friday, Jan 8, 2027"),
        (date(2025, 12, 31), date(2026, 1, 2), "Wednesday, Dec 31, 2025"),
        (date(2026, 9, 14), None, "Monday, Sep 14"),
        (date(2028, 2, 29), date(2028, 2, 1), "Tuesday, Feb 29"),
        (date(2026, 5, 10), None, "Sunday, May 10"),
    ],
)
def test_format_date_writes_weekday_month_and_day_and_the_year_when_it_differs(
    d: date, today: date | None, text: str
) -> None:
    assert format_date(d, today) == text


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (time(17), "5:00 PM"),
        (time(0, 30), "12:30 AM"),
        (time(12), "12:00 PM"),
        (time(8, 5), "8:05 AM"),
    ],
)
def test_format_clock_is_the_12_hour_clock_in_english(t: time, text: str) -> None:
    assert format_clock(t) == text


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("when is my next payment due?", True),
        ("whens my payment", True),
        ("what day is my payment due", True),
        ("which date do i have to pay by", True),
        ("whats the date of my next payment", True),
        ("what is the day my payment comes out", True),
        ("my due date?", True),
        ("can i change my due date", False),
        ("when can i move my payment", False),
        ("can i change the date of my payment", False),
        ("push it back a week", False),
        ("when is the next one, can it be later", False),
    ],
)
def test_asks_when_is_a_question_about_the_date_not_a_wish_to_move_it(
    text: str, asks: bool
) -> None:
    assert asks_when(text) is asks
