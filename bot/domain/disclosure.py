"""What an outbound message reveals or threatens: the text detectors behind the automatic
compliance checks (rules 1 and 8). Pure: regular expressions over already-redacted text.

`debt_details` finds what rule 1 forbids before verification: a money amount, the creditor's
name, the account reference, and the words that say a debt exists (balance, owe, debt,
overdue, past due, payment plan...). The company name is allowed before verification (rule 1),
so it is taken out of the text before the creditor is looked for: a first-party creditor whose
name is part of the company's ("Evergreen Health" in "Evergreen Health Billing") is not flagged
by a greeting.

`payment_requests` finds what rule 14 forbids while a hold stands: an ask to pay (pay now,
a payment link, "how much would you like to pay"), a plan or settlement offered or
summarised, a payment date set or reminded. Naming what the assistant can help with ("I can
help with ... payment plans") or what is owed is not an ask; negated asks ("you don't need to
pay now") are not either.

`threats` finds what rule 8 forbids in any response: suit, arrest or jail, garnishment or
seizure, credit reporting. A threat word negated within its own clause ("we will not report
this", "no one is going to sue you") is not a threat; "we won't hesitate to sue" still is.
Negation is decided on a short window before the word, so an unusual phrasing can be missed
("suing you is not something we plan"): the checks page is a review aid, and a person reads
what it flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class DetailKind(StrEnum):
    AMOUNT = "amount"
    CREDITOR = "creditor"
    ACCOUNT_REF = "account_ref"
    DEBT_WORD = "debt_word"


class ThreatKind(StrEnum):
    SUIT = "suit"
    ARREST = "arrest"
    GARNISHMENT = "garnishment"
    CREDIT_REPORTING = "credit_reporting"


@dataclass(frozen=True)
class Detail:
    kind: DetailKind
    matched: str


@dataclass(frozen=True)
class Threat:
    kind: ThreatKind
    matched: str


_AMOUNT = re.compile(
    r"""
    (?:\$|\bUSD\s?)\s?\d[\d,]*(?:\.\d{1,2})?     # $1,369.37  $ 50  USD 50
    | \b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars?|bucks|usd)\b   # 50 dollars, 1200 USD
    """,
    re.IGNORECASE | re.VERBOSE,
)

_DEBT_WORDS = re.compile(
    r"""
    \b(?:
        balances?
      | owes?|owed|owing
      | debts?
      | overdue
      | past[\s-]due
      | payment\s+plans?
      | delinquen(?:t|cy)
      | arrears
      | amount\s+due
      | collection\s+agency
      | debt\s+collector
      | settle(?:ment)?\s+(?:offer|for)
    )\b
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _phrase(name: str) -> re.Pattern[str]:
    """A name as a whole phrase, any case, any run of spaces between its words."""
    words = [re.escape(w) for w in name.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def debt_details(
    text: str,
    *,
    creditor: str | None = None,
    account_ref: str | None = None,
    company_name: str | None = None,
) -> tuple[Detail, ...]:
    """Every debt detail in `text`, in order of appearance (empty: nothing revealed).

    `creditor` and `account_ref` are those of the account the conversation is about, when
    known; `company_name` is the sender's own name, which rule 1 allows.
    """
    found: list[tuple[int, Detail]] = []
    for m in _AMOUNT.finditer(text):
        found.append((m.start(), Detail(DetailKind.AMOUNT, m.group().strip())))
    for m in _DEBT_WORDS.finditer(text):
        found.append((m.start(), Detail(DetailKind.DEBT_WORD, m.group())))
    if account_ref and account_ref.strip():
        for m in _phrase(account_ref.strip()).finditer(text):
            found.append((m.start(), Detail(DetailKind.ACCOUNT_REF, m.group())))
    if creditor and len(creditor.strip()) >= 3:
        # The company's own name is allowed: blank it out (keeping offsets) before looking.
        scrubbed = text
        if company_name and company_name.strip():
            scrubbed = _phrase(company_name.strip()).sub(lambda m: " " * len(m.group()), text)
        for m in _phrase(creditor.strip()).finditer(scrubbed):
            found.append((m.start(), Detail(DetailKind.CREDITOR, text[m.start() : m.end()])))
    return tuple(detail for _, detail in sorted(found, key=lambda pair: pair[0]))


_THREATS: tuple[tuple[ThreatKind, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE | re.VERBOSE))
    for kind, pattern in (
        (
            ThreatKind.SUIT,
            r"""\b(?:
                sue|sued|suing|lawsuits?|law\s+suits?
              | (?:take|taking|bring|drag)\s+(?:you|this|it|the\s+matter)\s+to\s+court
              | see\s+you\s+in\s+court
              | court\s+(?:action|order|judgm?ents?)
              | (?:legal|judicial)\s+(?:action|proceedings|steps|measures)
              | judgm?ent\s+against\s+you
              | refer(?:red|ring)?\s+(?:(?:this|it|you|your\s+account|the\s+account)\s+)?to\s+
                (?:an?|our)\s+(?:collections?\s+)?(?:attorney|lawyer|law\s+firm|legal\s+department)
            )\b""",
        ),
        (
            ThreatKind.ARREST,
            r"""\b(?:
                arrest(?:ed)?|jail(?:ed)?|prison|imprison(?:ed|ment)?|warrants?
              | police|sheriff|criminal\s+charges?|prosecut(?:e|ed|ion)
            )\b""",
        ),
        (
            ThreatKind.GARNISHMENT,
            r"""\b(?:
                garnish(?:ed|es|ing|ment|ments)?
              | seiz(?:e|ed|ure)|levy|repossess(?:ed|ion)?
              | (?:put|place|file)\s+an?\s+lien
              | freeze\s+your\s+(?:bank\s+)?accounts?
              | take\s+(?:it|money|the\s+money|payment)\s+(?:out\s+of|from)\s+your\s+
                (?:wages?|pay(?:check)?|salary|bank)
            )\b""",
        ),
        (
            ThreatKind.CREDIT_REPORTING,
            r"""\b(?:
                credit\s+(?:bureaus?|agenc(?:y|ies)|reporting(?:\s+agenc(?:y|ies))?)
              | report(?:ed|ing)?\s+(?:you|it|this|the\s+debt|the\s+account|your\s+account)\s+
                to\s+(?:the\s+)?credit
              | (?:ruin|damage|hurt|destroy|wreck|affect)\s+your\s+credit
              | equifax|experian|trans\s?union
            )\b""",
        ),
    )
)

