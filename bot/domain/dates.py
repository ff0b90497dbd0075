"""Dates as debtors type them: a payment date, how often, a date of birth; and dates as the
bot writes them. "today" is always passed in.

Rules (each is tested):
- A date without a year is its next occurrence on or after today.
- A weekday ("friday", "fri", "this friday", "on fri") is its next occurrence after today:
  today counts only when the person says "today", so "friday" said on a Friday is a week away.
- "next friday" is the Friday of next week (weeks run Monday to Sunday): said on a Wednesday
  it is nine days away, on a Saturday six (the coming Friday is already in next week), and on
  a Sunday "next monday" is tomorrow.
- "the 15th", "on the 1st", "the 15" are the next such day of the month, today included; a day
  the month lacks ("the 31st" in November) is that month's last day.
- "next week" is Monday of next week, "next month" and "first of next month" the 1st of next
  month, "first of the month" the next 1st (today included), "end of the month" this month's
  last day, "end of the week" this week's Friday (the next one on a weekend).
- "payday", "soon", "when I can" are not dates: None.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, time, timedelta

from dateutil.relativedelta import relativedelta

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

MIN_AGE = 18
MAX_AGE = 120  # exclusive: a date of birth 120 or more years ago is a typo

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "febuary": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8,
    "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "weds": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
_TOMORROW = frozenset(
    {
        "tomorrow", "tomorow", "tommorow", "tommorrow", "tomorrrow", "tmrw", "tmr", "tmrow",
        "tmw", "tmro", "tomoro", "tomorro", "2morrow", "2morow", "2moro", "2mrw", "2mro",
    }
)  # fmt: skip
_TODAY = frozenset({"today", "tday", "2day", "tonight", "tonite", "2nite", "tnite", "now"})
_SMALL_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "twenty first": 21, "twenty second": 22,
    "twenty third": 23, "twenty fourth": 24, "twenty fifth": 25, "twenty sixth": 26,
    "twenty seventh": 27, "twenty eighth": 28, "twenty ninth": 29, "thirtieth": 30,
    "thirty first": 31,
}  # fmt: skip

_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORD_RE = "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True))
_NUM_WORD_RE = "|".join(sorted(_SMALL_NUMBERS, key=len, reverse=True))
_SUFFIX = r"(?:st|nd|rd|th)?"
_NOT_A_DAY_AFTER = (
    r"(?!\s*(?:dollars?|bucks|usd|cents?|%|percent|k\b|grand|days?|weeks?|months?|years?|"
    r"payments?|installments?|times|am\b|pm\b|one\b|option|choice))"
)

_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d/.$-])(\d{1,2})[/-](\d{1,2})(?:[/-](\d{4}|\d{2}))?(?![\d/-])")
_DOTTED = re.compile(r"(?<![\d.$])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?![\d.])")
_MONTH_DAY = re.compile(
    rf"\b({_MONTH_RE})\.?\s*(\d{{1,2}}){_SUFFIX}\b(?:,?\s*(\d{{4}})\b)?(?!\s*(?:/|\d))"
)
_DAY_MONTH = re.compile(
    rf"(?<![\d$])(\d{{1,2}}){_SUFFIX}\s*(?:of\s+|-)?({_MONTH_RE})\b\.?(?:,?\s*(\d{{4}})\b)?"
)
_DAY_OF_REL_MONTH = re.compile(
    rf"(?<![\d$])(?:(\d{{1,2}}){_SUFFIX}|({_ORD_RE}))\s+of\s+(this|next)\s+month"
)
_DAY_AFTER_TOMORROW = re.compile(r"\b(?:day after (?:tomorrow|tmrw|tommorow|tomorow)|overmorrow)")
_IN_N = re.compile(
    rf"\bin\s+(?:(\d{{1,3}})|({_NUM_WORD_RE})|a\s+couple(?:\s+of)?)\s+(day|week|month)s?\b"
)
_N_FROM_NOW = re.compile(
    rf"\b(?:(\d{{1,3}})|({_NUM_WORD_RE})|a\s+couple(?:\s+of)?)\s+(day|week|month)s?\s+from\s+"
    r"(?:now|today)\b"
)
_WEEK_FROM_WEEKDAY = re.compile(r"\ba\s+week\s+from\s+(?:this\s+|next\s+)?([a-z]+)")
_END_OF_MONTH = re.compile(
    r"\b(?:end\s+of\s+(?:the\s+|this\s+)?(?:month|mnth|mo)\b|eom\b|month[\s-]end\b|"
    r"last\s+day\s+of\s+(?:the\s+|this\s+)?(?:month|mnth|mo)\b)"
)
_END_OF_NEXT_MONTH = re.compile(r"\b(?:end|last\s+day)\s+of\s+next\s+(?:month|mnth|mo)\b")
_FIRST_OF_NEXT_MONTH = re.compile(
    r"\b(?:(?:the\s+)?(?:first|1st|beginning|start)\s+of\s+next\s+(?:month|mnth|mo)\b|"
    r"next\s+month\b)"
)
_FIRST_OF_MONTH = re.compile(
    r"\b(?:the\s+)?(?:first|1st|beginning|start)\s+of\s+(?:the\s+|this\s+)?(?:month|mnth|mo)\b"
)
_NEXT_WEEK = re.compile(r"\bnext\s+week\b")
_END_OF_WEEK = re.compile(r"\bend\s+of\s+(?:the\s+|this\s+)?week\b")
_WEEKEND = re.compile(r"\b(?:this\s+)?weekend\b")
_DAY_OF_MONTH = re.compile(
    rf"(?:\b(?:on|by|the)\s+(?:the\s+)?(\d{{1,2}}){_SUFFIX}(?![\d/.,-]?\d){_NOT_A_DAY_AFTER}"
    rf"|(?<![\d$.,/-])(\d{{1,2}})(?:st|nd|rd|th)\b"
    rf"|\bthe\s+({_ORD_RE})\b{_NOT_A_DAY_AFTER})"
)
_WORD = re.compile(r"[a-z0-9']+")


def _normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text).strip()


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): "fryday"/"friday" 1, "thrusday" 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _weekday_of(word: str) -> int | None:
    """A weekday name, abbreviation, plural ("fridays") or near-miss ("fryday", "wensday")."""
    if word in _WEEKDAYS:
        return _WEEKDAYS[word]
    if word.endswith("s") and word[:-1] in _WEEKDAYS and len(word) > 4:
        return _WEEKDAYS[word[:-1]]
    if len(word) < 5:
        return None
    for name, day in _WEEKDAYS.items():
        if len(name) >= 6 and _edit_distance(word, name) <= (2 if len(name) >= 8 else 1):
            return day
    return None


def _is_tomorrow(word: str) -> bool:
    return word in _TOMORROW or (len(word) >= 6 and _edit_distance(word, "tomorrow") <= 2)


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, monthrange(year, month)[1]))


def _next_day_of_month(day: int, today: date) -> date:
    """The next `day` of a month on or after today; a missing day is the month's last."""
    this_month = _clamped(today.year, today.month, day)
    if this_month >= today:
        return this_month
    following = today + relativedelta(months=1)
    return _clamped(following.year, following.month, day)


