"""May we send this message to this person now, and if not, why (compliance rules 9-16).

`decide()` is the one answer every sender (bot, agent console, scheduler) asks for. The rules
run in a fixed order and the first that refuses wins:

1. wrong number: never (rule 4).
2. opted out on this channel: only the single opt-out confirmation or HELP answer, i.e. a
   COMPLIANCE reply (rules 9-10; the caller enforces "at most one").
3. ceased all communication: likewise only a COMPLIANCE reply (1006.6(c), rule 10).
4. attorney: nothing but COMPLIANCE messages (rule 15).
5. any hold (dispute, validation, bankruptcy, distress, deceased): no COLLECTION message
   (rules 14-16); a distress, deceased or bankruptcy hold: no FEEDBACK (survey) either.
6. messages the system starts (INITIATED) only: the consumer's channel preference (rule 11),
   08:00-21:00 local in every zone the consumer may be in (rule 12), the preferred hours and
   "not at work" (rule 11), and the rolling frequency cap (rule 13).
7. replies to a message the consumer just sent are exempt from the clock and the cap (rule 12).

Pure: "now" is passed in, zones are IANA names (see `bot.domain.timezones.consumer_zones`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo


class Kind(StrEnum):
    REPLY = "reply"  # answering a message the consumer just sent
    INITIATED = "initiated"  # started by the system: reminders, follow-ups after a quiet spell


class Purpose(StrEnum):
    COLLECTION = "collection"  # asks for payment, reminders, plan offers, settlement offers
    GENERAL = "general"  # ordinary conversation, agent replies, answers
    COMPLIANCE = "compliance"  # opt-out/cease confirmation, HELP, hold acknowledgement, crisis
    FEEDBACK = "feedback"  # satisfaction surveys: never after an escalation that put a hold


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEB = "web"
    VOICE = "voice"


class HoldReason(StrEnum):
    DISPUTE = "dispute"
    VALIDATION = "validation"
    BANKRUPTCY = "bankruptcy"
    ATTORNEY = "attorney"
    DISTRESS = "distress"
    DECEASED = "deceased"


class Reason(StrEnum):
    """The stable codes of a `Decision` (plain strings to anything that stores or logs them)."""

    OK = "ok"
    WRONG_NUMBER = "wrong_number"
    OPTED_OUT = "opted_out"
    CEASED = "ceased"
    ATTORNEY = "attorney"
    HOLD_DISTRESS = "hold:distress"
    HOLD_DECEASED = "hold:deceased"
    HOLD_BANKRUPTCY = "hold:bankruptcy"
    HOLD_DISPUTE = "hold:dispute"
    HOLD_VALIDATION = "hold:validation"
    CHANNEL_PREFERENCE = "channel_preference"
    OUTSIDE_WINDOW = "outside_window"
    PREFERENCE_HOURS = "preference_hours"
    WORK_HOURS = "work_hours"
    WEEKEND = "weekend"
    FREQUENCY_CAP = "frequency_cap"


# When several holds stand, the most serious one is reported (an attorney hold never gets this
# far: rule 4 refuses first).
_HOLD_PRECEDENCE: tuple[tuple[HoldReason, Reason], ...] = (
    (HoldReason.DISTRESS, Reason.HOLD_DISTRESS),
    (HoldReason.DECEASED, Reason.HOLD_DECEASED),
    (HoldReason.BANKRUPTCY, Reason.HOLD_BANKRUPTCY),
    (HoldReason.DISPUTE, Reason.HOLD_DISPUTE),
    (HoldReason.VALIDATION, Reason.HOLD_VALIDATION),
)

#: Holds an escalation puts on an account: nobody asks such a person how we did.
_ESCALATION_HOLDS = frozenset({HoldReason.DISTRESS, HoldReason.DECEASED, HoldReason.BANKRUPTCY})

_WORK_START = time(9)
_WORK_END = time(17)
_MIDNIGHT = time(0)
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_TICK = timedelta(microseconds=1)
# How far ahead a window is looked for: a year and a week, so every daylight-saving regime of
# every zone is seen. Beyond it "never" is the answer (not_before None).
_HORIZON = timedelta(days=371)


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone where an aware one (UTC) is required."""


