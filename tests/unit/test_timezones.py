"""Zones for a consumer's state and phone number (feeding compliance rule 12)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.timezones import (
    CONTINENTAL_FALLBACK,
    STATE_CODES,
    UnknownStateError,
    consumer_zones,
    zones_for_phone,
    zones_for_state,
)

# fmt: off
STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY",
]
# fmt: on
TERRITORIES = ["DC", "PR", "VI", "GU", "AS", "MP"]

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"


def test_the_table_covers_the_fifty_states_dc_and_the_territories_exactly() -> None:
    assert len(STATES) == 50
    assert frozenset(STATES + TERRITORIES) == STATE_CODES


@pytest.mark.parametrize("code", STATES + TERRITORIES)
def test_every_state_and_territory_has_loadable_distinct_zones(code: str) -> None:
    zones = zones_for_state(code)
    assert zones
    assert len(set(zones)) == len(zones)
    for name in zones:
        ZoneInfo(name)  # raises when the tz database does not know it


@pytest.mark.parametrize(
    ("code", "must_include"),
    [
        ("TX", {CT, MT}),
        ("FL", {ET, CT}),
        ("IN", {"America/Indiana/Indianapolis", CT}),
        ("KY", {ET, CT}),
        ("TN", {ET, CT}),
        ("MI", {"America/Detroit", "America/Menominee"}),
        ("ND", {CT, MT}),
        ("SD", {CT, MT}),
        ("NE", {CT, MT}),
        ("KS", {CT, MT}),
        ("ID", {"America/Boise", PT}),
        ("OR", {PT, "America/Boise"}),
        ("AK", {"America/Anchorage", "America/Adak"}),
        ("AZ", {"America/Phoenix", MT}),
        ("NV", {PT, MT}),
    ],
)
def test_a_state_split_across_zones_returns_every_zone_it_spans(
    code: str, must_include: set[str]
) -> None:
    assert must_include <= set(zones_for_state(code))


@pytest.mark.parametrize(
    ("code", "zones"),
    [
        ("NY", (ET,)),
        ("CA", (PT,)),
        ("CO", (MT,)),
        ("IL", (CT,)),
        ("HI", ("Pacific/Honolulu",)),
        ("PR", ("America/Puerto_Rico",)),
        ("GU", ("Pacific/Guam",)),
        ("AS", ("Pacific/Pago_Pago",)),
        ("MP", ("Pacific/Saipan",)),
        ("VI", ("America/St_Thomas",)),
        ("DC", (ET,)),
    ],
)
def test_a_state_in_one_zone_returns_only_that_zone(code: str, zones: tuple[str, ...]) -> None:
    assert zones_for_state(code) == zones


@pytest.mark.parametrize("code", ["tx", " TX ", "Tx"])
def test_the_state_code_is_read_case_and_space_insensitively(code: str) -> None:
    assert zones_for_state(code) == zones_for_state("TX")


@pytest.mark.parametrize("code", ["", "XX", "Texas", "ON", "T", "TXX"])
def test_an_unknown_state_code_raises_value_error(code: str) -> None:
    with pytest.raises(ValueError, match="unknown US state"):
        zones_for_state(code)
    with pytest.raises(UnknownStateError):
        zones_for_state(code)


@pytest.mark.parametrize(
    ("phone", "zones"),
    [
        ("+12065550100", (PT,)),  # Seattle
        ("+12125551234", (ET,)),  # New York
        ("+13125550100", (CT,)),  # Chicago
        ("+19155550100", (MT,)),  # El Paso: Texas, but Mountain
        ("+17875550100", ("America/Puerto_Rico",)),
        ("+16715550100", ("Pacific/Guam",)),
        ("+18085550100", ("Pacific/Honolulu",)),
        ("2065550100", (PT,)),  # no "+": read as a US number
        ("+442071234567", ("Europe/London",)),
    ],
)
def test_a_geographic_number_gives_the_zone_of_its_area_code(
    phone: str, zones: tuple[str, ...]
) -> None:
    assert zones_for_phone(phone) == zones


@pytest.mark.parametrize(
    "phone",
    [
        "+18005550100",  # toll-free
        "+18885550100",
        "+18775550100",
        "+19005550100",  # premium rate
        "+15005550006",  # personal / non-geographic
        "+1206",  # too short
        "not a number",
        "",
    ],
)
def test_a_toll_free_invalid_or_non_geographic_number_gives_no_zone(phone: str) -> None:
    assert zones_for_phone(phone) == ()


@given(st.from_regex(r"\A\+1[2-9][0-9]{2}[2-9][0-9]{6}\Z"))
def test_zones_for_phone_never_returns_the_unknown_zone(phone: str) -> None:
    zones = zones_for_phone(phone)
    assert "Etc/Unknown" not in zones
    for name in zones:
        ZoneInfo(name)


@pytest.mark.parametrize(
    ("state", "phone", "zones"),
    [
        ("NY", "+12065550100", (PT, ET)),  # address East, area code West
        ("TX", "+19155550100", (CT, MT)),  # de-duplicated
        ("TX", None, (CT, MT)),
        (None, "+12065550100", (PT,)),
        ("CA", "+18005550100", (PT,)),  # toll-free adds nothing
        ("ny", "+12125551234", (ET,)),
    ],
)
def test_consumer_zones_is_the_sorted_union_of_address_and_phone(
    state: str | None, phone: str | None, zones: tuple[str, ...]
) -> None:
    assert consumer_zones(state, phone) == tuple(sorted(zones))


@pytest.mark.parametrize(
    ("state", "phone"),
    [(None, None), ("", ""), (None, "+18005550100"), ("XX", None), ("XX", "garbage")],
)
def test_consumer_zones_falls_back_to_the_four_continental_zones_when_nothing_is_known(
    state: str | None, phone: str | None
) -> None:
    assert consumer_zones(state, phone) == (CT, MT, PT, ET)
    assert set(CONTINENTAL_FALLBACK) == {ET, CT, MT, PT}


@given(
    st.one_of(st.none(), st.sampled_from(sorted(STATE_CODES)), st.text(max_size=3)),
    st.one_of(st.none(), st.from_regex(r"\A\+1[2-9][0-9]{9}\Z"), st.text(max_size=12)),
)
def test_consumer_zones_is_never_empty_sorted_unique_and_loadable(
    state: str | None, phone: str | None
) -> None:
    zones = consumer_zones(state, phone)
    assert zones
    assert list(zones) == sorted(set(zones))
    for name in zones:
        ZoneInfo(name)
