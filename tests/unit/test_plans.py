"""Payment plans: policy, schedules, offered and custom options, settlements, choosing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.domain.plans import (
    Installment,
    PlanOption,
    PlanPolicy,
    PolicyViolation,
    SplitRequest,
    build_schedule,
    check_settlement,
    choose_option,
    custom_option,
    offer_options,
    parse_split,
    plan_months,
    settlement_floor_cents,
)

POLICY = PlanPolicy()
THIRTEEN = PlanPolicy(max_months=13)
TODAY = date(2026, 11, 18)  # a Wednesday
FRESH = TODAY - timedelta(days=30)  # delinquent too recently for a settlement
OLD = TODAY - timedelta(days=400)  # the 70% tier
BALANCE = 136937  # $1,369.37
POLICY_FILE = Path(__file__).resolve().parents[2] / "bot" / "policy.yml"

balances = st.integers(min_value=100, max_value=5_000_000)
todays = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


def _keys(options: Sequence[PlanOption]) -> list[str]:
    return [o.key for o in options]


def _violation(code: str, call: object) -> PolicyViolation:
    assert callable(call)
    with pytest.raises(PolicyViolation) as info:
        call()
    assert info.value.code == code
    return info.value


# ----------------------------------------------------------------------------- policy


def test_policy_defaults_are_the_documented_ones() -> None:
    assert POLICY.min_installment_cents == 2500
    assert POLICY.max_months == 12
    assert POLICY.hardship_max_months == 24
    assert POLICY.hardship_min_installment_cents == 1000
    assert POLICY.allowed_frequencies == ("weekly", "biweekly", "monthly")
    assert POLICY.max_days_to_first_payment == 30
    assert POLICY.settlement_tiers == (
        (180, Decimal("0.80")),
        (365, Decimal("0.70")),
        (730, Decimal("0.60")),
    )
    assert POLICY.settlement_pay_within_days == 30
    assert POLICY.promise_max_days == 30
    assert POLICY.promise_min_cents == 100
    assert POLICY.reminder_days_before == 3


def test_the_shipped_policy_file_loads_to_the_defaults() -> None:
    data = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    assert PlanPolicy.from_mapping(data) == POLICY


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"min_installment_cents": "25.00"}, "min_installment_cents", 2500),
        ({"min_installment_cents": "$30"}, "min_installment_cents", 3000),
        ({"min_installment_cents": 4000}, "min_installment_cents", 4000),
        ({"promise_min_cents": Decimal("1.50")}, "promise_min_cents", 150),
        ({"hardship_min_installment_cents": "10"}, "hardship_min_installment_cents", 1000),
        ({"max_months": 18}, "max_months", 18),
        ({"max_months": "18"}, "max_months", 18),
        ({"allowed_frequencies": ["monthly"]}, "allowed_frequencies", ("monthly",)),
        (
            {"allowed_frequencies": ("Weekly ", "monthly")},
            "allowed_frequencies",
            ("weekly", "monthly"),
        ),
        (
            {"settlement_tiers": [[365, "0.7"], [90, "0.9"]]},
            "settlement_tiers",
            ((90, Decimal("0.9")), (365, Decimal("0.7"))),
        ),
        ({"settlement_tiers": {180: "0.75"}}, "settlement_tiers", ((180, Decimal("0.75")),)),
        ({"settlement_tiers": []}, "settlement_tiers", ()),
        ({}, "max_months", 12),
    ],
)
def test_policy_from_mapping_reads_money_as_decimal_strings_and_cents(
    data: dict[str, Any], field: str, value: object
) -> None:
    assert getattr(PlanPolicy.from_mapping(data), field) == value


def test_policy_from_mapping_names_every_unknown_setting() -> None:
    with pytest.raises(ValueError, match="max_month, min_payment"):
        PlanPolicy.from_mapping({"min_payment": "25.00", "max_month": 12, "max_months": 12})


@pytest.mark.parametrize(
    "data",
    [
        {"min_installment_cents": 25.0},  # a float near money
        {"min_installment_cents": "lots"},
        {"min_installment_cents": 0},
        {"min_installment_cents": True},
        {"max_months": 0},
        {"max_months": "twelve"},
        {"max_months": 1.5},
        {"max_days_to_first_payment": 0},
        {"reminder_days_before": -1},
        {"allowed_frequencies": "monthly"},
        {"allowed_frequencies": ["daily"]},
        {"allowed_frequencies": []},
        {"allowed_frequencies": ["monthly", "monthly"]},
        {"settlement_tiers": [[180, 0.8]]},  # a float fraction
        {"settlement_tiers": [[180, "1.5"]]},
        {"settlement_tiers": [[180, "0"]]},
        {"settlement_tiers": [[180, "abc"]]},
        {"settlement_tiers": [[180]]},
        {"settlement_tiers": [[180, "0.8"], [180, "0.7"]]},
        {"settlement_tiers": [[180, "0.6"], [365, "0.8"]]},  # longer needs more: a typo
        {"settlement_tiers": "180:0.8"},
    ],
)
def test_policy_from_mapping_refuses_bad_values(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PlanPolicy.from_mapping(data)


def test_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        POLICY.max_months = 6  # type: ignore[misc]


def test_policy_violation_carries_code_and_limit_and_refuses_unknown_codes() -> None:
    error = PolicyViolation("below_minimum", limit=2500)
    assert (error.code, error.limit) == ("below_minimum", 2500)
    assert "below_minimum" in str(error)
    with pytest.raises(ValueError):
        PolicyViolation("too_expensive")


# ----------------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    ("total", "count", "amounts"),
    [
        (100000, 3, [33333, 33333, 33334]),
        (100000, 4, [25000, 25000, 25000, 25000]),
        (136937, 12, [11411] * 11 + [11416]),
        (1, 1, [1]),
        (2, 2, [1, 1]),
        (3, 2, [1, 2]),
        (101, 10, [10] * 9 + [11]),
        (5, 5, [1, 1, 1, 1, 1]),
    ],
)
def test_installments_sum_to_the_total_to_the_cent_with_the_last_absorbing_the_rest(
    total: int, count: int, amounts: list[int]
) -> None:
    schedule = build_schedule(total, count, "monthly", TODAY)
    assert [i.amount_cents for i in schedule] == amounts
    assert sum(amounts) == total


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("2028-01-31", ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]),
        ("2027-01-31", ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]),
        ("2028-02-29", ["2028-02-29", "2028-03-29", "2028-04-29", "2028-05-29"]),
        ("2026-08-31", ["2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30"]),
        ("2026-11-30", ["2026-11-30", "2026-12-30", "2027-01-30", "2027-02-28"]),
        ("2026-12-15", ["2026-12-15", "2027-01-15", "2027-02-15", "2027-03-15"]),
    ],
)
def test_monthly_dates_keep_the_anchor_day_through_short_months(
    first: str, expected: list[str]
) -> None:
    schedule = build_schedule(400, 4, "monthly", date.fromisoformat(first))
    assert [i.due_on.isoformat() for i in schedule] == expected


def test_a_leap_day_anchor_comes_back_on_the_next_leap_year() -> None:
    dues = [i.due_on for i in build_schedule(4900, 49, "monthly", date(2028, 2, 29))]
    assert dues[12] == date(2029, 2, 28)
    assert dues[48] == date(2032, 2, 29)


@pytest.mark.parametrize(("frequency", "step"), [("weekly", 7), ("biweekly", 14)])
def test_weekly_and_biweekly_dates_step_by_whole_weeks(frequency: str, step: int) -> None:
    first = date(2026, 12, 28)  # across the year end
    dues = [i.due_on for i in build_schedule(1000, 5, frequency, first)]
    assert dues == [first + timedelta(days=step * k) for k in range(5)]


def test_a_single_payment_is_due_on_its_date() -> None:
    assert build_schedule(5000, 1, "once", TODAY) == (Installment(TODAY, 5000),)


@pytest.mark.parametrize(
    ("total", "count", "frequency"),
    [
        (1, 2, "monthly"),  # a cent cannot be split
        (0, 1, "monthly"),
        (-100, 1, "once"),
        (100, 0, "monthly"),
        (100, 2, "once"),
        (100, 2, "daily"),
    ],
)
def test_build_schedule_refuses_what_cannot_be_scheduled(
    total: int, count: int, frequency: str
) -> None:
    with pytest.raises(ValueError):
        build_schedule(total, count, frequency, TODAY)


@given(
    total=st.integers(min_value=1, max_value=10**9),
    count=st.integers(min_value=1, max_value=60),
    frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
    first=todays,
)
def test_any_schedule_sums_to_its_total_in_equal_installments_on_ascending_dates(
    total: int, count: int, frequency: str, first: date
) -> None:
    assume(total >= count)
    schedule = build_schedule(total, count, frequency, first)
    amounts = [i.amount_cents for i in schedule]
    assert sum(amounts) == total
    assert len(schedule) == count
    assert len(set(amounts[:-1])) <= 1
    assert 0 <= amounts[-1] - amounts[0] < count
    assert schedule[0].due_on == first
    assert all(a.due_on < b.due_on for a, b in pairwise(schedule))


@pytest.mark.parametrize(
    ("frequency", "count", "months"),
    [
        ("monthly", 6, 6),
        ("monthly", 12, 12),
        ("once", 1, 1),
        ("weekly", 4, 1),
        ("weekly", 5, 2),
        ("weekly", 52, 12),
        ("weekly", 53, 13),
        ("biweekly", 2, 1),
        ("biweekly", 13, 6),
        ("biweekly", 26, 12),
        ("biweekly", 27, 13),
    ],
)
def test_plan_months_counts_one_period_per_payment_rounded_up(
    frequency: str, count: int, months: int
) -> None:
    assert plan_months(frequency, count) == months


def test_plan_option_properties() -> None:
    option = PlanOption(
        "monthly_3",
        "installments",
        "monthly",
        build_schedule(100000, 3, "monthly", date(2027, 1, 31)),
        100000,
    )
    assert option.total_cents == 100000
    assert option.count == 3
    assert option.per_payment_cents == 33333
    assert option.first_due == date(2027, 1, 31)
    assert option.last_due == date(2027, 3, 31)
    assert option.discount_cents == 0
    assert option.months == 3
    settlement = PlanOption(
        "settlement", "settlement", "once", (Installment(TODAY, 80000),), 100000
    )
    assert settlement.discount_cents == 20000


@pytest.mark.parametrize(
    ("kind", "frequency", "installments"),
    [
        ("full", "once", ()),
        ("loan", "once", (Installment(TODAY, 100),)),
        ("full", "daily", (Installment(TODAY, 100),)),
        ("full", "once", (Installment(TODAY, 50), Installment(TODAY + timedelta(days=1), 50))),
        ("installments", "weekly", (Installment(TODAY, 50), Installment(TODAY, 50))),
        ("full", "once", (Installment(TODAY, 0),)),
    ],
)
def test_plan_option_refuses_inconsistent_plans(
    kind: str, frequency: str, installments: tuple[Installment, ...]
) -> None:
    with pytest.raises(ValueError):
        PlanOption("x", kind, frequency, installments, 100)


# ----------------------------------------------------------------------------- offers


def _check_invariants(
    options: list[PlanOption], balance: int, today: date, policy: PlanPolicy
) -> None:
    assert 2 <= len(options) <= 4
    assert len(set(_keys(options))) == len(options)
    for o in options:
        assert o.balance_cents == balance
        assert o.count >= 1
        assert o.total_cents == sum(i.amount_cents for i in o.installments)
        if o.kind == "settlement":
            assert 0 < o.total_cents < balance
            assert o.first_due <= today + timedelta(days=policy.settlement_pay_within_days)
        else:
            assert o.total_cents == balance
            assert o.first_due <= today + timedelta(days=policy.max_days_to_first_payment)
        assert o.first_due >= today
        assert all(a.due_on < b.due_on for a, b in pairwise(o.installments))
        if o.kind == "installments":
            assert min(i.amount_cents for i in o.installments) >= policy.min_installment_cents
            assert o.months <= policy.max_months
        if o.kind == "hardship":
            least = min(i.amount_cents for i in o.installments)
            assert least >= policy.hardship_min_installment_cents
            assert o.months <= policy.hardship_max_months


@pytest.mark.parametrize(
    ("balance", "since", "hardship", "keys"),
    [
        (BALANCE, FRESH, False, ["full", "monthly_6", "monthly_12", "biweekly_26"]),
        (BALANCE, OLD, False, ["full", "monthly_6", "monthly_12", "settlement"]),
        (BALANCE, FRESH, True, ["hardship_monthly_24", "monthly_12", "full"]),
        (BALANCE, OLD, True, ["hardship_monthly_24", "monthly_12", "settlement", "full"]),
        (100000, FRESH, False, ["full", "monthly_6", "monthly_12", "biweekly_26"]),
        (30000, FRESH, False, ["full", "monthly_6", "monthly_12", "biweekly_12"]),
        (10000, FRESH, False, ["full", "monthly_2", "monthly_4", "biweekly_4"]),
        (7500, FRESH, False, ["full", "monthly_2", "monthly_3", "biweekly_3"]),
        (5000, FRESH, False, ["full", "monthly_2", "biweekly_2"]),
        (5000, OLD, False, ["full", "monthly_2", "biweekly_2", "settlement"]),
        (4999, FRESH, False, ["full", "full_later"]),  # too small to split
        (4000, OLD, False, ["full", "full_later", "settlement"]),
        (100, FRESH, False, ["full", "full_later"]),
        (1, OLD, False, ["full", "full_later"]),  # no discount on a cent
        (1, FRESH, True, ["full", "full_later"]),
        (3000, FRESH, True, ["hardship_monthly_3", "full"]),
        (1999, FRESH, True, ["full", "full_later"]),
        (7000, OLD, True, ["hardship_monthly_7", "monthly_2", "settlement", "full"]),
        (5_000_000, FRESH, True, ["hardship_monthly_24", "monthly_12", "full"]),
    ],
)
def test_offer_options_in_a_sensible_order(
    balance: int, since: date, hardship: bool, keys: list[str]
) -> None:
    options = offer_options(balance, TODAY, since, hardship, POLICY)
    assert _keys(options) == keys
    _check_invariants(options, balance, TODAY, POLICY)


def test_offered_dates_pay_in_full_today_and_start_plans_a_week_out() -> None:
    options = {o.key: o for o in offer_options(BALANCE, TODAY, OLD, False, POLICY)}
    assert options["full"].first_due == TODAY
    assert options["monthly_6"].first_due == TODAY + timedelta(days=7)
    assert options["monthly_6"].per_payment_cents == 22822
    assert options["settlement"].first_due == TODAY + timedelta(days=30)
    assert options["settlement"].total_cents == 95856  # 70% of 136937 = 95855.9, rounded up
    later = {o.key: o for o in offer_options(4000, TODAY, FRESH, False, POLICY)}["full_later"]
    assert later.first_due == TODAY + timedelta(days=30)


def test_a_balance_that_does_not_divide_evenly_still_sums_in_every_option() -> None:
    for option in offer_options(100000, TODAY, OLD, True, POLICY):
        assert sum(i.amount_cents for i in option.installments) == option.total_cents
    monthly = {o.key: o for o in offer_options(100000, TODAY, FRESH, False, POLICY)}["monthly_6"]
    assert [i.amount_cents for i in monthly.installments] == [16666] * 5 + [16670]


@pytest.mark.parametrize(
    ("days", "has_settlement"),
    [(0, False), (179, False), (180, True), (365, True), (730, True), (5000, True), (-10, False)],
)
def test_a_settlement_is_offered_only_when_a_tier_applies(days: int, has_settlement: bool) -> None:
    options = offer_options(BALANCE, TODAY, TODAY - timedelta(days=days), False, POLICY)
    assert ("settlement" in _keys(options)) is has_settlement


@pytest.mark.parametrize(
    ("policy", "keys"),
    [
        (PlanPolicy(allowed_frequencies=("monthly",)), ["full", "monthly_6", "monthly_12"]),
        (PlanPolicy(allowed_frequencies=("biweekly",)), ["full", "biweekly_26"]),
        (PlanPolicy(allowed_frequencies=("weekly",)), ["full", "weekly_52"]),
        (PlanPolicy(max_months=3), ["full", "monthly_2", "monthly_3", "biweekly_6"]),
        (PlanPolicy(max_months=1), ["full", "biweekly_2"]),
        (PlanPolicy(min_installment_cents=100000), ["full", "full_later"]),
        (
            PlanPolicy(settlement_tiers=((0, Decimal("0.5")),)),
            ["full", "monthly_6", "monthly_12", "settlement"],
        ),
    ],
)
def test_offer_options_follow_the_policy(policy: PlanPolicy, keys: list[str]) -> None:
    options = offer_options(BALANCE, TODAY, FRESH, False, policy)
    assert _keys(options) == keys
    _check_invariants(options, BALANCE, TODAY, policy)


def test_hardship_falls_back_to_another_allowed_frequency() -> None:
    policy = PlanPolicy(allowed_frequencies=("biweekly",))
    options = offer_options(BALANCE, TODAY, FRESH, True, policy)
    assert _keys(options) == ["hardship_biweekly_52", "biweekly_26", "full"]
    _check_invariants(options, BALANCE, TODAY, policy)


@pytest.mark.parametrize("balance", [0, -100])
def test_there_are_no_options_for_nothing_owed(balance: int) -> None:
    with pytest.raises(ValueError):
        offer_options(balance, TODAY, OLD, False, POLICY)


@given(
    balance=balances,
    today=todays,
    days_delinquent=st.integers(min_value=-30, max_value=3000),
    hardship=st.booleans(),
)
def test_every_offer_sums_to_its_total_within_policy(
    balance: int, today: date, days_delinquent: int, hardship: bool
) -> None:
    since = today - timedelta(days=days_delinquent)
    options = offer_options(balance, today, since, hardship, POLICY)
    _check_invariants(options, balance, today, POLICY)
    if hardship:
        assert options[-1].key == "full" or _keys(options)[:2] == ["full", "full_later"]
    else:
        assert options[0].key == "full"
        assert options[0].first_due == today


@given(
    balance=balances,
    today=todays,
    hardship=st.booleans(),
    policy=st.builds(
        PlanPolicy,
        min_installment_cents=st.integers(min_value=1, max_value=50_000),
        max_months=st.integers(min_value=1, max_value=36),
        hardship_max_months=st.integers(min_value=1, max_value=60),
        hardship_min_installment_cents=st.integers(min_value=1, max_value=50_000),
        allowed_frequencies=st.lists(
            st.sampled_from(["weekly", "biweekly", "monthly"]), min_size=1, max_size=3, unique=True
        ).map(tuple),
        max_days_to_first_payment=st.integers(min_value=1, max_value=90),
        settlement_pay_within_days=st.integers(min_value=0, max_value=90),
    ),
)
def test_every_offer_stays_within_any_valid_policy(
    balance: int, today: date, hardship: bool, policy: PlanPolicy
) -> None:
    options = offer_options(balance, today, today - timedelta(days=400), hardship, policy)
    _check_invariants(options, balance, today, policy)


# ----------------------------------------------------------------------------- custom plans


def test_a_custom_amount_sets_the_payment_and_the_last_pays_what_is_left() -> None:
    option = custom_option(BALANCE, TODAY, POLICY, amount_cents=15000)
    assert (option.key, option.kind, option.frequency) == ("custom", "installments", "monthly")
    assert [i.amount_cents for i in option.installments] == [15000] * 9 + [1937]
    assert option.total_cents == BALANCE
    assert option.first_due == TODAY + timedelta(days=7)
    assert option.per_payment_cents == 15000


def test_a_custom_date_anchors_the_schedule() -> None:
    first = date(2026, 11, 30)
    option = custom_option(100000, TODAY, POLICY, amount_cents=25000, first_due=first)
    assert [i.due_on for i in option.installments] == [
        date(2026, 11, 30),
        date(2026, 12, 30),
        date(2027, 1, 30),
        date(2027, 2, 28),
    ]


@pytest.mark.parametrize(
    ("policy", "kwargs", "count", "per_payment", "frequency"),
    [
        (POLICY, {"amount_cents": 5500, "frequency": "biweekly"}, 25, 5500, "biweekly"),
        (THIRTEEN, {"amount_cents": 2500, "frequency": "weekly"}, 55, 2500, "weekly"),
        (POLICY, {}, 12, 11411, "monthly"),  # no amount: the lowest payment allowed
        (POLICY, {"hardship": True}, 24, 5705, "monthly"),
        (POLICY, {"frequency": "biweekly"}, 26, 5266, "biweekly"),
        (POLICY, {"frequency": "weekly"}, 52, 2633, "weekly"),
    ],
)
def test_custom_plans_by_amount_and_frequency(
    policy: PlanPolicy, kwargs: dict[str, Any], count: int, per_payment: int, frequency: str
) -> None:
    option = custom_option(BALANCE, TODAY, policy, **kwargs)
    assert (option.count, option.per_payment_cents, option.frequency) == (
        count,
        per_payment,
        frequency,
    )
    assert option.total_cents == BALANCE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount_cents": BALANCE},
        {"amount_cents": BALANCE + 1},
        {"frequency": "once"},
        {"amount_cents": 500, "frequency": "once"},
    ],
)
def test_a_custom_amount_of_the_whole_balance_is_paying_in_full_on_that_date(
    kwargs: dict[str, Any],
) -> None:
    first = TODAY + timedelta(days=10)
    option = custom_option(BALANCE, TODAY, POLICY, first_due=first, **kwargs)
    assert (option.kind, option.frequency, option.total_cents) == ("full", "once", BALANCE)
    assert option.installments == (Installment(first, BALANCE),)


def test_a_custom_plan_on_a_balance_too_small_to_split_is_paying_in_full() -> None:
    option = custom_option(4000, TODAY, POLICY)
    assert (option.kind, option.count) == ("full", 1)


@pytest.mark.parametrize(
    ("kwargs", "code", "limit"),
    [
        # below the minimum: the smallest payment that works, here more than the policy's
        # minimum ($25, $10 with a hardship), which would take over 12 (24) months
        ({"amount_cents": 2499}, "below_minimum", 11411),
        ({"amount_cents": 0}, "below_minimum", 11411),
        ({"amount_cents": 999, "hardship": True}, "below_minimum", 5705),
        ({"amount_cents": 10000}, "too_long", 12),  # 14 months
        ({"amount_cents": 2500, "frequency": "biweekly"}, "too_long", 12),
        ({"amount_cents": 5000, "hardship": True}, "too_long", 24),  # 28 months
        ({"first_due": TODAY - timedelta(days=1)}, "first_payment_in_past", TODAY),
        ({"first_due": TODAY + timedelta(days=31)}, "first_payment_too_late", date(2026, 12, 18)),
    ],
)
def test_custom_plans_outside_the_policy_say_which_limit(
    kwargs: dict[str, Any], code: str, limit: object
) -> None:
    error = _violation(code, lambda: custom_option(BALANCE, TODAY, POLICY, **kwargs))
    assert error.limit == limit


def test_a_frequency_the_policy_does_not_allow_is_refused_with_the_allowed_ones() -> None:
    policy = PlanPolicy(allowed_frequencies=("monthly",))
    error = _violation(
        "frequency_not_allowed",
        lambda: custom_option(BALANCE, TODAY, policy, amount_cents=5000, frequency="weekly"),
    )
    assert error.limit == ("monthly",)
    _violation(
        "frequency_not_allowed",
        lambda: custom_option(BALANCE, TODAY, POLICY, amount_cents=5000, frequency="daily"),
    )


@pytest.mark.parametrize(
    ("kwargs", "fits"),
    [
        ({"amount_cents": 10000}, 11411),  # $1,369.37 in at most 12 monthly payments
        ({"amount_cents": 2500, "frequency": "biweekly"}, 5266),  # 26 payments
        ({"amount_cents": 5000, "hardship": True}, 5705),  # 24 months
    ],
)
def test_a_plan_too_long_names_the_smallest_payment_that_fits(
    kwargs: dict[str, Any], fits: int
) -> None:
    error = _violation("too_long", lambda: custom_option(BALANCE, TODAY, POLICY, **kwargs))
    assert error.fits == fits
    option = custom_option(BALANCE, TODAY, POLICY, **{**kwargs, "amount_cents": fits})
    assert option.per_payment_cents == fits
    less = {**kwargs, "amount_cents": fits - 1}
    _violation("too_long", lambda: custom_option(BALANCE, TODAY, POLICY, **less))


def test_below_minimum_names_the_policy_minimum_when_it_ends_within_the_longest_plan() -> None:
    error = _violation(
        "below_minimum", lambda: custom_option(20000, TODAY, POLICY, amount_cents=1000)
    )
    assert error.limit == POLICY.min_installment_cents == 2500
    assert custom_option(20000, TODAY, POLICY, amount_cents=error.limit).count == 8


def test_below_minimum_on_a_small_balance_shows_the_balance_as_the_least() -> None:
    error = _violation(
        "below_minimum", lambda: custom_option(2000, TODAY, POLICY, amount_cents=1000)
    )
    assert error.limit == 2000


@pytest.mark.parametrize(
    ("first_due", "ok"),
    [(TODAY, True), (TODAY + timedelta(days=30), True), (TODAY + timedelta(days=31), False)],
)
def test_the_first_payment_may_be_today_up_to_the_policy_limit(first_due: date, ok: bool) -> None:
    if ok:
        assert custom_option(BALANCE, TODAY, POLICY, amount_cents=20000, first_due=first_due)
    else:
        _violation(
            "first_payment_too_late",
            lambda: custom_option(BALANCE, TODAY, POLICY, amount_cents=20000, first_due=first_due),
        )


@pytest.mark.parametrize(
    ("amount", "kind"),
    [(1500, "hardship"), (20000, "installments"), (6000, "hardship")],  # 6000: 23 months
)
def test_a_hardship_custom_plan_is_a_hardship_plan_only_when_it_needs_the_limits(
    amount: int, kind: str
) -> None:
    if amount == 1500:
        option = custom_option(30000, TODAY, POLICY, amount_cents=amount, hardship=True)
    else:
        option = custom_option(BALANCE, TODAY, POLICY, amount_cents=amount, hardship=True)
    assert option.kind == kind


@given(
    balance=balances,
    amount=st.integers(min_value=2500, max_value=5_000_000),
    frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
    today=todays,
    delay=st.integers(min_value=0, max_value=30),
)
def test_any_custom_plan_is_the_debtors_amount_until_the_balance_is_paid(
    balance: int, amount: int, frequency: str, today: date, delay: int
) -> None:
    first = today + timedelta(days=delay)
    try:
        option = custom_option(
            balance, today, POLICY, amount_cents=amount, frequency=frequency, first_due=first
        )
    except PolicyViolation as error:
        assert error.code == "too_long"
        assert plan_months(frequency, -(-balance // amount)) > POLICY.max_months
        # the payment the reply names instead is a plan the policy takes
        assert error.fits is not None and error.fits > amount
        fitting = custom_option(
            balance, today, POLICY, amount_cents=error.fits, frequency=frequency, first_due=first
        )
        assert fitting.months <= POLICY.max_months and fitting.total_cents == balance
        return
    assert option.total_cents == balance
    assert option.first_due == first
    amounts = [i.amount_cents for i in option.installments]
    if amount >= balance:
        assert amounts == [balance]
    else:
        assert amounts[:-1] == [amount] * (len(amounts) - 1)
        # the last pays what is left: less, or in the longest plan a few cents more
        assert 0 < amounts[-1] < amount + len(amounts)
        assert option.months <= POLICY.max_months


@given(balance=balances, today=todays, hardship=st.booleans())
def test_an_offered_amount_typed_back_is_that_same_plan(
    balance: int, today: date, hardship: bool
) -> None:
    """ "12 payments of $114.11" offered; the debtor types "$114.11 a month": that plan, not
    a refusal and not a thirteenth payment of a few cents."""
    offered = offer_options(balance, today, today - timedelta(days=200), hardship, POLICY)
    for option in (o for o in offered if o.frequency != "once"):
        typed = custom_option(
            balance, today, POLICY, amount_cents=option.per_payment_cents,
            frequency=option.frequency, first_due=option.first_due, hardship=hardship,
        )  # fmt: skip
        assert typed.installments == option.installments


@given(
    balance=balances,
    frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
    hardship=st.booleans(),
)
def test_the_smallest_payment_a_refusal_names_is_always_a_plan_the_policy_takes(
    balance: int, frequency: str, hardship: bool
) -> None:
    """ "The smallest payment we can set up is $X": $X is accepted, and a cent less is not."""
    try:
        custom_option(
            balance, TODAY, POLICY, amount_cents=1, frequency=frequency, hardship=hardship
        )
        return  # a balance of a cent or so: paid in full
    except PolicyViolation as error:
        assert error.code == "below_minimum"
        smallest = error.limit
    assert isinstance(smallest, int)
    option = custom_option(
        balance, TODAY, POLICY, amount_cents=smallest, frequency=frequency, hardship=hardship
    )
    assert option.total_cents == balance
    if smallest < balance:
        with pytest.raises(PolicyViolation):
            custom_option(
                balance, TODAY, POLICY, amount_cents=smallest - 1, frequency=frequency,
                hardship=hardship,
            )  # fmt: skip


# ----------------------------------------------------------------------------- settlements


@pytest.mark.parametrize(
    ("balance", "days", "floor"),
    [
        (100000, 179, None),
        (100000, 180, 80000),
        (100000, 364, 80000),
        (100000, 365, 70000),
        (100000, 729, 70000),
        (100000, 730, 60000),
        (100000, 9999, 60000),
        (101, 180, 81),  # 80.8 rounds up
        (BALANCE, 400, 95856),
        (1, 200, 1),
        (100000, -5, None),  # delinquent in the future: bad data, no tier
    ],
)
def test_settlement_floor_is_the_reached_tier_rounded_up(
    balance: int, days: int, floor: int | None
) -> None:
    assert settlement_floor_cents(balance, TODAY - timedelta(days=days), TODAY, POLICY) == floor


def test_no_tiers_means_no_settlement() -> None:
    policy = PlanPolicy(settlement_tiers=())
    assert settlement_floor_cents(BALANCE, OLD, TODAY, policy) is None
    error = _violation(
        "settlement_not_available", lambda: check_settlement(BALANCE, 100000, OLD, TODAY, policy)
    )
    assert error.limit is None


@pytest.mark.parametrize("offer", [70000, 75000, 99999])
def test_a_settlement_offer_at_or_above_the_floor_is_accepted(offer: int) -> None:
    since = TODAY - timedelta(days=400)
    option = check_settlement(100000, offer, since, TODAY, POLICY)
    assert (option.key, option.kind, option.frequency) == ("settlement", "settlement", "once")
    assert option.total_cents == offer
    assert option.discount_cents == 100000 - offer
    assert option.first_due == TODAY + timedelta(days=POLICY.settlement_pay_within_days)


@pytest.mark.parametrize("offer", [0, 1, 69999])
def test_a_settlement_offer_below_the_floor_is_refused_with_the_floor(offer: int) -> None:
    since = TODAY - timedelta(days=400)
    error = _violation(
        "below_settlement_floor", lambda: check_settlement(100000, offer, since, TODAY, POLICY)
    )
    assert error.limit == 70000


@pytest.mark.parametrize("offer", [100000, 150000])
def test_a_settlement_offer_of_the_whole_balance_is_paying_in_full(offer: int) -> None:
    option = check_settlement(100000, offer, OLD, TODAY, POLICY)
    assert (option.kind, option.total_cents, option.discount_cents) == ("full", 100000, 0)


def test_a_settlement_too_early_says_when_it_becomes_available() -> None:
    error = _violation(
        "settlement_not_available", lambda: check_settlement(100000, 90000, FRESH, TODAY, POLICY)
    )
    assert error.limit == FRESH + timedelta(days=180)


# ----------------------------------------------------------------------------- choosing

# full, monthly_6, monthly_12, biweekly_26
PLAIN = offer_options(BALANCE, TODAY, FRESH, False, POLICY)
# full, monthly_6, monthly_12, settlement
WITH_SETTLEMENT = offer_options(BALANCE, TODAY, OLD, False, POLICY)
# hardship_monthly_24, monthly_12, settlement, full
HARDSHIP = offer_options(BALANCE, TODAY, OLD, True, POLICY)
# full, full_later
SMALL = offer_options(4000, TODAY, FRESH, False, POLICY)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1", "full"),
        ("2", "monthly_6"),
        ("2.", "monthly_6"),
        ("#2", "monthly_6"),
        ("# 2", "monthly_6"),
        ("option 2", "monthly_6"),
        ("Option #2 please", "monthly_6"),
        ("number two", "monthly_6"),
        ("no. 2", "monthly_6"),
        ("two", "monthly_6"),
        ("I'll take 2", "monthly_6"),
        ("the second one", "monthly_6"),
        ("2nd", "monthly_6"),
        ("the 2nd option", "monthly_6"),
        ("3rd", "monthly_12"),
        ("the last one", "biweekly_26"),
        ("4", "biweekly_26"),
        ("the six month one", "monthly_6"),
        ("6 months", "monthly_6"),
        ("six months please", "monthly_6"),
        ("the 6-month plan", "monthly_6"),
        ("12 months", "monthly_12"),  # the monthly one, though biweekly_26 is 12 months too
        ("a year", "monthly_12"),
        ("12 payments", "monthly_12"),
        ("26 payments", "biweekly_26"),
        ("$114 a month", "monthly_12"),
        ("$115", "monthly_12"),
        ("228 a month", "monthly_6"),
        ("$228.22", "monthly_6"),
        ("$52.66 every two weeks", "biweekly_26"),
        ("every other friday", "biweekly_26"),
        ("biweekly", "biweekly_26"),
        ("every two weeks", "biweekly_26"),
        ("pay it all", "full"),
        ("I'll pay it all today", "full"),
        ("in full", "full"),
        ("full", "full"),
        ("the whole thing", "full"),
        ("the shortest", "monthly_6"),
        ("option 3, the 12 month one", "monthly_12"),
    ],
)
def test_choose_option_maps_what_the_debtor_typed(text: str, key: str) -> None:
    chosen = choose_option(text, PLAIN)
    assert chosen is not None
    assert chosen.key == key


@pytest.mark.parametrize(
    ("options", "text", "key"),
    [
        (WITH_SETTLEMENT, "settle", "settlement"),
        (WITH_SETTLEMENT, "the settlement", "settlement"),
        (WITH_SETTLEMENT, "I want to settle", "settlement"),
        (WITH_SETTLEMENT, "4", "settlement"),
        (WITH_SETTLEMENT, "$958.56", "settlement"),
        (HARDSHIP, "the hardship one", "hardship_monthly_24"),
        (HARDSHIP, "the lower one", "hardship_monthly_24"),
        (HARDSHIP, "the lowest payment", "hardship_monthly_24"),
        (HARDSHIP, "$57 a month", "hardship_monthly_24"),
        (HARDSHIP, "24 months", "hardship_monthly_24"),
        (HARDSHIP, "the longest", "hardship_monthly_24"),
        (HARDSHIP, "1", "hardship_monthly_24"),
        (HARDSHIP, "one", "hardship_monthly_24"),
        (HARDSHIP, "pay in full", "full"),
        (HARDSHIP, "settlement", "settlement"),
        (SMALL, "in full today", "full"),
        (SMALL, "now", "full"),
        (SMALL, "pay it all later", "full_later"),
        (SMALL, "2", "full_later"),
    ],
)
def test_choose_option_in_hardship_settlement_and_small_offers(
    options: list[PlanOption], text: str, key: str
) -> None:
    chosen = choose_option(text, options)
    assert chosen is not None
    assert chosen.key == key


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (PLAIN, ""),
        (PLAIN, "yes"),
        (PLAIN, "ok sounds good"),
        (PLAIN, "5"),  # only four options
        (PLAIN, "option 7"),
        (PLAIN, "0"),
        (PLAIN, "2 or 3"),  # two picks
        (PLAIN, "the first or the second"),
        (PLAIN, "$50 or $60"),
        (PLAIN, "$50 a month"),  # nothing offered at $50
        (PLAIN, "$113"),  # more than a dollar off
        (PLAIN, "monthly"),  # two monthly plans
        (PLAIN, "weekly"),  # none weekly
        (PLAIN, "the longest"),  # monthly_12 and biweekly_26 are both 12 months
        (PLAIN, "24 months"),
        (PLAIN, "settle"),  # no settlement offered
        (PLAIN, "the hardship one"),
        (PLAIN, "option 1, the six month one"),  # contradicts itself
        (PLAIN, "2, every two weeks"),
        (PLAIN, "not the first one"),
        (PLAIN, "I can't do any of those"),
        (PLAIN, "none of them"),
        (PLAIN, "6 months and 12 months"),
        (SMALL, "in full"),  # both pay in full
        (SMALL, "6 months"),
        (HARDSHIP, "every other friday"),
        ([], "1"),
    ],
)
def test_choose_option_gives_none_when_ambiguous_or_nothing_matches(
    options: list[PlanOption], text: str
) -> None:
    assert choose_option(text, options) is None


@given(
    balance=balances,
    today=todays,
    days_delinquent=st.integers(min_value=0, max_value=1000),
    hardship=st.booleans(),
    data=st.data(),
)
def test_any_offered_option_is_chosen_by_its_number(
    balance: int, today: date, days_delinquent: int, hardship: bool, data: st.DataObject
) -> None:
    options = offer_options(
        balance, today, today - timedelta(days=days_delinquent), hardship, POLICY
    )
    index = data.draw(st.integers(min_value=1, max_value=len(options)))
    for text in (str(index), f"#{index}", f"option {index}", f"Option {index}, please"):
        assert choose_option(text, options) == options[index - 1]
    assert choose_option(f"option {len(options) + 1}", options) is None
    beyond = choose_option(str(len(options) + 1), options)  # read as dollars, if anything
    assert beyond is None or abs(beyond.per_payment_cents - (len(options) + 1) * 100) <= 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can I pay half now and half next month", SplitRequest(2, "monthly", True)),
        ("half today, the rest in 30 days", SplitRequest(2, "monthly", True)),
        ("half now, the rest in two weeks", SplitRequest(2, "biweekly", True)),
        ("half today and the other half next week", SplitRequest(2, "weekly", True)),
        ("split it into 3 payments", SplitRequest(3, "monthly", False)),
        ("can i do it in four payments every other friday", SplitRequest(4, "biweekly", False)),
        ("3 payments starting today", SplitRequest(3, "monthly", True)),
        ("i can pay half", None),  # half of what, when: the options, not a guess
        ("I can pay 100 now and the rest on the 15th", None),
        ("1 payment", None),
    ],
)
def test_a_split_in_plain_words(text: str, expected: SplitRequest | None) -> None:
    assert parse_split(text) == expected


@given(balance=st.integers(min_value=10_000, max_value=5_000_000), parts=st.integers(2, 4))
def test_a_split_is_that_many_payments_of_the_whole_balance(balance: int, parts: int) -> None:
    try:
        option = custom_option(
            balance, TODAY, POLICY, amount_cents=-(-balance // parts), first_due=TODAY
        )
    except PolicyViolation:  # a part below the minimum payment: the options are offered
        assert -(-balance // parts) < POLICY.min_installment_cents
        return
    assert option.count == parts and option.total_cents == balance
    amounts = [i.amount_cents for i in option.installments]
    assert max(amounts) - min(amounts) < parts