# A negation that governs a threat word: shortly before it, in the same clause, with no new
# subject in between ("if you don't pay we will sue" is a threat; "we will not sue" is not).
_NEGATION = re.compile(
    r"\b(?:not|never|no\s+one|nobody|no|won'?t|wouldn'?t|don'?t|doesn'?t|didn'?t|can'?t|"
    r"cannot|isn'?t|aren'?t|without)\b",
    re.IGNORECASE,
)
# "we won't hesitate to sue", "not afraid to take you to court": negated words that are not
# the threat's own verb.
_NOT_A_NEGATION = re.compile(r"\b(?:hesitate|afraid|wait|rule\s+out)\b", re.IGNORECASE)
_NEW_SUBJECT = re.compile(r"\b(?:you|we|i|they|he|she)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.;:!?,\n]|\b(?:but|unless|if|otherwise|or\s+else)\b", re.IGNORECASE)
_NEGATION_REACH = 4  # words at most between the negation and the threat word


def _negated(text: str, start: int) -> bool:
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end() :] if breaks else before
    negations = list(_NEGATION.finditer(clause))
    if not negations:
        return False
    last = negations[-1]
    between = clause[last.end() :]
    return (
        len(between.split()) <= _NEGATION_REACH
        and not _NEW_SUBJECT.search(between)
        and not _NOT_A_NEGATION.search(between)
    )


def threats(text: str) -> tuple[Threat, ...]:
    """Every threat in `text`, in order of appearance (empty: none)."""
    found: list[tuple[int, Threat]] = []
    for kind, pattern in _THREATS:
        for m in pattern.finditer(text):
            if not _negated(text, m.start()):
                found.append((m.start(), Threat(kind, " ".join(m.group().split()))))
    return tuple(threat for _, threat in sorted(found, key=lambda pair: pair[0]))


_PAYMENT_REQUESTS = re.compile(
    r"""\b(?:
        pay\s+(?:now|today|securely|online|here|in\s+full
               |(?:it|this|that)\b|(?:the|your)\s+(?:balance|rest|bill|amount)\b)
      | make\s+(?:a|the|your)\s+payment
      | please\s+pay
      | (?:when|how\s+much)\s+(?:are\s+you\s+planning|would\s+you\s+like|can\s+you|could\s+you
                              |will\s+you)\s+(?:to\s+)?pay
      | (?:amount|date)\s+(?:you\s+can\s+(?:manage|pay|afford)|to\s+pay)
      | (?:link|here)\s+to\s+pay | (?:secure\s+)?payment\s+link | /pay/
      | (?:like|want)\s+to\s+(?:set\s+up|start|choose)\s+a\s+(?:payment\s+)?plan
      | (?:we|i)\s+can\s+set\s+up\s+(?:a\s+(?:payment\s+)?plan|weekly|monthly)
      | payment\s+plan\s+(?:can|could|would|may|might)
      | (?:weekly|monthly)\s+payments
      | payments?,?\s+(?:starting|from)
      | pay\s+\$ | in\s+full\s+(?:on|by)
      | settle\s+(?:(?:your|the)\s+(?:balance|account|debt)|for)
      | settles\s+your | settlement\s+is\s+set\s+up
      | you'?ll\s+pay
      | (?:first|next|one|your|a)\s+payment\s+(?:of|is|needs|must)
      | (?:smallest|lowest|minimum)\s+payment
      | tell\s+me\s+(?:an|your\s+own)\s+amount
      | options\s+for\s+your\s+balance
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# An installment offered or agreed: "$83.75 a month", "$25 every 2 weeks".
_PER_PERIOD = re.compile(
    r"\$\s?\d[\d,]*(?:\.\d{1,2})?\s+(?:a|per|each|every)\s+(?:week|month|(?:2|two)\s+weeks)\b",
    re.IGNORECASE,
)


def payment_requests(text: str) -> tuple[str, ...]:
    """Every ask for payment in `text` (rule 14), as matched, in order (empty: none)."""
    found = sorted(
        (m for pattern in (_PAYMENT_REQUESTS, _PER_PERIOD) for m in pattern.finditer(text)),
        key=lambda m: m.start(),
    )
    return tuple(" ".join(m.group().split()) for m in found if not _negated(text, m.start()))
