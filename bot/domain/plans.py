"""Payment plans: the creditor's policy, the options a debtor is offered, their own plan,
settlements, and which offered option a reply means. Pure arithmetic on integer cents.

Decisions the policy leaves open:
- Installments are equal; the last absorbs the remainder, so the sum is the total to the cent
  and, for the plans we offer, no installment is below the regular one.
- Offered installment plans start a week from today (or sooner if the policy says so); paying
  in full starts today; a settlement is due within `settlement_pay_within_days`.
- A plan's length in months is one period per payment: 6 monthly payments are 6 months, 13
  biweekly payments are 182 days, i.e. 6 months (rounded up at 365.25/12 days a month).
- The settlement floor is the balance times the fraction of the highest tier reached, rounded
  up to the cent, and offered as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from itertools import pairwise

from dateutil.relativedelta import relativedelta

from bot.domain.dates import parse_frequency
from bot.domain.money import find_amounts, to_cents

FREQUENCIES = ("weekly", "biweekly", "monthly")
KINDS = ("full", "installments", "hardship", "settlement")
#: Offered installment plans start this many days from today (at most the policy's limit).
DEFAULT_DAYS_TO_FIRST_INSTALLMENT = 7
_PERIOD_DAYS = {"weekly": 7, "biweekly": 14}

VIOLATION_CODES = frozenset(
    {
        "below_minimum",
        "too_long",
        "first_payment_too_late",
        "first_payment_in_past",
        "frequency_not_allowed",
        "below_settlement_floor",
        "settlement_not_available",
        "amount_exceeds_balance",  # promises (bot.services.plans)
        "rest_date_not_allowed",  # "and the rest on ...": not after the first, or too late
        "no_rest",  # "and the rest": the first payment leaves less than a payment's minimum
    }
)

Limit = int | date | tuple[str, ...] | None


class PolicyViolation(Exception):
    """What the debtor asked for is outside the policy. `code` says which rule, `limit` is the
    value a reply can show: cents for amounts, a number of months, a date, the frequencies.
    `fits`, for a plan too long: the smallest payment (cents) at the asked frequency that ends
    within the limit, so the reply can name what would work. (For an amount below the
    minimum, `limit` is that same smallest payment: the minimum, or more when the minimum
    would not end within the longest plan.)"""

    def __init__(self, code: str, *, limit: Limit = None, fits: int | None = None) -> None:
        if code not in VIOLATION_CODES:
            raise ValueError(f"unknown policy violation code {code!r}")
        super().__init__(f"{code} (limit: {limit!r})")
        self.code = code
        self.limit = limit
        self.fits = fits


def _default_tiers() -> tuple[tuple[int, Decimal], ...]:
    return ((180, Decimal("0.80")), (365, Decimal("0.70")), (730, Decimal("0.60")))


@dataclass(frozen=True)
class PlanPolicy:
    """The creditor's rules for plans, settlements and promises (bot/policy.yml)."""

    min_installment_cents: int = 2500
    max_months: int = 12
    hardship_max_months: int = 24
    hardship_min_installment_cents: int = 1000
    allowed_frequencies: tuple[str, ...] = FREQUENCIES
    max_days_to_first_payment: int = 30
    #: (days delinquent at least, fraction of the balance it may settle for at least)
    settlement_tiers: tuple[tuple[int, Decimal], ...] = _default_tiers()
    settlement_pay_within_days: int = 30
    promise_max_days: int = 30
    promise_min_cents: int = 100
    reminder_days_before: int = 3
    #: Days after a due date before a payment counts as missed and a follow-up is sent.
    missed_grace_days: int = 2
    #: How far past its original date an installment or promise may be moved.
    reschedule_max_days: int = 14

    def __post_init__(self) -> None:
        at_least_one = (
            "min_installment_cents",
            "max_months",
            "hardship_max_months",
            "hardship_min_installment_cents",
            "max_days_to_first_payment",
        )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("allowed_frequencies", "settlement_tiers"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{f.name} must be a whole number, not {value!r}")
            if value < (1 if f.name in at_least_one else 0):
                raise ValueError(f"{f.name} is too small: {value}")
        freqs = self.allowed_frequencies
        if not freqs or len(set(freqs)) != len(freqs) or not set(freqs) <= set(FREQUENCIES):
            raise ValueError(f"allowed_frequencies must be some of {FREQUENCIES}, not {freqs!r}")
        days = [n for n, _ in self.settlement_tiers]
        fractions = [f for _, f in self.settlement_tiers]
        if days != sorted(set(days)) or any(n < 0 for n in days):
            raise ValueError("settlement_tiers need distinct day counts, ascending")
        if any(not isinstance(f, Decimal) or not Decimal(0) < f <= 1 for f in fractions):
            raise ValueError("settlement fractions must be Decimals in (0, 1]")
        if fractions != sorted(fractions, reverse=True):
            raise ValueError("a longer delinquency cannot need a larger settlement fraction")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> PlanPolicy:
        """From a mapping such as bot/policy.yml. Money settings take whole cents as an int
        (2500) or dollars as a decimal string ("25.00"); fractions are strings ("0.80", a
        float is refused); tiers are [[days, fraction], ...] or {days: fraction}. Settings not
        given keep their defaults; unknown ones raise ValueError naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown policy setting(s): {', '.join(map(str, unknown))}")
        values: dict[str, object] = {}
        for key, raw in data.items():
            try:
                values[key] = _policy_value(key, raw)
            except (TypeError, ValueError, InvalidOperation) as exc:
                raise ValueError(f"policy setting {key}: {exc}") from exc
        return cls(**values)  # type: ignore[arg-type]


def _policy_value(key: str, raw: object) -> object:
    if isinstance(raw, bool | float):
        raise ValueError(f"{raw!r} is not allowed here (write numbers as ints or strings)")
    if key.endswith("_cents"):
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str | Decimal):
            return to_cents(raw)
        raise ValueError(f"expected cents or a decimal string, not {raw!r}")
    if key == "allowed_frequencies":
        if isinstance(raw, str) or not isinstance(raw, Sequence):
            raise ValueError(f"expected a list of frequencies, not {raw!r}")
        return tuple(str(f).strip().lower() for f in raw)
    if key == "settlement_tiers":
        pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
        if isinstance(pairs, str) or not isinstance(pairs, Sequence):
            raise ValueError(f"expected [[days, fraction], ...], not {raw!r}")
        tiers = []
        for pair in pairs:
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"expected [days, fraction], not {pair!r}")
            days, fraction = pair
            if isinstance(fraction, bool | float) or not isinstance(fraction, str | Decimal | int):
                raise ValueError(f'write the fraction as a string, like "0.80", not {fraction!r}')
            tiers.append((_whole(days), Decimal(str(fraction).strip())))
        return tuple(sorted(tiers))
    return _whole(raw)


def _whole(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise ValueError(f"expected a whole number, not {raw!r}")


# ----------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Installment:
    due_on: date
    amount_cents: int


def plan_months(frequency: str, count: int) -> int:
    """How many months `count` payments cover: one period per payment, rounded up."""
    if frequency == "monthly":
        return count
    if frequency == "once":
        return 1
    days = count * _PERIOD_DAYS[frequency]
    return -(-days * 48 // 1461)  # ceil(days / (365.25 / 12))


@dataclass(frozen=True)
class PlanOption:
    """One concrete plan: what is due and when."""

    key: str  # stable: "full", "full_later", "monthly_6", "hardship_monthly_18", "custom"...
    kind: str  # full | installments | hardship | settlement
    frequency: str  # once | weekly | biweekly | monthly
    installments: tuple[Installment, ...]
    balance_cents: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown plan kind {self.kind!r}")
        if self.frequency not in (*FREQUENCIES, "once"):
            raise ValueError(f"unknown frequency {self.frequency!r}")
        if not self.installments or (self.frequency == "once" and self.count != 1):
            raise ValueError("a plan needs installments, and exactly one when paid at once")
        dues = [i.due_on for i in self.installments]
        if any(a >= b for a, b in pairwise(dues)):
            raise ValueError("installments must be due on ascending dates")
        if any(i.amount_cents <= 0 for i in self.installments):
            raise ValueError("every installment must be a positive amount")

    @property
    def total_cents(self) -> int:
        return sum(i.amount_cents for i in self.installments)

    @property
    def count(self) -> int:
        return len(self.installments)

    @property
    def per_payment_cents(self) -> int:
        """The regular amount (the first installment; only the last may differ)."""
        return self.installments[0].amount_cents

    @property
    def first_due(self) -> date:
        return self.installments[0].due_on

    @property
    def last_due(self) -> date:
        return self.installments[-1].due_on

    @property
    def discount_cents(self) -> int:
        return self.balance_cents - self.total_cents

    @property
    def months(self) -> int:
        return plan_months(self.frequency, self.count)


def _due_dates(frequency: str, count: int, first_due: date) -> list[date]:
    if frequency == "monthly":  # from the anchor each time: Jan 31, Feb 28, Mar 31
        return [first_due + relativedelta(months=k) for k in range(count)]
    step = timedelta(days=_PERIOD_DAYS.get(frequency, 0))
    return [first_due + step * k for k in range(count)]


def _schedule(amounts: Sequence[int], frequency: str, first_due: date) -> tuple[Installment, ...]:
    dates = _due_dates(frequency, len(amounts), first_due)
    return tuple(Installment(d, a) for d, a in zip(dates, amounts, strict=True))


def build_schedule(
    total_cents: int, count: int, frequency: str, first_due: date
) -> tuple[Installment, ...]:
    """`count` equal installments (the last absorbs the remainder) summing to the total."""
    if frequency not in (*FREQUENCIES, "once"):
        raise ValueError(f"unknown frequency {frequency!r}")
    if count < 1 or (frequency == "once" and count != 1):
        raise ValueError(f"cannot pay {frequency} in {count} installment(s)")
    if total_cents < count:
        raise ValueError(f"{total_cents} cents cannot be split into {count} installments")
    regular = total_cents // count
    return _schedule(
        [regular] * (count - 1) + [total_cents - regular * (count - 1)], frequency, first_due
    )


def _once(key: str, kind: str, amount_cents: int, due: date, balance_cents: int) -> PlanOption:
    return PlanOption(key, kind, "once", (Installment(due, amount_cents),), balance_cents)


def _split(
    key: str, kind: str, frequency: str, count: int, balance: int, first: date
) -> PlanOption:
    return PlanOption(
        key, kind, frequency, build_schedule(balance, count, frequency, first), balance
    )


def _max_count(frequency: str, months: int, balance_cents: int, min_cents: int) -> int:
    """The most installments within `months` that keep each at least `min_cents`."""
    if frequency == "monthly":
        by_length = months
    else:
        by_length = months * 1461 // (48 * _PERIOD_DAYS[frequency])
    return min(by_length, balance_cents // min_cents)


def _first_installment_due(today: date, policy: PlanPolicy) -> date:
    days = min(DEFAULT_DAYS_TO_FIRST_INSTALLMENT, policy.max_days_to_first_payment)
    return today + timedelta(days=days)


def _settlement_option(
    balance_cents: int, today: date, delinquent_since: date, policy: PlanPolicy
) -> PlanOption | None:
    floor = settlement_floor_cents(balance_cents, delinquent_since, today, policy)
    if floor is None or floor >= balance_cents:
        return None
    due = today + timedelta(days=policy.settlement_pay_within_days)
    return _once("settlement", "settlement", floor, due, balance_cents)


def _standard_plans(balance_cents: int, start: date, policy: PlanPolicy) -> list[PlanOption]:
    """Monthly over a shorter and the longest allowed term, then every two weeks over that
    longest term (weekly only when neither monthly nor biweekly is possible)."""
    allowed, least = policy.allowed_frequencies, policy.min_installment_cents
    terms: list[int] = []
    if "monthly" in allowed:
        longest = _max_count("monthly", policy.max_months, balance_cents, least)
        terms = sorted({max(2, longest // 2), longest}) if longest >= 2 else []
    plans = [
        _split(f"monthly_{n}", "installments", "monthly", n, balance_cents, start) for n in terms
    ]
    span = terms[-1] if terms else policy.max_months
    for freq in ("biweekly", "weekly"):
        n = _max_count(freq, span, balance_cents, least)
        if freq in allowed and n >= 2 and (freq == "biweekly" or not plans):
            plans.append(_split(f"{freq}_{n}", "installments", freq, n, balance_cents, start))
    return plans


def _hardship_plan(balance_cents: int, start: date, policy: PlanPolicy) -> PlanOption | None:
    """The lowest payments the hardship limits allow, monthly when monthly is allowed."""
    for freq in (f for f in ("monthly", "biweekly", "weekly") if f in policy.allowed_frequencies):
        n = _max_count(
            freq, policy.hardship_max_months, balance_cents, policy.hardship_min_installment_cents
        )
        if n >= 2:
            return _split(f"hardship_{freq}_{n}", "hardship", freq, n, balance_cents, start)
    return None


def offer_options(
    balance_cents: int, today: date, delinquent_since: date, hardship: bool, policy: PlanPolicy
) -> list[PlanOption]:
    """Two to four options to choose from by number.

    Without hardship: pay in full today; monthly over a shorter and the longest term the
    policy allows; every two weeks over that longest term, or, when a settlement tier
    applies, the settlement instead. With hardship: the reduced hardship plan first, then
    the longest standard monthly plan, the settlement where a tier applies, and in full.
    A balance too small to split: in full today, or in full on the latest allowed date.
    """
    if balance_cents <= 0:
        raise ValueError("there is nothing to pay")
    full = _once("full", "full", balance_cents, today, balance_cents)
    settlement = _settlement_option(balance_cents, today, delinquent_since, policy)
    start = _first_installment_due(today, policy)
    plans = _standard_plans(balance_cents, start, policy)
    if hardship:
        reduced = _hardship_plan(balance_cents, start, policy)
        monthly = [o for o in plans if o.frequency == "monthly"]
        standard = monthly[-1] if monthly else next(iter(plans), None)
        if standard and reduced and standard.installments == reduced.installments:
            standard = None  # the same schedule twice
        if reduced is not None or standard is not None:
            return [o for o in (reduced, standard, settlement, full) if o is not None]
    elif plans:
        rest = [*plans[:2], settlement] if settlement is not None else plans[:3]
        return [full, *rest]
    later = today + timedelta(days=policy.max_days_to_first_payment)
    full_later = _once("full_later", "full", balance_cents, later, balance_cents)
    return [o for o in (full, full_later, settlement) if o is not None]


def custom_option(
    balance_cents: int,
    today: date,
    policy: PlanPolicy,
    *,
    amount_cents: int | None = None,
    frequency: str = "monthly",
    first_due: date | None = None,
    hardship: bool = False,
) -> PlanOption:
    """The debtor's own plan: their amount (each payment; the last pays what is left, which
    in the longest plan can be a few cents more, as in the offered plans) and/or their first
    date, within the policy (the hardship limits when `hardship`).

    Without an amount: the lowest payment the policy allows. An amount of the whole balance
    or more, `frequency="once"`, or a balance too small to split: pay in full on that date.
    Without a date: a week from today, like the offered plans. The key is "custom"; the kind
    is "hardship" only when the plan needs the hardship limits.
    """
    if balance_cents <= 0:
        raise ValueError("there is nothing to pay")
    if frequency != "once" and frequency not in policy.allowed_frequencies:
        raise PolicyViolation("frequency_not_allowed", limit=policy.allowed_frequencies)
    start = first_due if first_due is not None else _first_installment_due(today, policy)
    if start < today:
        raise PolicyViolation("first_payment_in_past", limit=today)
    latest = today + timedelta(days=policy.max_days_to_first_payment)
    if start > latest:
        raise PolicyViolation("first_payment_too_late", limit=latest)
    min_cents = policy.hardship_min_installment_cents if hardship else policy.min_installment_cents
    max_months = policy.hardship_max_months if hardship else policy.max_months
    # The least each payment can be at this frequency: the policy's minimum, and enough to end
    # within the longest plan (never more than the balance). Both refusals name it. As in the
    # offered plans, the last payment takes the cents left over: any offered amount ("12
    # payments of $114.11") is one the debtor can type back and get that same plan.
    most = max(_max_count(frequency, max_months, balance_cents, 1), 1) if frequency != "once" else 1
    smallest = min(balance_cents, max(min_cents, balance_cents // most))
    if frequency == "once" or (amount_cents is not None and amount_cents >= balance_cents):
        return _once("custom", "full", balance_cents, start, balance_cents)
    if amount_cents is None:
        count = _max_count(frequency, max_months, balance_cents, min_cents)
        if count < 2:
            return _once("custom", "full", balance_cents, start, balance_cents)
        amounts = [balance_cents // count] * (count - 1)
    else:
        if amount_cents < min_cents:
            raise PolicyViolation("below_minimum", limit=smallest)
        count, left = divmod(balance_cents, amount_cents)
        if left >= count:  # else the last pays those cents on top, as in the offered plans
            count += 1
        if amount_cents >= smallest:
            count = min(count, most)  # the longest plan: its last pays under `most` cents more
        if plan_months(frequency, count) > max_months:
            raise PolicyViolation("too_long", limit=max_months, fits=smallest)
        amounts = [amount_cents] * (count - 1)
    amounts.append(balance_cents - sum(amounts))
    standard = (
        min(amounts[: max(count - 1, 1)]) >= policy.min_installment_cents
        and plan_months(frequency, count) <= policy.max_months
    )
    kind = "hardship" if hardship and not standard else "installments"
    return PlanOption(
        "custom", kind, frequency, _schedule(amounts, frequency, start), balance_cents
    )


# ----------------------------------------------------------------------------- moving a date


def reschedule_window(
    due_on: date, today: date, policy: PlanPolicy, *, following_due: date | None = None
) -> tuple[date, date]:
    """The dates a payment due on `due_on` may move to, both included: from tomorrow (a date
    must be after today) to `policy.reschedule_max_days` after its own date, and, for a
    plan's installment, before the plan's following installment. Moving it earlier (but
    after today) is allowed. The window is empty (first > last) when no date is left."""
    latest = due_on + timedelta(days=policy.reschedule_max_days)
    if following_due is not None:
        latest = min(latest, following_due - timedelta(days=1))
    return today + timedelta(days=1), latest


# ----------------------------------------------------------------------------- settlement


def settlement_floor_cents(
    balance_cents: int, delinquent_since: date, today: date, policy: PlanPolicy
) -> int | None:
    """The least the balance may settle for, rounded up to the cent; None when no tier
    applies. The tier is the highest "delinquent at least N days" reached."""
    days = (today - delinquent_since).days
    reached = [fraction for n, fraction in policy.settlement_tiers if days >= n]
    if not reached:
        return None
    return int((Decimal(balance_cents) * reached[-1]).to_integral_value(rounding=ROUND_CEILING))


def check_settlement(
    balance_cents: int, offer_cents: int, delinquent_since: date, today: date, policy: PlanPolicy
) -> PlanOption:
    """The debtor's settlement offer as an option, due within `settlement_pay_within_days`.
    An offer of the whole balance or more is simply paying in full (kind "full")."""
    floor = settlement_floor_cents(balance_cents, delinquent_since, today, policy)
    if floor is None:
        first = policy.settlement_tiers[0][0] if policy.settlement_tiers else None
        when = delinquent_since + timedelta(days=first) if first is not None else None
        raise PolicyViolation("settlement_not_available", limit=when)
    due = today + timedelta(days=policy.settlement_pay_within_days)
    if offer_cents >= balance_cents:
        return _once("full", "full", balance_cents, due, balance_cents)
    if offer_cents < floor:
        raise PolicyViolation("below_settlement_floor", limit=floor)
    return _once("settlement", "settlement", offer_cents, due, balance_cents)


# ----------------------------------------------------------------------------- choosing

_SMALL = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "twenty one": 21, "twenty two": 22, "twenty three": 23, "twenty four": 24,
    "twenty five": 25, "twenty six": 26, "thirty": 30, "thirty six": 36,
}  # fmt: skip
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "last": -1,
}  # fmt: skip
_NUM = "|".join(sorted(_SMALL, key=len, reverse=True))
_SELECT = re.compile(
    rf"(?:\b(?:option|opt|number|num|choice|plan|pick)\s*#?\s*|#\s*|\bno\.\s*)(\d{{1,2}}|{_NUM})\b"
)
_ORDINAL = re.compile(rf"(?<!every )\b({'|'.join(_ORDINALS)})\b(?!\s+(?:of|payment|installment))")
_TERM = re.compile(
    rf"\b(\d{{1,2}}|{_NUM})[\s-]*(month|mo|mth|year|yr)s?\b(?!\s+from)|\b(?:a|one)\s+(year)\b"
)
_COUNT = re.compile(rf"\b(\d{{1,2}}|{_NUM})\s*(?:payments|installments|pmts)\b")
_NEGATION = re.compile(r"\b(?:not|don'?t|none|neither|nor|nope|can'?t|won'?t)\b")
_FULL = re.compile(
    r"\b(?:in\s+full|full|pay\s+(?:it\s+|the\s+)?(?:all|everything|whole)|all\s+of\s+it|"
    r"the\s+whole\s+(?:thing|balance|amount)|everything|pay\s+(?:it\s+)?off)\b"
)
_SETTLE = re.compile(r"\b(?:settle|settlement|settling|discount)")
_HARDSHIP = re.compile(r"\bhardship\b")
_LOWEST = re.compile(r"\b(?:lower|lowest|smaller|smallest|cheaper|cheapest|least|less)\b")
_LONGEST = re.compile(r"\blongest\b")
_SHORTEST = re.compile(r"\b(?:shortest|quickest|fastest)\b")
_NOW = re.compile(r"\b(?:today|now|right away|immediately)\b")
_LATER = re.compile(r"\blater\b")


def _number(raw: str) -> int:
    return int(raw) if raw.isdigit() else (_SMALL.get(raw) or 1)


def _only(options: list[PlanOption], pick: str) -> list[PlanOption]:
    """The unique extreme option by per payment or length, or [] when tied."""
    plans = [o for o in options if o.frequency != "once"]
    if not plans:
        return []
    measure = {
        "lowest": lambda o: o.per_payment_cents,
        "longest": lambda o: -o.months,
        "shortest": lambda o: o.months,
    }[pick]
    best = min(map(measure, plans))
    winners = [o for o in plans if measure(o) == best]
    return winners if len(winners) == 1 else []


def choose_option(text: str, options: Sequence[PlanOption]) -> PlanOption | None:
    """Which offered option the reply names, or None when it names none or more than one.

    Understood: a number ("2", "#2", "option 2", "number two", "the second one", "2nd",
    "the last one"); a length ("the six month one", "12 months", "a year"; a length names
    the monthly plan shown with it when another plan has the same length) or a number of
    payments; an amount ("$50 a month", within a dollar of the regular payment); a
    frequency ("every other friday", "biweekly", "weekly"); a kind ("pay it all", "in full",
    "settle", "the hardship one"); "the lower one" (lowest regular payment), "the longest",
    "the shortest". Everything said must fit the option; a negation ("not the first") is
    never guessed at.
    """
    t = " ".join(text.lower().replace("\u2019", "'").split())
    opts = list(options)
    if not opts or not t or _NEGATION.search(t):
        return None
    picks: set[int] = set()
    for pattern in (_SELECT, _ORDINAL):
        for m in pattern.finditer(t):
            n = _ORDINALS.get(m.group(1)) or _number(m.group(1))
            picks.add(len(opts) if n == -1 else n)
        t = pattern.sub(" ", t)
    stripped = t.strip(" .!?)(")
    if stripped in _SMALL:
        picks.add(_SMALL[stripped])
    constraints = 0
    cands = opts
    months = [
        12 if m.group(3) else _number(m.group(1)) * (12 if m.group(2) in ("year", "yr") else 1)
        for m in _TERM.finditer(t)
    ]
    counts = [_number(m.group(1)) for m in _COUNT.finditer(t)]
    t = _COUNT.sub(" ", _TERM.sub(" ", t))
    amounts: set[int] = set()
    for mention in find_amounts(t):
        dollars, cents = divmod(mention.cents, 100)
        if not mention.cued and cents == 0 and 1 <= dollars <= len(opts):
            picks.add(dollars)
        else:
            amounts.add(mention.cents)
    if len(picks) > 1 or len(set(months)) > 1 or len(set(counts)) > 1 or len(amounts) > 1:
        return None
    if picks:
        index = picks.pop()
        if not 1 <= index <= len(opts):
            return None
        cands, constraints = [opts[index - 1]], 1
    frequency = parse_frequency(t)
    if frequency is not None:
        cands, constraints = [o for o in cands if o.frequency == frequency[0]], constraints + 1
    if months:
        fitting = [o for o in cands if o.frequency != "once" and o.months == months[0]]
        monthly = [o for o in fitting if o.frequency == "monthly"]
        cands = monthly if frequency is None and len(monthly) == 1 else fitting
        constraints += 1
    if counts:
        cands, constraints = [o for o in cands if o.count == counts[0]], constraints + 1
    if amounts:
        amount = amounts.pop()
        cands = [o for o in cands if abs(o.per_payment_cents - amount) <= 100]
        constraints += 1
    for pattern, kind in ((_SETTLE, "settlement"), (_HARDSHIP, "hardship"), (_FULL, "full")):
        if pattern.search(t):
            cands, constraints = [o for o in cands if o.kind == kind], constraints + 1
    if len(cands) > 1 and all(o.frequency == "once" for o in cands):
        if _NOW.search(t):
            cands, constraints = [min(cands, key=lambda o: o.first_due)], constraints + 1
        elif _LATER.search(t):
            cands, constraints = [max(cands, key=lambda o: o.first_due)], constraints + 1
    for pattern, pick in ((_LOWEST, "lowest"), (_LONGEST, "longest"), (_SHORTEST, "shortest")):
        if pattern.search(t):
            cands, constraints = _only(cands, pick), constraints + 1
    return cands[0] if constraints and len(cands) == 1 else None


@dataclass(frozen=True)
class SplitRequest:
    """ "Half now and half next month": the balance in `parts` equal payments."""

    parts: int
    frequency: str  # weekly | biweekly | monthly
    starts_now: bool  # the first payment today, not a week from today

    def part_cents(self, balance_cents: int) -> int:
        """Each payment: the balance over `parts`, rounded up (the last pays what is left)."""
        return -(-balance_cents // self.parts)

    def first_due(self, today: date) -> date | None:
        """Today, or None for the plans' usual first date."""
        return today if self.starts_now else None