def _next_month_day(month: int, day: int, today: date) -> date | None:
    """The next (month, day) on or after today; None when no year has it (Feb 30)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    for year in range(today.year, today.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            if day > monthrange(2000, month)[1]:
                return None
            continue  # Feb 29 outside a leap year: try the next
        if candidate >= today:
            return candidate
    return None


def _ymd(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(raw: str | None, today: date) -> int | None:
    if raw is None:
        return None
    year = int(raw)
    return year + (today.year // 100) * 100 if len(raw) == 2 else year


def _dated(month: int, day: int, year: int | None, today: date) -> date | None:
    if year is None:
        return _next_month_day(month, day, today)
    return _ymd(year, month, day)


def _next_weekday(weekday: int, today: date) -> date:
    """The next occurrence strictly after today."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _weekday_in_next_week(weekday: int, today: date) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(days=7 + weekday)


def _amount(digits: str | None, word: str | None) -> int:
    if digits is not None:
        return int(digits)
    if word is not None:
        return _SMALL_NUMBERS[word]
    return 2  # "a couple"


def _shift(today: date, n: int, unit: str) -> date:
    if unit == "day":
        return today + timedelta(days=n)
    if unit == "week":
        return today + timedelta(weeks=n)
    return today + relativedelta(months=n)


def _explicit_date(t: str, today: date) -> tuple[bool, date | None]:
    """A written calendar date: (found, the date or None when it does not exist)."""
    if m := _ISO.search(t):
        return True, _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _NUMERIC.search(t) or _DOTTED.search(t):
        return True, _dated(int(m.group(1)), int(m.group(2)), _year(m.group(3), today), today)
    if m := _MONTH_DAY.search(t):
        month, day = _MONTHS[m.group(1)], int(m.group(2))
        return True, _dated(month, day, _year(m.group(3), today), today)
    if m := _DAY_MONTH.search(t):
        month, day = _MONTHS[m.group(2)], int(m.group(1))
        return True, _dated(month, day, _year(m.group(3), today), today)
    if m := _DAY_OF_REL_MONTH.search(t):
        day = int(m.group(1)) if m.group(1) else _ORDINAL_WORDS[m.group(2)]
        base = today if m.group(3) == "this" else today + relativedelta(months=1)
        return True, _clamped(base.year, base.month, day) if 1 <= day <= 31 else None
    return False, None


