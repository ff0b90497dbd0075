"""decide(): may this message go to this person now, and if not why (compliance rules 9-16)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.contact import (
    Channel,
    ContactContext,
    ContactPolicy,
    Decision,
    HoldReason,
    InvalidPolicyError,
    Kind,
    NaiveDatetimeError,
    NoContactWindowError,
    NoZonesError,
    Preference,
    Purpose,
    Reason,
    decide,
    next_window_start,
)
from bot.domain.timezones import consumer_zones

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
NY = (ET,)
US = tuple(sorted((ET, CT, MT, PT)))
MICRO = timedelta(microseconds=1)
CLOCK_REASONS = {
    Reason.OUTSIDE_WINDOW, Reason.PREFERENCE_HOURS, Reason.WORK_HOURS, Reason.WEEKEND
}  # fmt: skip
ALL_KINDS_AND_PURPOSES = list(itertools.product(Kind, Purpose))
NON_ATTORNEY_HOLDS = [h for h in HoldReason if h is not HoldReason.ATTORNEY]


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0, zone: str = ET) -> datetime:
    """A wall-clock time in `zone`, as the aware UTC instant decide() takes."""
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone)).astimezone(UTC)


WED_NOON = local(2026, 6, 10, 12)  # a Wednesday, 12:00 EDT
WED_23 = local(2026, 6, 10, 23)
SAT_NOON = local(2026, 6, 13, 12)


def ctx(**changes: object) -> ContactContext:
    base = ContactContext(
        channel=Channel.SMS, kind=Kind.INITIATED, purpose=Purpose.GENERAL, zones=NY
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def refused(decision: Decision, reason: Reason, not_before: datetime | None = None) -> bool:
    return decision == Decision(False, reason, not_before)


# --- The Decision itself -------------------------------------------------------------------


def test_a_decision_is_truthy_exactly_when_allowed() -> None:
    assert Decision(True, Reason.OK)
    assert not Decision(False, Reason.OPTED_OUT)


def test_an_allowed_decision_says_ok_with_no_wait() -> None:
    assert decide(ctx(), WED_NOON) == Decision(True, Reason.OK, None)


def test_reason_codes_are_the_stable_strings() -> None:
    assert {r.value for r in Reason} == {
        "ok",
        "wrong_number",
        "opted_out",
        "ceased",
        "attorney",
        "hold:distress",
        "hold:deceased",
        "hold:bankruptcy",
        "hold:dispute",
        "hold:validation",
        "channel_preference",
        "outside_window",
        "preference_hours",
        "work_hours",
        "weekend",
        "frequency_cap",
    }
    assert Reason.HOLD_DISPUTE == "hold:dispute"


# --- Rule 1: wrong number (compliance rule 4) -------------------------------------------------


@pytest.mark.parametrize(("kind", "purpose"), ALL_KINDS_AND_PURPOSES)
def test_a_wrong_number_is_never_contacted(kind: Kind, purpose: Purpose) -> None:
    decision = decide(ctx(kind=kind, purpose=purpose, wrong_number=True), WED_NOON)
    assert refused(decision, Reason.WRONG_NUMBER, None)


@pytest.mark.parametrize(("kind", "purpose"), ALL_KINDS_AND_PURPOSES)
def test_a_number_not_marked_wrong_is_contacted(kind: Kind, purpose: Purpose) -> None:
    assert decide(ctx(kind=kind, purpose=purpose), WED_NOON)


# --- Rules 2 and 3: opted out, ceased (compliance rules 9-10) ---------------------------------


@pytest.mark.parametrize("flag", ["opted_out", "ceased"])
@pytest.mark.parametrize(
    ("kind", "purpose"),
    [kp for kp in ALL_KINDS_AND_PURPOSES if kp != (Kind.REPLY, Purpose.COMPLIANCE)],
)
def test_after_opt_out_or_cease_nothing_but_a_compliance_reply_is_sent(
    flag: str, kind: Kind, purpose: Purpose
) -> None:
    decision = decide(ctx(kind=kind, purpose=purpose, **{flag: True}), WED_NOON)
    assert refused(decision, Reason(flag), None)


@pytest.mark.parametrize("flag", ["opted_out", "ceased"])
@pytest.mark.parametrize("now", [WED_NOON, WED_23])
def test_the_opt_out_confirmation_or_help_answer_goes_out_at_any_hour(
    flag: str, now: datetime
) -> None:
    context = ctx(kind=Kind.REPLY, purpose=Purpose.COMPLIANCE, **{flag: True})
    assert decide(context, now) == Decision(True, Reason.OK)


def test_a_wrong_number_wins_over_an_opt_out() -> None:
    context = ctx(kind=Kind.REPLY, purpose=Purpose.COMPLIANCE, opted_out=True, wrong_number=True)
    assert refused(decide(context, WED_NOON), Reason.WRONG_NUMBER)


def test_an_opt_out_wins_over_a_cease_and_a_hold() -> None:
    context = ctx(
        purpose=Purpose.COLLECTION, opted_out=True, ceased=True, holds={HoldReason.ATTORNEY}
    )
    assert refused(decide(context, WED_NOON), Reason.OPTED_OUT)


def test_a_cease_wins_over_an_attorney_hold() -> None:
    context = ctx(kind=Kind.REPLY, ceased=True, holds=frozenset({HoldReason.ATTORNEY}))
    assert refused(decide(context, WED_NOON), Reason.CEASED)


# --- Rule 4: attorney (compliance rule 15) ----------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("purpose", [Purpose.COLLECTION, Purpose.GENERAL])
def test_with_an_attorney_only_compliance_messages_go_out(kind: Kind, purpose: Purpose) -> None:
    context = ctx(kind=kind, purpose=purpose, holds=frozenset({HoldReason.ATTORNEY}))
    assert refused(decide(context, WED_NOON), Reason.ATTORNEY, None)


@pytest.mark.parametrize("kind", list(Kind))
def test_with_an_attorney_compliance_messages_still_go_out(kind: Kind) -> None:
    context = ctx(kind=kind, purpose=Purpose.COMPLIANCE, holds=frozenset({HoldReason.ATTORNEY}))
    assert decide(context, WED_NOON)


def test_an_attorney_wins_over_every_other_hold() -> None:
    context = ctx(purpose=Purpose.COLLECTION, holds=frozenset(HoldReason))
    assert refused(decide(context, WED_NOON), Reason.ATTORNEY)


# --- Rule 5: holds stop collection (compliance rules 14-16) -----------------------------------


@pytest.mark.parametrize("hold", NON_ATTORNEY_HOLDS)
@pytest.mark.parametrize("kind", list(Kind))
def test_a_hold_refuses_every_collection_message(hold: HoldReason, kind: Kind) -> None:
    context = ctx(kind=kind, purpose=Purpose.COLLECTION, holds=frozenset({hold}))
    assert refused(decide(context, WED_NOON), Reason(f"hold:{hold.value}"), None)


@pytest.mark.parametrize("hold", NON_ATTORNEY_HOLDS)
@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("purpose", [Purpose.GENERAL, Purpose.COMPLIANCE])
def test_a_hold_lets_conversation_and_compliance_messages_through(
    hold: HoldReason, kind: Kind, purpose: Purpose
) -> None:
    context = ctx(kind=kind, purpose=purpose, holds=frozenset({hold}))
    assert decide(context, WED_NOON)


@pytest.mark.parametrize("kind", list(Kind))
def test_collection_without_a_hold_goes_out(kind: Kind) -> None:
    assert decide(ctx(kind=kind, purpose=Purpose.COLLECTION), WED_NOON)


@pytest.mark.parametrize(
    ("holds", "reason"),
    [
        ({HoldReason.DISPUTE, HoldReason.DISTRESS}, Reason.HOLD_DISTRESS),
        ({HoldReason.DISPUTE, HoldReason.DECEASED}, Reason.HOLD_DECEASED),
        ({HoldReason.VALIDATION, HoldReason.BANKRUPTCY}, Reason.HOLD_BANKRUPTCY),
        ({HoldReason.VALIDATION, HoldReason.DISPUTE}, Reason.HOLD_DISPUTE),
        (set(NON_ATTORNEY_HOLDS), Reason.HOLD_DISTRESS),
    ],
)
def test_of_several_holds_the_most_serious_is_reported(
    holds: set[HoldReason], reason: Reason
) -> None:
    context = ctx(purpose=Purpose.COLLECTION, holds=frozenset(holds))
    assert refused(decide(context, WED_NOON), reason)


@pytest.mark.parametrize(
    ("hold", "allowed"),
    [
        (HoldReason.DISTRESS, False),
        (HoldReason.DECEASED, False),
        (HoldReason.BANKRUPTCY, False),
        (HoldReason.DISPUTE, True),
        (HoldReason.VALIDATION, True),
    ],
)
def test_no_survey_after_an_escalation_hold_but_a_dispute_does_not_stop_one(
    hold: HoldReason, allowed: bool
) -> None:
    decision = decide(ctx(purpose=Purpose.FEEDBACK, holds=frozenset({hold})), WED_NOON)
    assert decision.allowed is allowed
    if not allowed:
        assert refused(decision, Reason(f"hold:{hold.value}"), None)


def test_a_hold_wins_over_the_clock() -> None:
    context = ctx(purpose=Purpose.COLLECTION, holds=frozenset({HoldReason.DISPUTE}))
    assert refused(decide(context, WED_23), Reason.HOLD_DISPUTE, None)


# --- Rule 6: channel preference (compliance rule 11) ------------------------------------------


@pytest.mark.parametrize(
    ("channels", "channel", "allowed"),
    [
        (None, Channel.EMAIL, True),
        (frozenset({Channel.EMAIL}), Channel.EMAIL, True),
        (frozenset({Channel.EMAIL, Channel.WEB}), Channel.WEB, True),
        (frozenset({Channel.EMAIL}), Channel.SMS, False),
        (frozenset({Channel.SMS}), Channel.VOICE, False),
        (frozenset(), Channel.SMS, False),
    ],
)
def test_an_initiated_message_goes_only_on_a_preferred_channel(
    channels: frozenset[Channel] | None, channel: Channel, allowed: bool
) -> None:
    context = ctx(channel=channel, preference=Preference(channels=channels))
    decision = decide(context, WED_NOON)
    assert decision.allowed is allowed
    if not allowed:
        assert refused(decision, Reason.CHANNEL_PREFERENCE, None)


def test_a_reply_goes_back_on_the_channel_the_consumer_used_whatever_the_preference() -> None:
    context = ctx(kind=Kind.REPLY, preference=Preference(channels=frozenset({Channel.EMAIL})))
    assert decide(context, WED_NOON)


# --- Rule 6: the 08:00-21:00 window (compliance rule 12) --------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "second", "allowed"),
    [
        (0, 0, 0, False),
        (7, 59, 59, False),
        (8, 0, 0, True),
        (12, 0, 0, True),
        (20, 59, 59, True),
        (21, 0, 0, False),
        (23, 0, 0, False),
    ],
)
def test_an_initiated_message_goes_only_between_8_and_21_local(
    hour: int, minute: int, second: int, allowed: bool
) -> None:
    decision = decide(ctx(), local(2026, 6, 10, hour, minute, second))
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == Reason.OUTSIDE_WINDOW


@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_reply_at_23_00_goes_out_while_an_initiated_message_does_not(purpose: Purpose) -> None:
    assert decide(ctx(kind=Kind.REPLY, purpose=purpose), WED_23)
    assert refused(
        decide(ctx(kind=Kind.INITIATED, purpose=purpose), WED_23),
        Reason.OUTSIDE_WINDOW,
        local(2026, 6, 11, 8),
    )


@pytest.mark.parametrize(
    ("now", "not_before"),
    [
        (local(2026, 6, 10, 3), local(2026, 6, 10, 8)),  # before dawn: the same morning
        (local(2026, 6, 10, 7, 59, 59), local(2026, 6, 10, 8)),
        (local(2026, 6, 10, 21), local(2026, 6, 11, 8)),  # evening: the next morning
        (local(2026, 12, 31, 22), local(2027, 1, 1, 8)),  # over the year's end
    ],
)
def test_outside_the_window_not_before_is_the_next_8_00_local(
    now: datetime, not_before: datetime
) -> None:
    assert refused(decide(ctx(), now), Reason.OUTSIDE_WINDOW, not_before)


# Address in New York (Eastern), area code in Seattle (Pacific): only the hours inside both
# windows, 11:00-21:00 Eastern = 08:00-18:00 Pacific.
EAST_AND_WEST = consumer_zones("NY", "+12065550100")


def test_an_eastern_address_with_a_pacific_area_code_spans_both_zones() -> None:
    assert EAST_AND_WEST == (PT, ET)


@pytest.mark.parametrize(
    ("now", "allowed", "not_before"),
    [
        (local(2026, 6, 10, 8), False, local(2026, 6, 10, 11)),  # 05:00 PT
        (local(2026, 6, 10, 10, 59), False, local(2026, 6, 10, 11)),  # 07:59 PT
        (local(2026, 6, 10, 11), True, None),  # 08:00 PT
        (local(2026, 6, 10, 17, 59, zone=PT), True, None),  # 20:59 ET
        (local(2026, 6, 10, 18, zone=PT), False, local(2026, 6, 11, 11)),  # 21:00 ET
        (local(2026, 6, 10, 20, zone=PT), False, local(2026, 6, 11, 11)),  # 23:00 ET
    ],
)
def test_when_area_code_and_address_disagree_only_hours_inside_both_windows_are_used(
    now: datetime, allowed: bool, not_before: datetime | None
) -> None:
    decision = decide(ctx(zones=EAST_AND_WEST), now)
    assert decision.allowed is allowed
    assert decision.not_before == not_before


# Texas spans Central and Mountain: 09:00-21:00 Central = 08:00-20:00 Mountain.
@pytest.mark.parametrize(
    ("now", "allowed", "not_before"),
    [
        (local(2026, 6, 10, 8, 30, zone=CT), False, local(2026, 6, 10, 9, zone=CT)),
        (local(2026, 6, 10, 9, zone=CT), True, None),
        (local(2026, 6, 10, 20, 59, zone=CT), True, None),
        (local(2026, 6, 10, 21, zone=CT), False, local(2026, 6, 11, 9, zone=CT)),
    ],
)
def test_texas_uses_the_hours_inside_both_central_and_mountain_windows(
    now: datetime, allowed: bool, not_before: datetime | None
) -> None:
    decision = decide(ctx(zones=consumer_zones("TX", None)), now)
    assert decision.allowed is allowed
    assert decision.not_before == not_before


def test_with_nothing_known_the_window_is_11_to_18_pacific_the_continental_intersection() -> None:
    zones = consumer_zones(None, None)
    assert not decide(ctx(zones=zones), local(2026, 6, 10, 10, 59))
    assert decide(ctx(zones=zones), local(2026, 6, 10, 11))
    assert decide(ctx(zones=zones), local(2026, 6, 10, 17, 59, zone=PT))
    assert not decide(ctx(zones=zones), local(2026, 6, 10, 18, zone=PT))


# --- Daylight saving: America/New_York springs forward 2026-03-08, falls back 2026-11-01 ------


@pytest.mark.parametrize(
    ("now", "not_before"),
    [
        # Spring forward: 08:00 EDT is 12:00 UTC, not 13:00 as on the day before.
        (datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        (datetime(2026, 3, 7, 3, 0, tzinfo=UTC), datetime(2026, 3, 7, 13, 0, tzinfo=UTC)),
        (datetime(2026, 3, 8, 2, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # Fall back: 08:00 EST is 13:00 UTC, not 12:00 as on the day before.
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        (datetime(2026, 11, 1, 12, 30, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        (datetime(2026, 10, 31, 11, 0, tzinfo=UTC), datetime(2026, 10, 31, 12, 0, tzinfo=UTC)),
    ],
)
def test_on_dst_transition_days_the_window_starts_at_8_00_local_wall_clock(
    now: datetime, not_before: datetime
) -> None:
    assert refused(decide(ctx(), now), Reason.OUTSIDE_WINDOW, not_before)
    assert decide(ctx(), not_before)
    assert not decide(ctx(), not_before - MICRO)


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (datetime(2026, 3, 8, 1, 59, tzinfo=UTC), True),  # 20:59 EST on the 7th
        (datetime(2026, 3, 8, 2, 0, tzinfo=UTC), False),  # 21:00 EST on the 7th
        (datetime(2026, 3, 9, 0, 59, tzinfo=UTC), True),  # 20:59 EDT on the 8th
        (datetime(2026, 3, 9, 1, 0, tzinfo=UTC), False),  # 21:00 EDT on the 8th
        (datetime(2026, 11, 1, 0, 59, tzinfo=UTC), True),  # 20:59 EDT on Oct 31
        (datetime(2026, 11, 1, 1, 0, tzinfo=UTC), False),  # 21:00 EDT on Oct 31
        (datetime(2026, 11, 2, 1, 59, tzinfo=UTC), True),  # 20:59 EST on Nov 1
        (datetime(2026, 11, 2, 2, 0, tzinfo=UTC), False),  # 21:00 EST on Nov 1
    ],
)
def test_on_dst_transition_days_the_window_ends_at_21_00_local_wall_clock(
    now: datetime, allowed: bool
) -> None:
    assert decide(ctx(), now).allowed is allowed


@pytest.mark.parametrize(
    ("policy", "now", "expected"),
    [
        # 02:30 does not exist on 2026-03-08: the window opens when the clock jumps to 03:00 EDT.
        (ContactPolicy(window_start=time(2, 30)), datetime(2026, 3, 8, 6, 59, tzinfo=UTC),
         datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # 01:30 happens twice on 2026-11-01: the window opens at the first (05:30 UTC, EDT).
        (ContactPolicy(window_start=time(1, 30)), datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
         datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # A window 00:00-01:30 closes at 01:30 EDT and reopens when the clock falls back to
        # 01:00 EST (06:00 UTC).
        (ContactPolicy(window_start=time(0), window_end=time(1, 30)),
         datetime(2026, 11, 1, 5, 45, tzinfo=UTC), datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_window_search_lands_exactly_on_dst_gaps_and_folds(
    policy: ContactPolicy, now: datetime, expected: datetime
) -> None:
    assert next_window_start(now, NY, policy) == expected


# --- Rule 6: preference hours and work hours (compliance rule 11) -----------------------------


@pytest.mark.parametrize(
    ("preference", "now", "reason", "not_before"),
    [
        # "text after 6pm"
        (Preference(earliest=time(18)), local(2026, 6, 10, 12), Reason.PREFERENCE_HOURS,
         local(2026, 6, 10, 18)),
        (Preference(earliest=time(18)), local(2026, 6, 10, 18), None, None),
        (Preference(earliest=time(18)), local(2026, 6, 10, 21), Reason.OUTSIDE_WINDOW,
         local(2026, 6, 11, 18)),
        (Preference(earliest=time(18)), local(2026, 6, 10, 7), Reason.OUTSIDE_WINDOW,
         local(2026, 6, 10, 18)),
        # "before 10am"
        (Preference(latest=time(10)), local(2026, 6, 10, 9, 59), None, None),
        (Preference(latest=time(10)), local(2026, 6, 10, 10), Reason.PREFERENCE_HOURS,
         local(2026, 6, 11, 8)),
        # "between noon and 2pm"
        (Preference(earliest=time(12), latest=time(14)), local(2026, 6, 10, 14),
         Reason.PREFERENCE_HOURS, local(2026, 6, 11, 12)),
        # wrapping over midnight: "after 8pm or before 9am"
        (Preference(earliest=time(20), latest=time(9)), local(2026, 6, 10, 8, 30), None, None),
        (Preference(earliest=time(20), latest=time(9)), local(2026, 6, 10, 12),
         Reason.PREFERENCE_HOURS, local(2026, 6, 10, 20)),
        (Preference(earliest=time(20), latest=time(9)), local(2026, 6, 10, 20, 30), None, None),
    ],
)  # fmt: skip
def test_an_initiated_message_keeps_to_the_preferred_hours(
    preference: Preference, now: datetime, reason: Reason | None, not_before: datetime | None
) -> None:
    decision = decide(ctx(preference=preference), now)
    if reason is None:
        assert decision == Decision(True, Reason.OK)
    else:
        assert refused(decision, reason, not_before)


@pytest.mark.parametrize("earliest", [time(21), time(22), time(23, 59)])
def test_preferred_hours_outside_the_window_never_allow_an_initiated_message(
    earliest: time,
) -> None:
    decision = decide(ctx(preference=Preference(earliest=earliest)), WED_NOON)
    assert refused(decision, Reason.PREFERENCE_HOURS, None)


def test_preferred_hours_apply_in_every_zone_the_consumer_may_be_in() -> None:
    context = ctx(zones=EAST_AND_WEST, preference=Preference(earliest=time(18)))
    # 18:00 ET is 15:00 PT: not yet after 6pm in Seattle; 18:00 PT is 21:00 ET: outside.
    assert refused(decide(context, local(2026, 6, 10, 18)), Reason.PREFERENCE_HOURS, None)


@pytest.mark.parametrize(
    ("now", "reason", "not_before"),
    [
        (local(2026, 6, 10, 8, 30), None, None),  # Wednesday before work
        (local(2026, 6, 10, 9), Reason.WORK_HOURS, local(2026, 6, 10, 17)),
        (local(2026, 6, 10, 16, 59), Reason.WORK_HOURS, local(2026, 6, 10, 17)),
        (local(2026, 6, 10, 17), None, None),
        (local(2026, 6, 12, 10), Reason.WORK_HOURS, local(2026, 6, 12, 17)),  # Friday
        (SAT_NOON, None, None),  # Saturday
        (local(2026, 6, 14, 12), None, None),  # Sunday
    ],
)
def test_not_at_work_means_no_initiated_message_mon_to_fri_9_to_17(
    now: datetime, reason: Reason | None, not_before: datetime | None
) -> None:
    decision = decide(ctx(preference=Preference(avoid_work_hours=True)), now)
    if reason is None:
        assert decision.allowed
    else:
        assert refused(decision, reason, not_before)


@pytest.mark.parametrize(
    ("now", "reason", "not_before"),
    [
        (local(2026, 6, 12, 20, 59), None, None),  # Friday evening
        (SAT_NOON, Reason.WEEKEND, local(2026, 6, 15, 8)),  # Monday 8:00, the window's start
        (local(2026, 6, 14, 20), Reason.WEEKEND, local(2026, 6, 15, 8)),  # Sunday
        (local(2026, 6, 15, 8), None, None),  # Monday
    ],
)
def test_not_on_weekends_means_no_initiated_message_saturday_or_sunday(
    now: datetime, reason: Reason | None, not_before: datetime | None
) -> None:
    decision = decide(ctx(preference=Preference(avoid_weekends=True)), now)
    if reason is None:
        assert decision.allowed
    else:
        assert refused(decision, reason, not_before)


def test_a_reply_ignores_preferred_hours_and_work_hours() -> None:
    pref = Preference(earliest=time(18), avoid_work_hours=True, avoid_weekends=True)
    assert decide(ctx(kind=Kind.REPLY, preference=pref), WED_NOON)
    assert decide(ctx(kind=Kind.REPLY, preference=pref), SAT_NOON)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"earliest": time(18), "latest": time(18)},
        {"earliest": time(18, tzinfo=UTC)},
        {"latest": time(9, tzinfo=UTC)},
    ],
)
def test_an_empty_or_zoned_preference_is_rejected(kwargs: dict[str, time]) -> None:
    with pytest.raises(InvalidPolicyError):
        Preference(**kwargs)  # type: ignore[arg-type]


# --- Rule 6: frequency cap (compliance rule 13) -----------------------------------------------


def sent(*days_ago: float, now: datetime = WED_NOON) -> tuple[datetime, ...]:
    return tuple(now - timedelta(days=d) for d in days_ago)


@pytest.mark.parametrize(
    ("days_ago", "allowed"),
    [
        ((), True),
        ((1,), True),
        ((6, 3), True),
        ((6, 3, 0.01), False),  # the fourth in 7 rolling days
        ((7, 3, 0.01), True),  # one sent exactly 7 days ago no longer counts
        ((8, 9, 10, 30), True),
        ((6.99, 5, 4, 3, 2), False),
    ],
)
def test_initiated_messages_are_capped_at_3_in_7_rolling_days(
    days_ago: tuple[float, ...], allowed: bool
) -> None:
    decision = decide(ctx(initiated_sent_at=sent(*days_ago)), WED_NOON)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == Reason.FREQUENCY_CAP


def test_the_fourth_message_waits_until_exactly_7_days_after_the_oldest() -> None:
    context = ctx(initiated_sent_at=sent(6, 3, 0.01))
    oldest = WED_NOON - timedelta(days=6)
    decision = decide(context, WED_NOON)
    assert refused(decision, Reason.FREQUENCY_CAP, oldest + timedelta(days=7))
    assert decide(context, oldest + timedelta(days=7))
    assert not decide(context, oldest + timedelta(days=7) - MICRO)


def test_with_more_than_the_cap_sent_the_wait_is_until_enough_have_aged_out() -> None:
    # Five in the week (possible after a policy change); three must age out, the third
    # oldest at 4 days ago releases in 3 days.
    context = ctx(initiated_sent_at=sent(6, 5, 4, 3, 2))
    decision = decide(context, WED_NOON)
    assert refused(decision, Reason.FREQUENCY_CAP, WED_NOON + timedelta(days=3))


def test_a_cap_release_outside_the_window_waits_for_the_window() -> None:
    oldest = local(2026, 6, 3, 22)  # released 22:00 on the 10th: outside the window
    context = ctx(initiated_sent_at=(oldest, local(2026, 6, 8, 12), local(2026, 6, 9, 12)))
    decision = decide(context, WED_NOON)
    assert refused(decision, Reason.FREQUENCY_CAP, local(2026, 6, 11, 8))


def test_outside_the_window_and_over_the_cap_the_window_is_reported_and_both_waited_for() -> None:
    # The window opens at 08:00 on the 11th, the cap releases at 09:00 (7 days after the oldest).
    sent_at = (local(2026, 6, 4, 9), local(2026, 6, 8, 12), local(2026, 6, 9, 12))
    decision = decide(ctx(initiated_sent_at=sent_at), local(2026, 6, 10, 22))
    assert refused(decision, Reason.OUTSIDE_WINDOW, local(2026, 6, 11, 9))


@pytest.mark.parametrize(
    ("state", "count", "allowed"),
    [
        ("MA", 1, True),
        ("MA", 2, False),
        ("ma", 2, False),
        (" MA ", 2, False),
        ("NY", 2, True),
        (None, 2, True),
        ("NY", 3, False),
    ],
)
def test_massachusetts_caps_initiated_messages_at_2_in_7_days(
    state: str | None, count: int, allowed: bool
) -> None:
    context = ctx(state=state, initiated_sent_at=sent(*range(1, count + 1)))
    decision = decide(context, WED_NOON)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == Reason.FREQUENCY_CAP


def test_the_massachusetts_cap_releases_7_days_after_the_older_of_the_two() -> None:
    context = ctx(state="MA", initiated_sent_at=sent(5, 1))
    assert decide(context, WED_NOON).not_before == WED_NOON + timedelta(days=2)


def test_a_policy_can_set_its_own_caps() -> None:
    policy = ContactPolicy(cap=1, cap_days=1, state_caps={"CA": 5})
    assert not decide(ctx(initiated_sent_at=sent(0.5)), WED_NOON, policy)
    assert decide(ctx(initiated_sent_at=sent(1)), WED_NOON, policy)
    assert decide(ctx(state="CA", initiated_sent_at=sent(0.1, 0.2)), WED_NOON, policy)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_a_reply_is_exempt_from_the_cap(purpose: Purpose) -> None:
    context = ctx(kind=Kind.REPLY, purpose=purpose, initiated_sent_at=sent(1, 2, 3, 4))
    assert decide(context, WED_NOON)


def test_the_window_is_checked_before_preferences_and_the_cap() -> None:
    context = ctx(
        preference=Preference(earliest=time(18), avoid_work_hours=True),
        initiated_sent_at=sent(1, 2, 3),
    )
    assert decide(context, WED_23).reason == Reason.OUTSIDE_WINDOW
    assert decide(context, WED_NOON).reason == Reason.PREFERENCE_HOURS
    work_context = replace(context, preference=Preference(avoid_work_hours=True))
    assert decide(work_context, WED_NOON).reason == Reason.WORK_HOURS
    assert decide(work_context, SAT_NOON).reason == Reason.FREQUENCY_CAP


# --- next_window_start and inputs -------------------------------------------------------------


def test_next_window_start_is_now_when_now_is_inside() -> None:
    assert next_window_start(WED_NOON, NY, ContactPolicy()) == WED_NOON


def test_next_window_start_raises_when_the_hours_can_never_meet() -> None:
    with pytest.raises(NoContactWindowError):
        next_window_start(WED_NOON, NY, ContactPolicy(), Preference(earliest=time(22)))


def test_next_window_start_raises_when_the_zones_never_share_an_hour() -> None:
    # Guam is 14 hours ahead of New York; an 08:00-10:00 window never overlaps.
    policy = ContactPolicy(window_start=time(8), window_end=time(10))
    with pytest.raises(NoContactWindowError):
        next_window_start(WED_NOON, (ET, "Pacific/Guam"), policy)


def test_an_aware_non_utc_now_is_read_as_the_same_instant() -> None:
    eastern_now = datetime(2026, 6, 10, 23, tzinfo=ZoneInfo(ET))
    assert decide(ctx(), eastern_now) == decide(ctx(), WED_23)
    assert decide(ctx(), eastern_now).not_before.tzinfo is UTC  # type: ignore[union-attr]


def test_a_naive_now_is_rejected() -> None:
    with pytest.raises(NaiveDatetimeError):
        decide(ctx(), datetime(2026, 6, 10, 12))
    with pytest.raises(NaiveDatetimeError):
        next_window_start(datetime(2026, 6, 10, 12), NY, ContactPolicy())


def test_a_naive_sent_time_is_rejected() -> None:
    with pytest.raises(NaiveDatetimeError):
        ctx(initiated_sent_at=(datetime(2026, 6, 9, 12),))


def test_a_context_without_zones_is_rejected() -> None:
    with pytest.raises(NoZonesError):
        ctx(zones=())
    with pytest.raises(NoZonesError):
        next_window_start(WED_NOON, (), ContactPolicy())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_start": time(21), "window_end": time(8)},
        {"window_start": time(8), "window_end": time(8)},
        {"cap": 0},
        {"cap_days": 0},
        {"state_caps": {"MA": 0}},
    ],
)
def test_an_impossible_policy_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidPolicyError):
        ContactPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_default_policy_is_the_compliance_baseline() -> None:
    policy = ContactPolicy()
    assert (policy.window_start, policy.window_end) == (time(8), time(21))
    assert (policy.cap, policy.cap_days) == (3, 7)
    assert policy.cap_for("MA") == 2
    assert policy.cap_for("TX") == 3


# --- Properties ---------------------------------------------------------------------------------

ZONE_POOL = [
    ET,
    CT,
    MT,
    PT,
    "America/Phoenix",
    "America/Anchorage",
    "America/Adak",
    "America/Indiana/Knox",
    "America/Puerto_Rico",
    "Pacific/Honolulu",
    "Pacific/Guam",
    "Europe/London",
    "Australia/Sydney",  # daylight saving in the opposite season
]

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
zone_sets = st.lists(st.sampled_from(ZONE_POOL), min_size=1, max_size=3, unique=True).map(tuple)
clock_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
preferences = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.none(), clock_times),
        st.one_of(st.none(), clock_times),
        st.booleans(),
        st.booleans(),
    )
    .filter(lambda t: t[0] is None or t[0] != t[1])
    .map(
        lambda t: Preference(earliest=t[0], latest=t[1], avoid_work_hours=t[2], avoid_weekends=t[3])
    ),
)


@st.composite
def initiated_contexts(draw: st.DrawFn) -> tuple[ContactContext, datetime]:
    now = draw(instants)
    ages = draw(st.lists(st.integers(0, 8 * 24 * 3600), max_size=5))
    context = ctx(
        zones=draw(zone_sets),
        preference=draw(preferences),
        initiated_sent_at=tuple(now - timedelta(seconds=a) for a in ages),
        state=draw(st.sampled_from([None, "MA", "TX"])),
    )
    return context, now


@settings(max_examples=300, deadline=None)
@given(initiated_contexts())
def test_not_before_is_strictly_later_and_the_first_instant_that_is_allowed(
    case: tuple[ContactContext, datetime],
) -> None:
    context, now = case
    decision = decide(context, now)
    if decision.allowed:
        assert decision.not_before is None
        return
    assert decision.reason in CLOCK_REASONS | {Reason.FREQUENCY_CAP}
    if decision.not_before is None:  # never: the clock rules cannot all hold at once
        assert decision.reason in CLOCK_REASONS
        return
    assert decision.not_before > now
    assert decision.not_before.tzinfo is UTC
    assert decide(context, decision.not_before)
    assert not decide(context, decision.not_before - MICRO)


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(ZONE_POOL[:-2]))
def test_in_one_us_zone_an_initiated_message_waits_for_8_00_local_on_any_day(
    now: datetime, zone: str
) -> None:
    decision = decide(ctx(zones=(zone,)), now)
    if decision.allowed:
        assert time(8) <= now.astimezone(ZoneInfo(zone)).time() < time(21)
    else:
        assert decision.reason == Reason.OUTSIDE_WINDOW
        assert decision.not_before is not None
        assert decision.not_before.astimezone(ZoneInfo(zone)).time() == time(8)
        assert decision.not_before - now <= timedelta(hours=12)


def clock_allows(t: datetime, zones: tuple[str, ...], pref: Preference | None) -> bool:
    """The clock rules written out plainly, as an oracle for the search."""
    for zone in zones:
        wall = t.astimezone(ZoneInfo(zone))
        clock = wall.time()
        if not time(8) <= clock < time(21):
            return False
        if pref is None:
            continue
        if pref.earliest is not None and pref.latest is not None and pref.earliest > pref.latest:
            if pref.latest <= clock < pref.earliest:
                return False
        elif (pref.earliest is not None and clock < pref.earliest) or (
            pref.latest is not None and clock >= pref.latest
        ):
            return False
        if pref.avoid_work_hours and wall.weekday() < 5 and time(9) <= clock < time(17):
            return False
        if pref.avoid_weekends and wall.weekday() >= 5:
            return False
    return True


@settings(max_examples=80, deadline=None)
@given(instants.map(lambda t: t.replace(second=0, microsecond=0)), zone_sets, preferences)
def test_next_window_start_matches_a_minute_by_minute_scan(
    now: datetime, zones: tuple[str, ...], preference: Preference | None
) -> None:
    minutes = (now + timedelta(minutes=m) for m in range(3 * 24 * 60))
    scan = next((t for t in minutes if clock_allows(t, zones, preference)), None)
    assume(scan is not None)
    assert next_window_start(now, zones, ContactPolicy(), preference) == scan


@settings(max_examples=100, deadline=None)
@given(initiated_contexts())
def test_a_reply_is_never_refused_for_the_clock_or_the_cap(
    case: tuple[ContactContext, datetime],
) -> None:
    context, now = case
    assert decide(replace(context, kind=Kind.REPLY), now)
