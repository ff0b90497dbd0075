"""TeamHours: when agents are in, and what a handoff promises outside those hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_settings
from bot.domain.team_hours import TeamHours
from bot.services.handoff import handoff_reply
from bot.wording import render

LA = ZoneInfo("America/Los_Angeles")
WEEKDAYS = TeamHours.parse("Mon-Fri 08:00-20:00", "America/Los_Angeles")


def la(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "back"),
    [
        (la(2026, 12, 8, 12, 0), None),  # Tuesday noon: in
        (la(2026, 12, 8, 8, 0), None),  # the opening minute
        (la(2026, 12, 8, 7, 59), la(2026, 12, 8, 8, 0)),
        (la(2026, 12, 8, 20, 0), la(2026, 12, 9, 8, 0)),  # closing time: tomorrow
        (la(2026, 12, 8, 23, 0), la(2026, 12, 9, 8, 0)),  # 11 pm
        (la(2026, 12, 11, 21, 0), la(2026, 12, 14, 8, 0)),  # Friday night: Monday
        (la(2026, 12, 13, 12, 0), la(2026, 12, 14, 8, 0)),  # Sunday
    ],
)
def test_the_team_is_back_at_the_next_opening(now: datetime, back: datetime | None) -> None:
    assert WEEKDAYS.next_open(now.astimezone(UTC)) == back
    assert WEEKDAYS.is_open(now) is (back is None)


def test_several_spans_a_wrap_over_the_weekend_and_midnight() -> None:
    hours = TeamHours.parse("Mon-Fri 08:00-20:00; Sat 09:00-13:00", "America/Los_Angeles")
    assert hours.next_open(la(2026, 12, 11, 21, 0)) == la(2026, 12, 12, 9, 0)  # Saturday
    late = TeamHours.parse("fri-mon 18:00-24:00", "America/Los_Angeles")
    assert late.is_open(la(2026, 12, 13, 23, 59))  # Sunday, before midnight
    assert late.next_open(la(2026, 12, 15, 10, 0)) == la(2026, 12, 18, 18, 0)  # Tue: Fri


@pytest.mark.parametrize("text", ["always", "24/7", ""])
def test_always_is_always_in(text: str) -> None:
    assert TeamHours.parse(text, "UTC").next_open(datetime(2026, 12, 13, 3, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "text", ["Mon-Fri 8-20", "Funday 08:00-10:00", "Mon 10:00-09:00", "Mon-Fri 08:00-25:00"]
)
def test_hours_that_cannot_be_read_are_refused_at_start_with_an_example(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError):
        TeamHours.parse(text, "UTC")
    monkeypatch.setenv("TEAM_HOURS", text)
    with pytest.raises(ValueError, match=r"TEAM_HOURS / TEAM_TIMEZONE: .*\(e\.g\. 'Mon-Fri"):
        load_settings(secret_key="x")


def test_an_unknown_time_zone_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_HOURS", "Mon-Fri 08:00-20:00")
    monkeypatch.setenv("TEAM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="TEAM_HOURS / TEAM_TIMEZONE"):
        load_settings(secret_key="x")


def test_a_handoff_at_11_pm_says_when_the_team_is_back_not_shortly() -> None:
    night = la(2026, 12, 8, 23, 0)
    response, values = handoff_reply("utter_handoff_human", WEEKDAYS, night)
    text = render(response, **values)
    assert "shortly" not in text
    assert text == (
        "Of course. Our team is away right now, so a member of the team will reply here from "
        "Wednesday, Dec 9 at 8:00 AM PST. You don't need to do anything else."
    )
    # in hours, and for replies that promise no time, nothing changes
    assert handoff_reply("utter_handoff_human", WEEKDAYS, la(2026, 12, 8, 12)) == (
        "utter_handoff_human", {},
    )  # fmt: skip
    assert handoff_reply("utter_deceased", WEEKDAYS, night) == ("utter_deceased", {})


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)))
def test_the_opening_named_is_the_first_minute_the_team_is_in(naive: datetime) -> None:
    now = naive.replace(tzinfo=UTC)
    back = WEEKDAYS.next_open(now)
    if back is None:
        return
    assert back > now and WEEKDAYS.is_open(back)
    assert not WEEKDAYS.is_open(back - timedelta(minutes=1))
    assert back - now <= timedelta(days=3)
