"""parse_preference(): contact preferences in a debtor's own words (compliance rule 11)."""

from __future__ import annotations

from datetime import time

import pytest

from bot.domain.contact import Channel, Preference
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("and not on weekends", PreferenceChange(avoid_weekends=True)),
        ("no texts on saturday or sunday", PreferenceChange(avoid_weekends=True)),
        ("text me on weekdays only", PreferenceChange(avoid_weekends=True)),
        ("don't message me at the weekend", PreferenceChange(avoid_weekends=True)),
        # "only" is about when, on the channel we are texting on: not "text messages only"
        ("please only text me in the evenings", PreferenceChange(earliest=time(17))),
        ("text only", PreferenceChange(channels=frozenset({Channel.SMS}))),
        # a channel refused with a time is about the time: texts still come before 9pm
        ("don't text me after 9pm", PreferenceChange(latest=time(21))),
        (
            "only text me, no calls, after 6",
            PreferenceChange(channels=frozenset({Channel.SMS}), earliest=time(18)),
        ),
    ],
)
def test_weekends_and_what_only_is_about(text: str, expected: PreferenceChange) -> None:
    assert parse_preference(text) == expected


@pytest.mark.parametrize("text", ["i work weekends", "only on weekends please"])
def test_weekends_named_without_asking_to_avoid_them_change_nothing(text: str) -> None:
    assert parse_preference(text).empty


def test_a_message_changes_what_it_names_and_keeps_the_rest() -> None:
    """ "Text me in the evenings", then "and not on weekends": both hold; then "email only":
    the hours and the weekends stay; new hours replace the old hours as a whole."""
    evenings = parse_preference("please only text me in the evenings").applied_to(None)
    assert evenings == Preference(earliest=time(17))
    both = parse_preference("and not on weekends").applied_to(evenings)
    assert both == Preference(earliest=time(17), avoid_weekends=True)
    email = parse_preference("email only").applied_to(both)
    assert email == Preference(
        channels=frozenset({Channel.EMAIL}), earliest=time(17), avoid_weekends=True
    )
    before_8 = parse_preference("text me before 8pm").applied_to(email)
    assert (before_8.earliest, before_8.latest, before_8.channels) == (
        None, time(20), frozenset({Channel.EMAIL}),
    )  # fmt: skip