_HALF_NOW = re.compile(r"\bhalf\b[^.?!]*?\b(?:now|today)\b|\b(?:now|today)\b[^.?!]*?\bhalf\b")
_THE_REST = re.compile(
    r"\b(?:half|rest|remainder)\b[^.?!]*?\b(next month|(?:in )?(?:a|one|1) month|in 30 days|"
    r"next week|in (?:a|one|1) week|in (?:two|2) weeks)\b"
)
_SPLIT = re.compile(
    rf"(?:\b(?:in|into|over|split(?: it)?(?: in| into)?)\s+)?\b(\d{{1,2}}|{_NUM})\s*"
    r"(?:equal\s+)?(?:payments|installments|parts|pieces|chunks)\b"
)


def parse_split(text: str) -> SplitRequest | None:
    """ "Half now and half next month" (two monthly payments from today), "half now, the rest
    in two weeks" (every two weeks), "split it into 3 payments" (monthly, or as said: "in 4
    payments every other friday"). None when the text asks for no split."""
    t = " ".join(text.lower().replace("\u2019", "'").split())
    if _HALF_NOW.search(t) and (m := _THE_REST.search(t)):
        later = m.group(1)
        frequency = "monthly" if "month" in later or "30" in later else "weekly"
        if "two" in later or "2" in later:
            frequency = "biweekly"
        return SplitRequest(2, frequency, starts_now=True)
    if (m := _SPLIT.search(t)) and _number(m.group(1)) >= 2:
        how_often = parse_frequency(t)
        return SplitRequest(
            _number(m.group(1)), how_often[0] if how_often else "monthly", bool(_NOW.search(t))
        )
    return None
