"""When our agents are in: "Mon-Fri 08:00-20:00; Sat 09:00-13:00" in the team's time zone.

A handoff outside those hours must not promise a reply "shortly": the debtor who asks for a
person at 11 pm is told when the team is back instead (see `bot.services.handoff`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.dates import format_clock, format_date

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = ("", "always", "24/7")
_SPAN = re.compile(
    r"(?P<first>[a-z]{3})[a-z]*(?:\s*-\s*(?P<last>[a-z]{3})[a-z]*)?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})"
)


def _time_of(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    if hour == 24 and minute == 0:
        return time.max
    return time(hour, minute)


@dataclass(frozen=True)
class TeamHours:
    """Weekly opening hours; no spans means always open."""

    zone: ZoneInfo
    spans: tuple[tuple[int, time, time], ...] = ()  # (weekday 0=Monday, start, end)

    @classmethod
    def parse(cls, text: str, zone: str) -> TeamHours:
        """ "Mon-Fri 08:00-20:00; Sat 09:00-13:00", or "always". Raises ValueError, naming
        the part it could not read."""
        spans: list[tuple[int, time, time]] = []
        if text.strip().lower() not in ALWAYS:
            for part in re.split(r"[;,]", text.lower()):
                m = _SPAN.fullmatch(part.strip())
                if m is None or m["first"] not in DAYS or (m["last"] or "mon") not in DAYS:
                    raise ValueError(f"cannot read team hours {part.strip()!r}")
                first = DAYS.index(m["first"])
                last = DAYS.index(m["last"]) if m["last"] else first
                start, end = _time_of(m["start"]), _time_of(m["end"])
                if not start < end:
                    raise ValueError(f"team hours {part.strip()!r} end before they start")
                count = (last - first) % 7 + 1  # "Sat-Sun", or "Fri-Mon" over the weekend
                spans += [((first + n) % 7, start, end) for n in range(count)]
        return cls(ZoneInfo(zone), tuple(sorted(spans)))

    def is_open(self, now: datetime) -> bool:
        return self.next_open(now) is None

    def next_open(self, now: datetime) -> datetime | None:
        """None while the team is in; otherwise when it is next in (aware, the team's zone)."""
        if not self.spans:
            return None
        local = now.astimezone(self.zone)
        for day_offset in range(8):
            day = local.date() + timedelta(days=day_offset)
            for weekday, start, end in self.spans:
                if weekday != day.weekday():
                    continue
                opens, closes = self._at(day, start), self._at(day, end)
                if opens <= local < closes:
                    return None
                if local < opens:
                    return opens
        return None  # unreachable with at least one span: every weekday recurs within 8 days

    def describe(self, at: datetime, today: date) -> str:
        """ "Tuesday, Dec 8 at 8:00 AM PST": when the team is back, in its own zone."""
        local = at.astimezone(self.zone)
        return (
            f"{format_date(local.date(), today)} at {format_clock(local.time())} {local.tzname()}"
        )

    def _at(self, day: date, clock: time) -> datetime:
        if clock == time.max:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        return datetime.combine(day, clock, tzinfo=self.zone)