def _relative(t: str, words: list[str], today: date) -> date | None:
    """Days counted from today: "in 3 days", "a week from friday", "tomorrow", "tonight"."""
    if _DAY_AFTER_TOMORROW.search(t):
        return today + timedelta(days=2)
    if m := _IN_N.search(t) or _N_FROM_NOW.search(t):
        return _shift(today, _amount(m.group(1), m.group(2)), m.group(3))
    if (m := _WEEK_FROM_WEEKDAY.search(t)) and (wd := _weekday_of(m.group(1))) is not None:
        return _next_weekday(wd, today) + timedelta(weeks=1)
    if re.search(r"\ba week from (?:now|today)\b", t):
        return today + timedelta(weeks=1)
    if any(_is_tomorrow(w) for w in words):
        return today + timedelta(days=1)
    if any(w in _TODAY for w in words) or re.search(r"\bthis (?:evening|afternoon|morning)", t):
        return today
    return None


def _month_or_week_marker(t: str, words: list[str], today: date) -> date | None:
    """End or start of this or next month, next week, end of the week."""
    if _END_OF_NEXT_MONTH.search(t):
        following = today + relativedelta(months=1)
        return _clamped(following.year, following.month, 31)
    if _END_OF_MONTH.search(t):
        return _clamped(today.year, today.month, 31)
    if _FIRST_OF_NEXT_MONTH.search(t):
        following = today + relativedelta(months=1)
        return date(following.year, following.month, 1)
    if _FIRST_OF_MONTH.search(t):
        return _next_day_of_month(1, today)
    if _NEXT_WEEK.search(t):
        named = [d for d in map(_weekday_of, words) if d is not None]
        return _weekday_in_next_week(named[0] if named else 0, today)
    if _END_OF_WEEK.search(t):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    return None


def parse_when(text: str, today: date) -> date | None:
    """The date a debtor means for a payment, or None (see the module docstring for the
    rules). A date with an explicit year is returned even when it has passed; the caller
    decides whether it is acceptable."""
    t = _normalize(text)
    found, explicit = _explicit_date(t, today)
    if found:
        return explicit
    words = _WORD.findall(t)
    when = _relative(t, words, today) or _month_or_week_marker(t, words, today)
    if when is not None:
        return when
    if m := _DAY_OF_MONTH.search(t):
        day = int(m.group(1) or m.group(2)) if not m.group(3) else _ORDINAL_WORDS[m.group(3)]
        return _next_day_of_month(day, today) if 1 <= day <= 31 else None
    when = _weekday_phrase(words, today)
    if when is None and _WEEKEND.search(t):
        when = today if today.weekday() == 6 else today + timedelta(days=5 - today.weekday())
    return when


def _weekday_phrase(words: list[str], today: date) -> date | None:
    for k, word in enumerate(words):
        weekday = _weekday_of(word)
        if weekday is None:
            continue
        before = words[k - 1] if k > 0 else ""
        after = words[k + 1 : k + 3]
        if before == "last":
            return None
        if before == "next":
            when = _weekday_in_next_week(weekday, today)
        else:
            when = _next_weekday(weekday, today)
        if after == ["after", "next"]:
            when = _weekday_in_next_week(weekday, today) + timedelta(weeks=1)
        return when
    return None


# ----------------------------------------------------------------------------- delays

# "push it back a week", "a couple days later", "2 more days", "delay it by 3 days",
# "another week": how much later than the date it had. "a few days" is not a number: None.
_DELAY = re.compile(
    rf"\b(?:back|by|later\s+by|out)\s+(?:(\d{{1,2}})|({_NUM_WORD_RE})|a\s+couple(?:\s+of)?)"
    r"\s+(day|week)s?\b"
    rf"|\b(?:(\d{{1,2}})|({_NUM_WORD_RE})|a\s+couple(?:\s+of)?)\s+(?:more\s+)?(day|week)s?"
    r"\s+(?:later|after|more|extra|longer)\b"
    rf"|\b(?:(\d{{1,2}})|({_NUM_WORD_RE})|a\s+couple(?:\s+of)?)\s+more\s+(day|week)s?\b"
    r"|\banother\s+(day|week)\b"
)


