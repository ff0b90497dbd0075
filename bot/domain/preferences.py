"""Contact preferences in a debtor's words: "text after 6pm", "email only", "not at work"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from bot.domain.contact import Channel

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
    (Channel.VOICE, re.compile(r"\b(call|phone call|ring)\b", re.I)),
    (Channel.SMS, re.compile(r"\b(text|sms|message)\b", re.I)),
)
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

    @property
    def empty(self) -> bool:
        return self == PreferenceChange()


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
    channels = None
    if refused and not wanted and not avoid_work:  # "don't call me at work" is about hours
        channels = frozenset(Channel) - frozenset(refused) - {Channel.WEB}
    elif wanted and (_ONLY.search(text) or wanted[0] is not Channel.SMS):
        channels = frozenset(wanted[:1] if _ONLY.search(text) else wanted)
    return PreferenceChange(
        channels=channels,
        earliest=earliest,
        latest=latest,
        avoid_work_hours=avoid_work,
    )
