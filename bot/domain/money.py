"""Money in integer cents: converting, formatting, and reading amounts out of what people type.

Money is an `int` of cents everywhere in the domain; `Decimal` appears only while parsing, and
`float` never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")

_MONEY_TEXT = re.compile(
    r"""^\s*(?P<sign1>[-+])?\s*\$?\s*(?P<sign2>[-+])?\s*
    (?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d+))?\s*$""",
    re.VERBOSE,
)


def to_cents(value: str | Decimal | int) -> int:
    """Dollars as typed or stored, to integer cents, rounding half up at the cent.

    "1369.37", "$1,369.37", "-5", Decimal("0.005") (-> 1) and the int 5 (whole dollars -> 500)
    are accepted. Anything else (floats, bools, "", "12abc", "1,23", NaN) raises ValueError
    (TypeError for a float or another non-money type).
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise TypeError(f"not a money value: {value!r} ({type(value).__name__})")
    if isinstance(value, int):
        return value * 100
    if isinstance(value, str):
        m = _MONEY_TEXT.match(value)
        if m is None or (m.group("int") is None and m.group("frac") is None):
            raise ValueError(f"not an amount of money: {value!r}")
        if m.group("sign1") and m.group("sign2"):
            raise ValueError(f"not an amount of money: {value!r}")
        negative = "-" in (m.group("sign1") or "", m.group("sign2") or "")
        digits = (m.group("int") or "0").replace(",", "")
        amount = Decimal(f"{digits}.{m.group('frac') or '0'}")
        value = -amount if negative else amount
    if not value.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    try:
        return int(value.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
    except InvalidOperation as exc:  # beyond the context's precision
        raise ValueError(f"not an amount of money: {value!r}") from exc


def format_money(cents: int) -> str:
    """136937 -> "$1,369.37", 5000 -> "$50.00", -500 -> "-$5.00"."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, not {type(cents).__name__}")
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class AmountMention:
    """One amount of money found in a message: its value, where it is (`text[start:end]`),
    and whether a money word made it certain ("$", "dollars", "bucks", "k", "a month")."""

    cents: int
    start: int
    end: int
    cued: bool


_TOKEN = re.compile(r"\d[\d,./:-]*|[a-z]+(?:'[a-z]+)?|\S")

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000, "million": 1_000_000}

_DOLLAR_WORDS = frozenset({"dollar", "dollars", "bucks", "buck", "usd", "dlrs"})
_CENT_WORDS = frozenset({"cent", "cents"})
_PERIOD_WORDS = frozenset(
    {"month", "week", "wk", "mo", "paycheck", "check", "payday", "fortnight", "year"}
)
_PERIOD_ADVERBS = frozenset({"monthly", "weekly", "biweekly", "fortnightly"})
_NOT_MONEY_AFTER = frozenset(
    {
        "day", "days", "week", "weeks", "wk", "wks", "month", "months", "mo", "mos", "mth",
        "mths", "year", "years", "yr", "yrs", "hour", "hours", "hr", "hrs", "minute",
        "minutes", "min", "mins", "payment", "payments", "installment", "installments",
        "time", "times", "am", "pm", "oclock", "o'clock", "percent", "pct", "kid", "kids",
        "child", "children", "people", "st", "nd", "rd", "th",
    }
)  # fmt: skip
_ID_WORDS = frozenset(
    {
        "zip", "zipcode", "postal", "ssn", "social", "security", "last", "acct", "account",
        "ref", "reference", "number", "phone", "pin", "code", "id", "dob", "born", "birth",
        "apt", "unit", "suite", "ext", "extension", "ending", "ends", "case", "ticket",
        "order", "invoice", "option", "opt", "choice", "card",
    }
)  # fmt: skip
_DAY_WORDS = frozenset({"the", "on", "by", "until", "til", "till", "before", "after"})
_YEAR_WORDS = frozenset({"in", "since", "of", "year", "from", "born"})
_MONTHS = frozenset(
    {
        "jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun",
        "june", "jul", "july", "aug", "august", "sep", "sept", "september", "oct", "october",
        "nov", "november", "dec", "december",
    }
)  # fmt: skip
_WEEKDAYS = frozenset(
    {
        "monday", "mon", "tuesday", "tue", "tues", "wednesday", "wed", "thursday", "thu",
        "thur", "thurs", "friday", "fri", "saturday", "sat", "sunday", "sun",
    }
)  # fmt: skip
_PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)")
_NUMERIC = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class _Tok:
    text: str
    start: int
    end: int

    @property
    def is_num(self) -> bool:
        return self.text[0].isdigit()

    @property
    def is_word(self) -> bool:
        return self.text[0].isalpha()


def _tokens(text: str) -> list[_Tok]:
    # Lower-case one character at a time so offsets stay those of the original text.
    lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    lowered = _PHONE.sub(lambda m: " " * len(m.group()), lowered)
    out: list[_Tok] = []
    for m in _TOKEN.finditer(lowered):
        word, start = m.group(), m.start()
        if word[0].isdigit():
            stripped = word.rstrip(".,/:-")
            out.append(_Tok(stripped, start, start + len(stripped)))
            rest = word[len(stripped) :]
            for k, ch in enumerate(rest):  # trailing punctuation as separate tokens
                out.append(_Tok(ch, start + len(stripped) + k, start + len(stripped) + k + 1))
        else:
            out.append(_Tok(word, start, m.end()))
    return out


def _is_number_word(tok: _Tok) -> bool:
    return tok.text in _UNITS or tok.text in _TEENS or tok.text in _TENS


def _read_words(toks: list[_Tok], i: int) -> tuple[int, int] | None:
    """A number spelled in words starting at toks[i]: (value, index after it)."""
    total = 0  # completed thousands/millions
    current = 0  # the group being built (below a thousand, or hundreds)
    last = ""  # kind of the last word taken: unit, teen, tens, hundred, scale
    j = i
    took_any = False
    while j < len(toks):
        w = toks[j].text
        if w in ("a", "an") and not took_any:
            if j + 1 < len(toks) and toks[j + 1].text in _SCALES:
                current, last, took_any = 1, "unit", True
                j += 1
                continue
            return None
        if w == "-" and took_any and j + 1 < len(toks) and _is_number_word(toks[j + 1]):
            j += 1
            continue
        if w == "and" and last in ("hundred", "scale") and j + 1 < len(toks):
            if _is_number_word(toks[j + 1]):
                j += 1
                continue
            break
        if w in _UNITS:
            if last in ("", "hundred", "scale") or (last == "tens" and current % 10 == 0):
                current += _UNITS[w]
                last = "unit"
            else:
                break
        elif w in _TEENS or w in _TENS:
            value = _TEENS.get(w) or _TENS[w]
            kind = "teen" if w in _TEENS else "tens"
            if last in ("", "hundred", "scale") and current % 100 == 0:
                current += value
            elif last == "unit" and 0 < current < 10:  # "one fifty" = 150, "five twenty" = 520
                current = current * 100 + value
            else:
                break
            last = kind
        elif w in _SCALES and took_any:
            if w == "hundred":
                if current % 100 != 0 and current < 100:
                    current *= 100
                elif current == 0:
                    current = 100
                else:
                    break
                last = "hundred"
            else:
                total += (current or 1) * _SCALES[w]
                current = 0
                last = "scale"
        else:
            break
        took_any = True
        j += 1
    if not took_any:
        return None
    return total + current, j


def _word(toks: list[_Tok], i: int) -> str:
    return toks[i].text if 0 <= i < len(toks) else ""


def _per_period_follows(toks: list[_Tok], j: int) -> bool:
    w1, w2 = _word(toks, j), _word(toks, j + 1)
    if w1 in _PERIOD_ADVERBS or w1 in ("per", "each", "every"):
        return True
    if w1 in ("a", "an") and w2 in _PERIOD_WORDS:
        return True
    return w1 == "/" and w2 in _PERIOD_WORDS | {"mo", "mon", "wk", "mth"}


def _scan(text: str) -> list[AmountMention]:
    toks = _tokens(text)
    found: list[AmountMention] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.is_num:
            j, value, rejected, cued, is_cents = _read_digits(toks, i)
            plain_integer = _NUMERIC.match(tok.text) is not None and "." not in tok.text
        elif tok.is_word and (_is_number_word(tok) or tok.text in ("a", "an")):
            read = _read_words(toks, i)
            if read is None:
                i += 1
                continue
            number, j = read
            value, rejected, cued, is_cents = Decimal(number), False, False, False
            plain_integer = True
            if toks[j - 1].text == "grand":
                cued = True
        else:
            i += 1
            continue
        # What follows: money words, cents, units that make it not money.
        after = _word(toks, j)
        if after == "$":
            cued, j = True, j + 1
        elif after in _DOLLAR_WORDS:
            cued, j = True, j + 1
            extra = _and_cents(toks, j)
            if extra is not None:
                cents_more, j = extra
                value += Decimal(cents_more) / 100
        elif after in _CENT_WORDS or after == "¢":
            cued, is_cents, j = True, True, j + 1
        elif after in ("%", "percent", "pct"):
            rejected = True
        before = _word(toks, i - 1)
        if before == "$" or before == "usd":
            cued = True
        if _per_period_follows(toks, j):
            cued = True
        if not rejected and not cued:
            lone_one = tok.text == "one" and j == i + 1  # "the second one", "that one"
            rejected = lone_one or _looks_like_something_else(toks, i, j, tok, value, plain_integer)
        if not rejected:
            cents = int(value) if is_cents else _dollars_to_cents(value)
            if cents is not None and (not is_cents or value == value.to_integral_value()):
                found.append(AmountMention(cents, tok.start, toks[j - 1].end, cued))
        i = max(j, i + 1)
    return found


def _dollars_to_cents(value: Decimal) -> int | None:
    try:
        return int(value.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
    except InvalidOperation:
        return None


def _and_cents(toks: list[_Tok], j: int) -> tuple[int, int] | None:
    """ "... dollars and 50 cents": the cents and the index after them."""
    if _word(toks, j) != "and" or j + 1 >= len(toks):
        return None
    nxt = toks[j + 1]
    if nxt.is_num and nxt.text.isdigit():
        number, k = int(nxt.text), j + 2
    elif _is_number_word(nxt):
        read = _read_words(toks, j + 1)
        if read is None:
            return None
        number, k = read
    else:
        return None
    if _word(toks, k) in _CENT_WORDS and 0 <= number < 100:
        return number, k + 1
    return None


def _read_digits(toks: list[_Tok], i: int) -> tuple[int, Decimal, bool, bool, bool]:
    """A digit token at toks[i]: (index after, value, rejected, cued, is_cents)."""
    tok = toks[i]
    j = i + 1
    raw = tok.text
    if _NUMERIC.match(raw) is None:
        return j, Decimal(0), True, False, False  # dates, times, ranges, phone numbers
    value = Decimal(raw.replace(",", ""))
    cued = False
    # Something glued to the number: "50k", "15th", "5pm", "6789abc", "50bucks".
    if j < len(toks) and toks[j].start == tok.end and toks[j].is_word:
        suffix = toks[j].text
        if suffix == "k":
            return j + 1, value * 1000, False, True, False
        if suffix in _DOLLAR_WORDS:
            return j + 1, value, False, True, False
        if suffix in _CENT_WORDS or suffix == "c":
            return j + 1, value, False, True, True
        return j + 1, value, True, False, False
    # Glued before it: "ACC-100234", "A123", "#2", "x6789".
    if i > 0 and toks[i - 1].end == tok.start:
        glued = toks[i - 1].text[-1]
        if glued.isalnum() or glued in "-_#@/\\.":
            return j, value, True, False, False
    nxt = _word(toks, j)
    if nxt == "k":
        return j + 1, value * 1000, False, True, False
    if nxt in _SCALES:
        return j + 1, value * _SCALES[nxt], False, nxt == "grand", False
    return j, value, False, cued, False


def _looks_like_something_else(
    toks: list[_Tok], i: int, j: int, tok: _Tok, value: Decimal, plain_integer: bool
) -> bool:
    """A number with no money word around it that is clearly a date, a count, a time, an
    identifier or a year rather than an amount."""
    after = _word(toks, j)
    before = _word(toks, i - 1)
    window = {_word(toks, k) for k in range(max(i - 3, 0), i)}
    small_whole = plain_integer and value == value.to_integral_value() and 1 <= value <= 31
    if after in _NOT_MONEY_AFTER or after in _MONTHS:
        return True
    if before in _MONTHS or (small_whole and (before in _WEEKDAYS or before in _DAY_WORDS)):
        return True
    if before in ("at", "@", "#", "x"):
        return True
    if window & _ID_WORDS:
        return True
    if tok.is_num and plain_integer:
        digits = tok.text.replace(",", "")
        if "," not in tok.text and len(digits) >= 5:
            return True  # ZIP codes, account and card numbers
        if len(digits) > 1 and digits.startswith("0"):
            return True  # codes: "0612"
        if len(digits) == 4 and 1900 <= value <= 2099 and before in _YEAR_WORDS:
            return True
    return False


def find_amounts(text: str) -> list[AmountMention]:
    """Every amount of money in `text`, in order (see `parse_amount` for the rules)."""
    return _scan(text)


def parse_amount(text: str) -> int | None:
    """The first amount of money a person typed, in cents; None when there is none.

    Rules:
    - Digits with an optional "$" and thousands commas and cents: "$50", "1,200", "1200.50",
      "$1.2k" (k and "grand" mean thousand); words: "fifty", "two hundred and fifty",
      "a hundred", "twenty-five", and the spoken "one fifty" (= 150); "2 hundred".
    - "cents" makes the number cents ("50 cents" -> 50); "5 dollars and 50 cents" -> 550.
    - A number is *cued* when a money word is next to it: "$", "dollars", "bucks", "usd",
      "k", "grand", "cents", or a period after it ("a month", "per week", "every friday",
      "/mo", "monthly"). The first cued amount wins; without one, the first plain number.
    - A plain number is not money when it is clearly something else: a date or time
      ("12/15", "2026-12-15", "the 15th", "the 15", "Dec 15", "15 dec", "friday 13",
      "at 5", "5pm"), a count of something ("3 days", "6 months", "2 payments", "50%"),
      an identifier ("ACC-100234", "#2", five or more digits without commas such as a ZIP,
      a number with a leading zero, anything within three words after "zip", "last",
      "ssn", "account", "number", "phone", "option"...), a phone number, or a year
      after "in"/"since"/"born" ("in 1984"). A lone "one" is not an amount ("that one").
    - A bare small number ("50") is an amount: call this only where an amount was asked for.
    """
    mentions = _scan(text)
    if not mentions:
        return None
    cued = [m for m in mentions if m.cued]
    return (cued or mentions)[0].cents