def parse_delay(text: str) -> timedelta | None:
    """How much later a debtor wants a payment they already have a date for: "push it back a
    week" (7 days), "a couple days later" (2), "3 more days", "another week". None when the
    message names no amount of days or weeks ("push it back", "a few days")."""
    t = _normalize(text)
    m = _DELAY.search(t)
    if m is None:
        return None
    groups = m.groups()
    if groups[9] is not None:  # "another day|week"
        n, unit = 1, groups[9]
    else:
        digits, word, unit = next(groups[k : k + 3] for k in (0, 3, 6) if groups[k + 2] is not None)
        n = _amount(digits, word)
    days = n * (7 if unit == "week" else 1)
    return timedelta(days=days) if days > 0 else None


def requested_date(text: str, today: date, current: date | None) -> date | None:
    """The date a debtor wants a payment moved to: a date they name ("friday", "the 20th",
    "dec 3"; :func:`parse_when`), else, when the payment has a `current` date, that date plus
    the delay they name ("push it back a week")."""
    when = parse_when(text, today)
    if when is not None or current is None:
        return when
    delay = parse_delay(text)
    return current + delay if delay is not None else None


_ASKS_WHEN = re.compile(
    r"\b(?:whens?|what(?:'?s|\s+is)?\s+(?:the\s+)?(?:day|date)|which\s+(?:day|date)|due\s+date)\b"
)
_MOVE_WORDS = re.compile(
    r"\b(?:move|change|push|pushed|reschedul\w*|delay|postpone|later|earlier|extend|switch|"
    r"different|another|instead)\b"
)


def asks_when(text: str) -> bool:
    """ "When is my next payment due?": a question about a payment's date, not a wish to
    move it ("when can I move it?" and "can I change the date?" are the latter)."""
    t = _normalize(text)
    return bool(_ASKS_WHEN.search(t)) and not _MOVE_WORDS.search(t)


# ----------------------------------------------------------------------------- frequency

_BIWEEKLY = re.compile(
    r"\b(?:bi-?weekly|fortnight(?:ly)?|every\s+(?:other|2|two|second|2nd)\s+(?:week|wk)s?|"
    r"every\s+(?:2|two)\s+weeks|once\s+every\s+(?:2|two)\s+weeks|twice\s+(?:a|per|each)\s+month|"
    r"(?:2|two)\s*(?:x|times)\s+(?:a|per|each)\s+month|semi-?monthly|every\s+(?:other|2nd|second)"
    r"\s+([a-z]+)|every\s+(?:2|two)\s+([a-z]+))"
)
_WEEKLY = re.compile(
    r"\b(?:weekly|(?:every|each|per|once\s+a)\s+week|(?:every|each)\s+([a-z]+))\b"
    r"|(?<!\bin )(?<!\btwice )\ba\s+week\b(?!\s+from)|/\s*(?:wk|week)\b"
)
_MONTHLY = re.compile(
    r"(?:\bmonthly\b|\b(?:per|each|every|once\s+a)\s+(?:month|mo|mnth)\b|"
    r"(?<!in )\ba\s+(?:month|mo|mnth)\b(?!\s+from)|/\s*(?:mo|month)\b)"
)
_BIMONTHLY = re.compile(r"\bbi-?monthly\b|\bevery\s+(?:other|2|two)\s+months?\b")


def _any_weekday(t: str) -> int | None:
    for word in _WORD.findall(t):
        weekday = _weekday_of(word)
        if weekday is not None:
            return weekday
    return None


def parse_frequency(text: str) -> tuple[str, int | None] | None:
    """How often: ("weekly" | "biweekly" | "monthly", weekday 0-6 or None), or None.

    "weekly", "every week", "every friday", "fridays" -> weekly (with Friday = 4);
    "biweekly", "every two weeks", "every other friday", "fortnightly" -> biweekly;
    "twice a month" and "semi-monthly" count as biweekly too (the policy has no
    semi-monthly schedule, and every two weeks is the nearest one);
    "monthly", "a month", "per month", "each month", "/mo" -> monthly.
    "bi-monthly" and "every other month" are ambiguous or not allowed: None.
    """
    t = _normalize(text)
    if _BIMONTHLY.search(t):
        return None
    for m in _BIWEEKLY.finditer(t):
        named = m.group(1) or m.group(2)
        if named is not None and _weekday_of(named) is None:
            continue  # "every 2 months" is not biweekly
        return ("biweekly", _any_weekday(t))
    for m in _WEEKLY.finditer(t):
        if m.group(1) is not None and _weekday_of(m.group(1)) is None:
            continue  # "each month", "every payday"
        return ("weekly", _any_weekday(t))
    if _MONTHLY.search(t):
        return ("monthly", None)
    for word in _WORD.findall(t):  # "fridays", "on fridays"
        if word.endswith("s") and word[:-1] in _WEEKDAYS and len(word) > 4:
            return ("weekly", _WEEKDAYS[word[:-1]])
    return None


