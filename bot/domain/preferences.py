"""Contact preferences in a debtor's words: "text after 6pm", "email only", "not at work",
"not on weekends"; and how one message changes the preference already on file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from bot.domain.contact import Channel, Preference

_HOUR = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?"
_AFTER = re.compile(rf"\b(?:after|from|past|later than)\s+{_HOUR}", re.I)
_BEFORE = re.compile(rf"\b(?:before|until|till|by|no later than)\s+{_HOUR}", re.I)
_EVENING = re.compile(r"\b(evenings?|at night|after work)\b", re.I)
_MORNING = re.compile(r"\b(mornings?)\b", re.I)
_WORK = re.compile(
    r"\b(at work|during work|work hours|working hours|while i'?m working|business hours)\b",
    re.I,
)
_CHANNELS = (
    (Channel.EMAIL, re.compile(r"\b(e-?mail)\b", re.I)),
    (Channel.VOICE, re.compile(r"\b(calls?|phone calls?|ring)\b", re.I)),
    (Channel.SMS, re.compile(r"\b(texts?|sms|messages?)\b", re.I)),
)
_WEEKEND = re.compile(r"\b(weekends?|saturdays?|sundays?)\b", re.I)
_WEEKDAYS = re.compile(r"\b(weekdays?|monday (?:to|through|thru|-) friday|mon ?- ?fri)\b", re.I)
_ONLY = re.compile(r"\b(only|instead|rather)\b", re.I)
_BETWEEN = re.compile(rf"\bbetween\s+{_HOUR}\s+(?:and|to|-)\s+{_HOUR}", re.I)
_NEGATION = re.compile(r"\b(not|no|don'?t|do not|never|stop)\b[\w\s']{0,20}$", re.I)


def _negated(text: str, start: int) -> bool:
    """A "not"/"don't"/"no" within the few words before position `start`."""
    return bool(_NEGATION.search(text[max(0, start - 25) : start]))


@dataclass(frozen=True)
class PreferenceChange:
    channels: frozenset[Channel] | None = None
    earliest: time | None = None
    latest: time | None = None
    avoid_work_hours: bool = False
    avoid_weekends: bool = False

    @property
    def empty(self) -> bool:
        return self == PreferenceChange()

    def applied_to(self, current: Preference | None) -> Preference:
        """The preference after this message: what it names changes (new hours replace the
        old hours as a whole), what it does not name stays. "Text me after 6pm", then "and
        not on weekends": both hold."""
        current = current or Preference()
        hours = self.earliest is not None or self.latest is not None
        return Preference(
            channels=self.channels if self.channels is not None else current.channels,
            earliest=self.earliest if hours else current.earliest,
            latest=self.latest if hours else current.latest,
            avoid_work_hours=self.avoid_work_hours or current.avoid_work_hours,
            avoid_weekends=self.avoid_weekends or current.avoid_weekends,
        )


def _to_time(
    hour: str, minute: str | None, meridiem: str | None, *, default_pm: bool
) -> time | None:
    h, m = int(hour), int(minute or 0)
    if m > 59 or h > 23:
        return None
    mer = (meridiem or "").replace(".", "").lower()
    if mer == "pm" and h < 12:
        h += 12
    elif mer == "am" and h == 12:
        h = 0
    elif not mer and default_pm and 1 <= h <= 7:  # "after 6" means 6pm in a texting context
        h += 12
    return time(h, m)


def parse_preference(text: str) -> PreferenceChange:
    """Hours: "after 6pm", "before 5", "between 9am and 5pm", "evenings"; a negation flips
    the bound ("no texts after 8pm" means latest 8pm). Channels: a channel named positively
    ("email only", "call me instead") becomes the allowed one; a negated one ("don't email
    me") is left out of the allowed set."""
    earliest = latest = None
    if m := _BETWEEN.search(text):
        g = m.groups()
        earliest = _to_time(g[0], g[1], g[2], default_pm=False)
        latest = _to_time(g[3], g[4], g[5], default_pm=True)
    else:
        if m := _AFTER.search(text):
            bound = _to_time(*m.groups(), default_pm=True)
            if _negated(text, m.start()):
                latest = bound
            else:
                earliest = bound
        elif _EVENING.search(text):
            earliest = time(17)
        if m := _BEFORE.search(text):
            bound = _to_time(*m.groups(), default_pm=True)
            if _negated(text, m.start()):
                earliest = bound
            else:
                latest = bound
        elif _MORNING.search(text) and earliest is None and latest is None:
            latest = time(12)
    wanted: list[Channel] = []
    refused: list[Channel] = []
    for channel, rx in _CHANNELS:
        for m in rx.finditer(text):
            (refused if _negated(text, m.start()) else wanted).append(channel)
    avoid_work = bool(_WORK.search(text))
    weekend = _WEEKEND.search(text)
    avoid_weekends = bool((weekend and _negated(text, weekend.start())) or _WEEKDAYS.search(text))
    # "Don't call me at work", "don't text me after 9pm", "only text me in the evenings":
    # said with a time, the channel word is about when, not which channel ("text only" alone
    # is about the channel).
    when = earliest is not None or latest is not None or avoid_weekends or avoid_work
    channels = None
    if refused and not wanted and not when:
        channels = frozenset(Channel) - frozenset(refused) - {Channel.WEB}
    elif wanted and when and not refused and set(wanted) == {Channel.SMS}:
        channels = None
    elif wanted and (_ONLY.search(text) or wanted[0] is not Channel.SMS):
        channels = frozenset(wanted[:1] if _ONLY.search(text) else wanted)
    return PreferenceChange(
        channels=channels,
        earliest=earliest,
        latest=latest,
        avoid_work_hours=avoid_work,
        avoid_weekends=avoid_weekends,
    )
