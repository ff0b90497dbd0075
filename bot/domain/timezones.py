"""Where in time the consumer may be: IANA zones from a state code and a phone number.

Feeds the contact window of compliance rule 12 ("between 8:00 and 21:00 at the consumer's
location; where the area code and the address disagree, only in the hours inside both").
A place that may be in several zones yields every one of them, so that the window computed
from them is the intersection and never the union. Pure: tables and `phonenumbers` only.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

_EASTERN = "America/New_York"
_CENTRAL = "America/Chicago"
_MOUNTAIN = "America/Denver"
_PACIFIC = "America/Los_Angeles"

# The fallback when neither the address nor the phone tells us anything: the four continental
# zones. Their intersection (8:00 Pacific to 21:00 Eastern, i.e. 11:00-18:00 Pacific) is inside
# the window of every consumer in the contiguous US, which is the conservative choice. Alaska,
# Hawaii and the territories are left out on purpose: including them would leave almost no
# window at all, and an account with neither a state nor a geographic phone number is rare.
CONTINENTAL_FALLBACK: tuple[str, ...] = (_CENTRAL, _MOUNTAIN, _EASTERN, _PACIFIC)

# Every IANA zone that covers part of a state or territory (per the tz database's zone.tab and
# the county-level time-zone boundaries). Zones listed for the same offset (the Indiana,
# Kentucky and North Dakota sub-zones) differ only in past rules; listing them costs nothing
# and keeps the table faithful. Places that follow a neighbour's clock only unofficially
# (Phenix City AL, Kenton OK, Jackpot NV) are not split: IANA and the law put them in their
# state's zone.
_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": (_CENTRAL,),
    "AK": (
        "America/Anchorage",
        "America/Juneau",
        "America/Sitka",
        "America/Metlakatla",
        "America/Yakutat",
        "America/Nome",
        "America/Adak",  # the Aleutians west of 169.5°W: Hawaii-Aleutian time
    ),
    "AZ": ("America/Phoenix", _MOUNTAIN),  # the Navajo Nation observes DST
    "AR": (_CENTRAL,),
    "CA": (_PACIFIC,),
    "CO": (_MOUNTAIN,),
    "CT": (_EASTERN,),
    "DE": (_EASTERN,),
    "DC": (_EASTERN,),
    "FL": (_EASTERN, _CENTRAL),  # the panhandle west of the Apalachicola
    "GA": (_EASTERN,),
    "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", _PACIFIC),  # the panhandle is Pacific
    "IL": (_CENTRAL,),
    "IN": (
        "America/Indiana/Indianapolis",
        "America/Indiana/Vincennes",
        "America/Indiana/Winamac",
        "America/Indiana/Marengo",
        "America/Indiana/Petersburg",
        "America/Indiana/Vevay",
        "America/Indiana/Tell_City",
        "America/Indiana/Knox",
        _CENTRAL,  # the north-west corner (Gary) and the south-west (Evansville)
    ),
    "IA": (_CENTRAL,),
    "KS": (_CENTRAL, _MOUNTAIN),  # four western counties
    "KY": (_EASTERN, "America/Kentucky/Louisville", "America/Kentucky/Monticello", _CENTRAL),
    "LA": (_CENTRAL,),
    "ME": (_EASTERN,),
    "MD": (_EASTERN,),
    "MA": (_EASTERN,),
    "MI": ("America/Detroit", "America/Menominee"),  # four UP counties are Central
    "MN": (_CENTRAL,),
    "MS": (_CENTRAL,),
    "MO": (_CENTRAL,),
    "MT": (_MOUNTAIN,),
    "NE": (_CENTRAL, _MOUNTAIN),
    "NV": (_PACIFIC, _MOUNTAIN),  # West Wendover is legally Mountain
    "NH": (_EASTERN,),
    "NJ": (_EASTERN,),
    "NM": (_MOUNTAIN,),
    "NY": (_EASTERN,),
    "NC": (_EASTERN,),
    "ND": (
        _CENTRAL,
        "America/North_Dakota/Center",
        "America/North_Dakota/New_Salem",
        "America/North_Dakota/Beulah",
        _MOUNTAIN,  # the south-west
    ),
    "OH": (_EASTERN,),
    "OK": (_CENTRAL,),
    "OR": (_PACIFIC, "America/Boise"),  # most of Malheur County is Mountain
    "PA": (_EASTERN,),
    "RI": (_EASTERN,),
    "SC": (_EASTERN,),
    "SD": (_CENTRAL, _MOUNTAIN),
    "TN": (_CENTRAL, _EASTERN),
    "TX": (_CENTRAL, _MOUNTAIN),  # El Paso and Hudspeth counties
    "UT": (_MOUNTAIN,),
    "VT": (_EASTERN,),
    "VA": (_EASTERN,),
    "WA": (_PACIFIC,),
    "WV": (_EASTERN,),
    "WI": (_CENTRAL,),
    "WY": (_MOUNTAIN,),
    # Territories
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "AS": ("Pacific/Pago_Pago",),
    "MP": ("Pacific/Saipan",),
}

STATE_CODES: frozenset[str] = frozenset(_STATE_ZONES)

_UNKNOWN_ZONE = "Etc/Unknown"
# Only these types are tied to a place; anything else (toll-free, premium, VoIP, personal,
# pager, UAN) says nothing about where the consumer is.
_GEOGRAPHIC_TYPES = frozenset(
    {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class UnknownStateError(ValueError):
    """Not a two-letter code of a US state, DC or an inhabited territory."""


def zones_for_state(state: str) -> tuple[str, ...]:
    """Every IANA zone covering part of `state` (a USPS code, any case); ValueError if unknown."""
    try:
        return _STATE_ZONES[state.strip().upper()]
    except KeyError:
        raise UnknownStateError(f"unknown US state or territory code: {state!r}") from None


@lru_cache(maxsize=4096)  # pure; asked for every contact decision (replies included)
def zones_for_phone(e164: str) -> tuple[str, ...]:
    """The zones of a geographic number's area code; empty when unknown or not geographic.

    A number without a leading "+" is read as a US number.
    """
    try:
        number = phonenumbers.parse(e164, "US")
    except phonenumbers.NumberParseException:
        return ()
    if not phonenumbers.is_valid_number(number):
        return ()
    if phonenumbers.number_type(number) not in _GEOGRAPHIC_TYPES:
        return ()
    zones = phone_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != _UNKNOWN_ZONE)


def consumer_zones(state: str | None, phone: str | None) -> tuple[str, ...]:
    """The zones the consumer may be in: the union of the address's and the phone's, sorted.

    Never empty: when neither tells anything (no state or an unrecognised one, and no
    geographic phone number) it is `CONTINENTAL_FALLBACK`, the four continental zones, whose
    intersection is the most conservative window for an unknown US location. An unrecognised
    state code is treated as unknown rather than raised, so that bad address data narrows the
    window instead of blocking every message.
    """
    zones: set[str] = set()
    if state and state.strip().upper() in _STATE_ZONES:
        zones.update(zones_for_state(state))
    if phone:
        zones.update(zones_for_phone(phone))
    return tuple(sorted(zones or CONTINENTAL_FALLBACK))
