"""Card numbers and full SSNs out of text before it is stored or passed to Rasa (rule 18).

What is masked, and how:
- a card number: 13-19 digits passing the Luhn check, written as one run of digits or in
  groups separated by single spaces or single dashes (one kind per number), and not part of
  a longer run of digits -> "[card ending 1234]". A grouped number starts with a group of 4-6
  digits and has groups of 3-6 (4-4-4-4, Amex 4-6-5, 4-4-4-4-3), so that phone numbers
  (3-3-4) next to other digits are never read as one.
- an SSN written "123-45-6789" or "123 45 6789" -> "***-**-6789", whatever the digits (an
  ITIN, 9xx-xx-xxxx, or a mistyped SSN is as sensitive and has no other common meaning);
- a bare run of 9 digits, not touching letters or other digits (nor a "$", a "+", or a
  decimal or thousands separator followed by digits), that is a valid SSN per the SSA (area
  not 000, 666 or 900-999; group not 00; serial not 0000) -> "***-**-6789". A ZIP+4 typed
  without its dash is indistinguishable and is masked too; one with the dash is not.

The last four digits stay, so verification can still read them ("***-**-6789" is what
`bot.domain.verification` accepts as a masked SSN). Redaction is idempotent: it is repeated
until nothing changes, so the output never holds anything it would mask again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A chain: digit groups joined by one kind of single separator, never touching other digits.
_CHAIN = re.compile(r"(?<![0-9])[0-9]+(?:(?P<sep>[ -])[0-9]+(?:(?P=sep)[0-9]+)*)?")
_GROUP = re.compile(r"[0-9]+")
_CARD_MIN, _CARD_MAX = 13, 19
_FIRST_GROUP = range(4, 7)
_OTHER_GROUP = range(3, 7)

_SSN_FORMATTED = (
    re.compile(r"(?<![0-9])(?<![0-9]-)([0-9]{3})-([0-9]{2})-([0-9]{4})(?![0-9])(?!-[0-9])"),
    re.compile(r"(?<![0-9])(?<![0-9] )([0-9]{3}) ([0-9]{2}) ([0-9]{4})(?![0-9])(?! [0-9])"),
)
_SSN_BARE = re.compile(
    r"(?<![\w$+])(?<![0-9][.,-])([0-9]{3})([0-9]{2})([0-9]{4})(?!\w)(?![.,-][0-9])"
)


@dataclass(frozen=True)
class Redacted:
    text: str
    cards: int  # card numbers masked
    ssns: int  # SSNs masked

    @property
    def changed(self) -> bool:
        return self.cards > 0 or self.ssns > 0


def redact(text: str) -> Redacted:
    """Mask card numbers and SSNs in `text`, keeping everything else as it was."""
    cards = ssns = 0
    while True:  # ends: every mask leaves fewer digits than it replaced
        text, found_cards = _redact_cards(text)
        text, found_ssns = _redact_ssns(text)
        if not found_cards and not found_ssns:
            return Redacted(text, cards, ssns)
        cards += found_cards
        ssns += found_ssns


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _redact_cards(text: str) -> tuple[str, int]:
    parts: list[str] = []
    done = 0  # text[:done] is already in parts
    count = 0
    for chain in _CHAIN.finditer(text):
        groups = [g.span() for g in _GROUP.finditer(text, chain.start(), chain.end())]
        first = 0
        while first < len(groups):
            last = _card_end(text, groups, first)
            if last is None:
                first += 1
                continue
            start, end = groups[first][0], groups[last][1]
            digits = "".join(text[s:e] for s, e in groups[first : last + 1])
            parts += [text[done:start], f"[card ending {digits[-4:]}]"]
            done = end
            count += 1
            first = last + 1
    parts.append(text[done:])
    return "".join(parts), count


def _card_end(text: str, groups: list[tuple[int, int]], first: int) -> int | None:
    """The last group of the longest card number that starts at group `first`, if any."""
    for last in range(len(groups) - 1, first - 1, -1):
        digits = "".join(text[s:e] for s, e in groups[first : last + 1])
        if not _CARD_MIN <= len(digits) <= _CARD_MAX:
            continue
        if last > first and not _card_grouping(groups[first : last + 1]):
            continue
        if luhn_valid(digits):
            return last
    return None


def _card_grouping(groups: list[tuple[int, int]]) -> bool:
    sizes = [end - start for start, end in groups]
    return sizes[0] in _FIRST_GROUP and all(size in _OTHER_GROUP for size in sizes[1:])


def _redact_ssns(text: str) -> tuple[str, int]:
    count = 0

    def mask(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"***-**-{match.group(3)}"

    def mask_if_valid(match: re.Match[str]) -> str:
        area, group, serial = match.groups()
        return mask(match) if _ssa_valid(area, group, serial) else match.group(0)

    for pattern in _SSN_FORMATTED:
        text = pattern.sub(mask, text)
    text = _SSN_BARE.sub(mask_if_valid, text)
    return text, count


def _ssa_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area < "900" and group != "00" and serial != "0000"
