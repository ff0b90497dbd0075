"""parse_preference(): contact preferences in a debtor's own words (compliance rule 11)."""

from __future__ import annotations

from datetime import time

import pytest

from bot.domain.contact import Channel
from bot.domain.preferences import PreferenceChange, parse_preference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "text me after 6pm", PreferenceChange(earliest=time(18)), id="after-6pm-sms-default"
        ),
        pytest.param("text me after 6", PreferenceChange(earliest=time(18)), id="bare-6-means-pm"),
        pytest.param(
            "after 6:30 p.m.", PreferenceChange(earliest=time(18, 30)), id="minutes-and-dotted-pm"
        ),
        pytest.param(
            "email only",
            PreferenceChange(channels=frozenset({Channel.EMAIL})),
            id="email-only",
        ),
        pytest.param(
            "dont text me at work",
            PreferenceChange(avoid_work_hours=True),
            id="not-at-work",
        ),
        pytest.param(
            "call me in the evenings",
            PreferenceChange(channels=frozenset({Channel.VOICE}), earliest=time(17)),
            id="call-in-evenings",
        ),
        pytest.param(
            "text me before 8pm", PreferenceChange(latest=time(20)), id="before-8pm-is-latest"
        ),
    ],
)
def test_preference_is_read_from_plain_words(text: str, expected: PreferenceChange) -> None:
    result = parse_preference(text)

    assert result == expected
    assert not result.empty


@pytest.mark.parametrize("text", ["whenever", "any time is fine", ""])
def test_no_preference_in_words_gives_an_empty_change(text: str) -> None:
    result = parse_preference(text)

    assert result.empty
    assert result == PreferenceChange()


def test_between_two_hours_sets_earliest_and_latest() -> None:
    assert parse_preference("only between 9am and 5pm") == PreferenceChange(
        earliest=time(9), latest=time(17)
    )


def test_not_before_an_hour_sets_earliest() -> None:
    assert parse_preference("please not before 9am") == PreferenceChange(earliest=time(9))


def test_no_texts_after_an_hour_sets_latest() -> None:
    assert parse_preference("no texts after 8pm") == PreferenceChange(latest=time(20))


def test_dont_call_me_does_not_make_calls_the_only_channel() -> None:
    result = parse_preference("dont call me at work")

    assert result.avoid_work_hours
    assert result.channels is None or Channel.VOICE not in result.channels