class InvalidPolicyError(ValueError):
    """A ContactPolicy or Preference that cannot describe any sensible window or cap."""


class NoZonesError(ValueError):
    """A contact decision needs at least one zone (consumer_zones() always gives one)."""


class NoContactWindowError(LookupError):
    """No instant within the search horizon satisfies every clock rule at once."""


@dataclass(frozen=True)
class Preference:
    """What the consumer asked for (rule 11). Times are local wall-clock times and apply in
    every zone the consumer may be in. `earliest` is inclusive and `latest` exclusive; when
    `earliest` is after `latest` the hours wrap over midnight."""

    channels: frozenset[Channel] | None = None  # None: any channel
    earliest: time | None = None
    latest: time | None = None
    avoid_work_hours: bool = False  # no initiated messages Mon-Fri 09:00-17:00 local
    avoid_weekends: bool = False  # no initiated messages on Saturday or Sunday, local

    def __post_init__(self) -> None:
        for bound in (self.earliest, self.latest):
            if bound is not None and bound.tzinfo is not None:
                raise InvalidPolicyError("preference hours are local wall-clock times")
        if self.earliest is not None and self.earliest == self.latest:
            raise InvalidPolicyError("preference hours are empty (earliest == latest)")

    def allows_time(self, local: time) -> bool:
        after = self.earliest is None or local >= self.earliest
        before = self.latest is None or local < self.latest
        if self.earliest is not None and self.latest is not None and self.earliest > self.latest:
            return after or before
        return after and before


@dataclass(frozen=True)
class ContactPolicy:
    window_start: time = time(8)  # inclusive, local
    window_end: time = time(21)  # exclusive, local
    cap: int = 3  # initiated messages per account ...
    cap_days: int = 7  # ... in this many rolling days
    state_caps: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"MA": 2}), hash=False
    )

    def __post_init__(self) -> None:
        if not self.window_start < self.window_end:
            raise InvalidPolicyError("window_start must be before window_end")
        if self.cap_days < 1 or self.cap < 1 or any(c < 1 for c in self.state_caps.values()):
            raise InvalidPolicyError("caps and cap_days must be at least 1")

    def cap_for(self, state: str | None) -> int:
        if state is None:
            return self.cap
        return self.state_caps.get(state.strip().upper(), self.cap)


@dataclass(frozen=True)
class ContactContext:
    channel: Channel
    kind: Kind
    purpose: Purpose
    zones: tuple[str, ...]  # consumer_zones(...)
    opted_out: bool = False  # this address opted out on this channel
    ceased: bool = False  # the consumer asked to cease all communication
    wrong_number: bool = False  # the address is marked wrong for this account
    holds: frozenset[HoldReason] = frozenset()
    preference: Preference | None = None
    initiated_sent_at: tuple[datetime, ...] = ()  # system-initiated messages already sent
    state: str | None = None  # for the state cap

    def __post_init__(self) -> None:
        if not self.zones:
            raise NoZonesError("ContactContext.zones is empty")
        for sent in self.initiated_sent_at:
            _as_utc(sent, "initiated_sent_at")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    # The next instant (UTC) at which the same message would be allowed, when waiting helps;
    # None when it is allowed now or will not be without a change of state.
    not_before: datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed


_DEFAULT_POLICY = ContactPolicy()
_ALLOWED = Decision(True, Reason.OK)


