"""SMS keywords and plain-language opt-outs (compliance rules 9-10), decided deterministically
before any model sees the message, so a misread cannot miss an opt-out."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES START", "SUBSCRIBE"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# "stop texting me", "leave me alone", "no más", "don't text me anymore", "unsubscribe me",
# "remove me from your list", "take me off your list", "do not contact me". Not: "stopping by
# to pay", "can I stop my payment plan", "stop charging me fees".
_OPT_OUT = re.compile(
    r"""
    \b(?:
        stop\s+(?:texting|txting|messaging|contacting|calling|sending|bothering\s+me\s+with\s+texts)\b
      | (?:don'?t|do\s+not|never)\s+(?:text|txt|message|contact|call)\s+(?:me|this\s+number)
      | leave\s+me\s+(?:alone|be)\b
      | no\s+m[aá]s\b
      | unsubscribe\s+me\b
      | (?:remove|take)\s+(?:me|this\s+number|my\s+number)\s+(?:from|off)\b
      | opt\s*me\s*out\b
      | (?:no|stop)\s+more\s+(?:texts|messages)\b
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().upper()
    return re.sub(r"[\s.!]+", " ", folded).strip()


def keyword(text: str) -> Keyword | None:
    """A keyword sent alone in the message (any case, surrounding punctuation ignored)."""
    word = _normalize(text)
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None


def is_plain_language_opt_out(text: str) -> bool:
    return bool(_OPT_OUT.search(text))


def opt_out_requested(text: str) -> bool:
    """STOP-family keyword alone, or an opt-out said in plain words."""
    return keyword(text) is Keyword.STOP or is_plain_language_opt_out(text)