# ----------------------------------------------------------------------------- birth dates

_DOB_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DOB_NUMERIC = re.compile(
    r"(?<![\d.])(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4}|\d{2})(?!\d)"
)
_DOB_MONTH_DAY = re.compile(
    rf"\b({_MONTH_RE})\.?\s*-?\s*(\d{{1,2}})(?!\d){_SUFFIX}\s*[,-]?\s*(\d{{4}}|\d{{2}})(?!\d)"
)
_DOB_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?!\d){_SUFFIX}\s*(?:of\s+)?-?\s*({_MONTH_RE})\b\.?"
    r"\s*[,-]?\s*(\d{4}|\d{2})(?!\d)"
)
_DOB_COMPACT = re.compile(r"(?<!\d)(\d{8}|\d{6})(?!\d)")


def age_on(born: date, today: date) -> int:
    """Whole years; a Feb 29 birthday comes on Mar 1 in other years."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _plausible_dob(born: date | None, today: date) -> date | None:
    if born is None or born > today:
        return None
    return born if MIN_AGE <= age_on(born, today) < MAX_AGE else None


def _dob(month: int, day: int, raw_year: str, today: date) -> date | None:
    if len(raw_year) == 4:
        return _plausible_dob(_ymd(int(raw_year), month, day), today)
    # Two digits: the most recent year ending so that leaves the person an adult.
    yy = int(raw_year)
    century = today.year // 100 * 100
    for year in (century + yy, century - 100 + yy, century - 200 + yy):
        if year > today.year:
            continue
        born = _plausible_dob(_ymd(year, month, day), today)
        if born is not None:
            return born
    return None


def parse_dob(text: str, today: date) -> date | None:
    """A date of birth as typed: "3/12/84", "03/12/1984", "3-12-84", "3.12.1984",
    "3 12 84", "March 12 1984", "march 12, 1984", "Mar 12 84", "12 March 1984",
    "1984-03-12", "03121984" (MMDDYYYY), "031284" (MMDDYY).

    Month first (US); a first number above 12 with a second of 12 or less is read day first
    ("25/12/1984"), as no other reading exists. Two-digit years are the most recent year that
    makes the person at least 18 (and under 120). Impossible dates (2/30, 2/29/83), future
    dates, and ages under 18 or of 120 and over give None.
    """
    t = _normalize(text)
    if m := _DOB_ISO.search(t):
        return _plausible_dob(_ymd(int(m.group(1)), int(m.group(2)), int(m.group(3))), today)
    if m := _DOB_MONTH_DAY.search(t):
        return _dob(_MONTHS[m.group(1)], int(m.group(2)), m.group(3), today)
    if m := _DOB_DAY_MONTH.search(t):
        return _dob(_MONTHS[m.group(2)], int(m.group(1)), m.group(3), today)
    if m := _DOB_NUMERIC.search(t):
        first, second = int(m.group(1)), int(m.group(2))
        if first > 12 >= second:
            first, second = second, first
        return _dob(first, second, m.group(3), today)
    if m := _DOB_COMPACT.search(t):
        digits = m.group(1)
        if len(digits) == 6:
            return _dob(int(digits[:2]), int(digits[2:4]), digits[4:], today)
        born = _dob(int(digits[:2]), int(digits[2:4]), digits[4:], today)
        if born is None and digits[:2] in ("19", "20"):  # YYYYMMDD
            born = _plausible_dob(_ymd(int(digits[:4]), int(digits[4:6]), int(digits[6:])), today)
        return born
    return None


# ----------------------------------------------------------------------------- formatting


def format_date(d: date, today: date | None = None) -> str:
    """ "Friday, Dec 4"; with `today` in another year, "Friday, Jan 8, 2027".
    English names whatever the locale."""
    text = f"{WEEKDAY_NAMES[d.weekday()]}, {MONTH_ABBR[d.month - 1]} {d.day}"
    if today is not None and d.year != today.year:
        text += f", {d.year}"
    return text


def format_clock(t: time) -> str:
    """ "5:00 PM", "12:30 AM". English whatever the locale, as format_date."""
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"