def decide(ctx: ContactContext, now: datetime, policy: ContactPolicy = _DEFAULT_POLICY) -> Decision:
    """May this message go to this person at `now` (aware; UTC), and if not, why."""
    now = _as_utc(now, "now")
    compliance_reply = ctx.purpose is Purpose.COMPLIANCE and ctx.kind is Kind.REPLY
    if ctx.wrong_number:  # rule 4
        return Decision(False, Reason.WRONG_NUMBER)
    if ctx.opted_out and not compliance_reply:  # rules 9-10
        return Decision(False, Reason.OPTED_OUT)
    if ctx.ceased and not compliance_reply:  # 1006.6(c); rule 10
        return Decision(False, Reason.CEASED)
    if HoldReason.ATTORNEY in ctx.holds and ctx.purpose is not Purpose.COMPLIANCE:  # rule 15
        return Decision(False, Reason.ATTORNEY)
    if ctx.purpose is Purpose.COLLECTION and ctx.holds:  # rules 14-16
        return Decision(False, _hold_reason(ctx.holds))
    if ctx.purpose is Purpose.FEEDBACK and ctx.holds & _ESCALATION_HOLDS:  # no survey after one
        return Decision(False, _hold_reason(ctx.holds & _ESCALATION_HOLDS))
    if ctx.kind is Kind.REPLY:  # rule 12: replies are exempt from the clock and the cap
        return _ALLOWED
    return _decide_initiated(ctx, now, policy)


def next_window_start(
    now: datetime,
    zones: Iterable[str],
    policy: ContactPolicy = _DEFAULT_POLICY,
    preference: Preference | None = None,
) -> datetime:
    """The first instant at or after `now` at which every clock rule holds in every zone.

    The clock rules are the policy window (rule 12), and the preferred hours, "not at work"
    and "not on weekends" of `preference` (rule 11). Returns `now` itself when it already
    qualifies. Raises NoContactWindowError when no instant within a year qualifies.
    """
    now = _as_utc(now, "now")
    tzs = _load_zones(zones)
    if _clock_refusal(now, tzs, policy, preference) is None:
        return now
    if not _hours_can_meet(policy, preference):
        raise NoContactWindowError("the preferred hours do not meet the contact window")
    switch_on = _switch_on_times(policy, preference)
    # While no zone changes its UTC offset, the clock rules repeat every week (they depend on
    # the weekday and the wall-clock time only). So a stretch of constant offsets is searched
    # for its first week and a day; after that the search skips ahead to the next change.
    lo = regime_since = now
    offsets = _offsets(tzs, lo - _TICK)
    limit = now + _HORIZON
    while lo < limit:
        hi = lo + _DAY
        new_offsets = _offsets(tzs, hi - _TICK)
        if new_offsets != offsets or lo < regime_since + _WEEK + _DAY:
            for candidate in _candidates(tzs, switch_on, lo, hi):
                if candidate > now and _clock_refusal(candidate, tzs, policy, preference) is None:
                    return candidate
        if new_offsets != offsets:
            offsets, regime_since = new_offsets, hi
        lo = hi
    raise NoContactWindowError(f"no contact window within {_HORIZON.days} days for {tzs}")


def _decide_initiated(ctx: ContactContext, now: datetime, policy: ContactPolicy) -> Decision:
    pref = ctx.preference
    if pref is not None and pref.channels is not None and ctx.channel not in pref.channels:
        return Decision(False, Reason.CHANNEL_PREFERENCE)  # rule 11
    tzs = _load_zones(ctx.zones)
    reason = _clock_refusal(now, tzs, policy, pref)  # rules 11-12
    release = _cap_release(ctx, now, policy)  # rule 13
    if reason is None and release is None:
        return _ALLOWED
    if reason is None:
        reason = Reason.FREQUENCY_CAP
    # One answer for every time-based refusal: the first instant at which all of them pass.
    # The cap only ever loosens as time passes, so the clock is searched from its release.
    try:
        not_before = next_window_start(max(now, release or now), ctx.zones, policy, pref)
    except NoContactWindowError:
        return Decision(False, reason)
    return Decision(False, reason, not_before)


def _hold_reason(holds: frozenset[HoldReason]) -> Reason:
    return next(reason for hold, reason in _HOLD_PRECEDENCE if hold in holds)


