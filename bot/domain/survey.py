"""Reading an answer to the satisfaction survey ("How did we do today? Reply with a number from
1 (poor) to 5 (great), and a comment if you like"). Pure and deterministic.

Conservative on purpose: a message that is not plainly a score goes to the assistant instead,
and the survey simply goes unanswered. Swallowing "can I pay 5 on friday" or "1 this is not my
debt" as a rating would lose a payment or a dispute; missing a rating loses one number.

Read as an answer (case and surrounding spaces ignored; NFKC, so "４" is 4):
- a score first: a digit 1-5 ("4"), a keycap digit ("4️⃣"), a word ("four", only alone or
  followed by punctuation), "3/5", "3 out of 5", "3 of 5", "4 stars", or 1-5 stars
  ("⭐⭐⭐⭐", "★★★"); optionally after a short lead-in ("I'd say 4", "I'd give it a 5",
  "rating: 4");
- then nothing, or a comment: after punctuation ("5 - quick and easy", "4, thanks", "5!") or
  after a space ("4 great service", "4 thanks!").

Not an answer:
- a score glued to more ("2pm", "5th", "5k", "5%", "10", "4.5", "3/4", "$5");
- a number that counts something: followed by a space and a unit or a continuation ("2 pm",
  "5 dollars", "2 weeks", "1 more question", "5 on friday", "3 or 4") or a plural noun
  ("3 kids and no job");
- a score anywhere but first ("can I pay 5 on friday", "great service, 5");
- anything with a question mark: a question wants an answer from the assistant;
- a comment that holds a digit or a currency sign (an amount or a date), a day or month
  name, or words about the debt or the contact that the assistant must act on ("pay",
  "balance", "not mine", "lawyer", "call me", "stop", "need", "when", ...);
- a message over MAX_LENGTH characters.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

MAX_LENGTH = 320
SCALE = range(1, 6)


class SurveyAnswer(NamedTuple):
    score: int  # 1 (poor) .. 5 (great)
    comment: str | None  # as typed, trimmed; None when there is none


_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_STARS = "⭐★"
# Punctuation that may separate a score from its comment ("5 - quick", "4, thanks", "5!").
_SEPARATORS = "-–—,.!:;)~"

_LEAD_IN = re.compile(
    r"""^(?:
        (?:i'?d|i\s+would)\s+say
      | (?:i'?d|i\s+would|i)\s+(?:give|rate)\s+(?:you\s+guys|it|you|u|this|that|the\s+\w+)
        (?:\s+an?)?
      | (?:my\s+)?(?:rating|score|answer)(?:\s+is)?\s*:?
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_OUT_OF_5 = r"(?:\s*/\s*|\s+out\s+of\s+|\s+of\s+)(?:5|five)"
# "4 stars" is a score; in "5 star service" the star belongs to the comment.
_STAR_WORD = r"stars?\b(?!\s+[a-z])"
_DIGIT_SCORE = re.compile(rf"^([1-5])(?:{_OUT_OF_5}|\s*{_STAR_WORD}|\s*[*{_STARS}])?", re.I)
_WORD_SCORE = re.compile(
    rf"^(one|two|three|four|five)\b(?:{_OUT_OF_5}|\s+{_STAR_WORD}|\s*[*{_STARS}])?", re.I
)
_STAR_SCORE = re.compile(rf"^([{_STARS}](?:\s?[{_STARS}])*)")

# After "N " these make N a time, an amount, a count or part of a longer phrase.
_CONTINUATIONS = frozenset({
    "am", "pm", "a.m", "a.m.", "p.m", "p.m.", "oclock", "o'clock",
    "dollar", "dollars", "buck", "bucks", "usd", "cent", "cents", "percent", "pct",
    "k", "grand", "hundred", "thousand", "million",
    "sec", "secs", "second", "seconds", "min", "mins", "minute", "minutes", "moment",
    "hr", "hrs", "hour", "hours", "day", "days", "wk", "wks", "week", "weeks",
    "mo", "mos", "month", "months", "yr", "yrs", "year", "years", "time", "times",
    "more", "less", "other", "others", "another", "extra", "plus", "left",
    "first", "last", "next", "of", "out", "or", "to", "and", "&", "on", "at", "by", "in",
    "per", "x", "until", "till", "til", "before", "after", "from", "each",
    "thing", "question", "item", "kid", "child", "children", "people", "person",
})  # fmt: skip
# Plural-looking words that are feedback, not things counted ("4 thanks", "5 stars").
_NOT_PLURALS = frozenset({
    "thanks", "thks", "thx", "stars", "yes", "cheers", "kudos", "props", "its", "sucks",
    "rocks", "rules", "always", "perhaps",
})  # fmt: skip
# Anywhere in a comment: something the assistant must act on, or a date.
_ACTION = re.compile(
    r"""\b(?:
        pay|paid|paying|payments?|owe[ds]?|owing|debts?|balance|bills?|billed|charge[ds]?
      | fees?|refund\w*|disput\w*|not\s+mine|isn'?t\s+mine|ain'?t\s+mine|wrong|lawyer|attorney
      | bankrupt\w*|died|dead|deceased|passed\s+away|estate|stop\w*|unsubscribe|cancel\w*
      | call|calling|email|e-mail|text\s+me|plans?|promise[ds]?|settle\w*|complain\w*|sue|court
      | help\s+me|need\w*|want\w*|can\s+i|could\s+i|can\s+you|could\s+you|when|why|where|what
      | who|how|job|sick|hospital|divorce\w*|afford\w*|money|account|receipt|proof|verif\w*
      | monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu|thurs|fri
      | sat|today|tomorrow|tmrw|tonight|weekend|week|month|year
      | january|february|march|april|june|july|august|september|october|november|december
      | jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
_MONEY_OR_DIGIT = re.compile(r"[0-9$€£¥¢]")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\ufe0f", "").replace("\u20e3", "")  # "4️⃣" -> "4", "⭐️" -> "⭐"
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


def _score(text: str) -> tuple[int, str, bool] | None:
    """(score, what follows it, may a bare space separate the comment)."""
    if found := _DIGIT_SCORE.match(text):
        return int(found.group(1)), text[found.end() :], True
    if found := _WORD_SCORE.match(text):
        return _WORDS[found.group(1).lower()], text[found.end() :], False
    if found := _STAR_SCORE.match(text):
        stars = sum(1 for ch in found.group(1) if ch in _STARS)
        return (stars, text[found.end() :], True) if stars in SCALE else None
    return None


def _counts_something(word: str) -> bool:
    """Does `word`, right after a number and a space, make the number a quantity or a time?"""
    word = word.lower().rstrip(_SEPARATORS + "'\"")
    if word in _CONTINUATIONS:
        return True
    plural = len(word) > 2 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as"))
    return plural and not word.endswith("ys") and word not in _NOT_PLURALS


def parse_answer(text: str) -> SurveyAnswer | None:
    """The score and comment of a survey answer, or None when `text` is not plainly one."""
    text = _normalize(text)
    if not text or len(text) > MAX_LENGTH or "?" in text:
        return None
    scored = _score(text)
    if scored is None and (lead := _LEAD_IN.match(text)):
        scored = _score(text[lead.end() :])
    if scored is None:
        return None
    score, rest, bare_space_ok = scored
    if rest and rest[0] not in _SEPARATORS:
        if rest[0] != " ":
            return None  # "2pm", "5th", "5%", "10"
        after = rest.lstrip()
        if after[0] not in _SEPARATORS:  # only a space between: "4 great service"
            if not bare_space_ok:
                return None  # "one more", "five dollars": number words count things too often
            if _counts_something(after.split()[0]):
                return None  # "2 pm", "5 on friday", "1 more question", "3 kids"
    comment = rest.lstrip(_SEPARATORS + " ").rstrip()
    if not any(ch.isalnum() or ord(ch) > 0x2000 for ch in comment):
        return SurveyAnswer(score, None)  # "5", "5!", "5 :)"; "5 👍" keeps its thumb
    if _MONEY_OR_DIGIT.search(comment) or _ACTION.search(comment):
        return None  # an amount, a date, or something the assistant must act on
    return SurveyAnswer(score, comment)