def _cap_release(ctx: ContactContext, now: datetime, policy: ContactPolicy) -> datetime | None:
    """None when under the cap; else the instant enough counted messages have aged out.

    Counted: initiated messages sent strictly after `now - cap_days`, so one sent exactly
    cap_days ago no longer counts.
    """
    cap = policy.cap_for(ctx.state)
    window = timedelta(days=policy.cap_days)
    since = now - window
    counted = sorted(t for t in (_as_utc(s, "sent") for s in ctx.initiated_sent_at) if t > since)
    if len(counted) < cap:
        return None
    return counted[len(counted) - cap] + window


def _clock_refusal(
    instant: datetime,
    zones: tuple[ZoneInfo, ...],
    policy: ContactPolicy,
    pref: Preference | None,
) -> Reason | None:
    local = [instant.astimezone(zone) for zone in zones]
    if not all(policy.window_start <= t.time() < policy.window_end for t in local):
        return Reason.OUTSIDE_WINDOW
    if pref is None:
        return None
    if not all(pref.allows_time(t.time()) for t in local):
        return Reason.PREFERENCE_HOURS
    if pref.avoid_work_hours and any(
        t.weekday() < 5 and _WORK_START <= t.time() < _WORK_END for t in local
    ):
        return Reason.WORK_HOURS
    if pref.avoid_weekends and any(t.weekday() >= 5 for t in local):
        return Reason.WEEKEND
    return None


def _hours_can_meet(policy: ContactPolicy, pref: Preference | None) -> bool:
    """Whether some local time of day is inside both the window and the preferred hours."""
    if pref is None:
        return True
    start, end = policy.window_start, policy.window_end
    early, late = pref.earliest, pref.latest
    if early is not None and late is not None and early > late:  # wraps over midnight
        return early < end or late > start
    return max(start, early or start) < min(end, late or end)


def _switch_on_times(policy: ContactPolicy, pref: Preference | None) -> tuple[time, ...]:
    """Local times at which a clock rule can turn from refusing to allowing.

    Between two daylight-saving transitions a zone's wall clock runs forward without jumps,
    so every start of an allowed stretch is either one of these times being reached in some
    zone, or a transition itself (`_transition`). The intersection over zones starts where
    the last of its zones starts, which is again one of them.
    """
    times = {_MIDNIGHT, policy.window_start, _WORK_END}
    if pref is not None and pref.earliest is not None:
        times.add(pref.earliest)
    return tuple(sorted(times))


def _candidates(
    zones: tuple[ZoneInfo, ...], switch_on: tuple[time, ...], lo: datetime, hi: datetime
) -> list[datetime]:
    """Every instant in [lo, hi) where a zone's wall clock reads a switch-on time, or jumps."""
    found: set[datetime] = set()
    for zone in zones:
        day = lo.astimezone(zone).date() - _DAY
        last = hi.astimezone(zone).date() + _DAY
        while day <= last:
            for local in switch_on:
                naive = datetime.combine(day, local)
                # fold 0 and 1: both occurrences of a repeated time; for a skipped time, two
                # instants around the gap (the gap's own start comes from _transition).
                found.update(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
            day += _DAY
        jump = _transition(zone, lo, hi)
        if jump is not None:
            found.add(jump)
    return sorted(t for t in found if lo <= t < hi)


def _offsets(zones: tuple[ZoneInfo, ...], instant: datetime) -> tuple[timedelta | None, ...]:
    return tuple(instant.astimezone(zone).utcoffset() for zone in zones)


def _transition(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime | None:
    """The first instant in [lo, hi) with a new UTC offset in `zone` (at most one a day)."""
    before, after = lo - _TICK, hi - _TICK
    old = before.astimezone(zone).utcoffset()
    if after.astimezone(zone).utcoffset() == old:
        return None
    while after - before > _TICK:
        mid = before + (after - before) // 2
        if mid.astimezone(zone).utcoffset() == old:
            before = mid
        else:
            after = mid
    return after


def _load_zones(names: Iterable[str]) -> tuple[ZoneInfo, ...]:
    zones = tuple(ZoneInfo(name) for name in dict.fromkeys(names))
    if not zones:
        raise NoZonesError("at least one zone is needed")
    return zones


def _as_utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} must be an aware datetime (UTC), got {moment!r}")
    return moment.astimezone(UTC)
