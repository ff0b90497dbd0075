"""The safety net (compliance rules 15-17): deterministic spaCy rule matchers over the text
for distress, an attorney, bankruptcy, a death, or an explicit request for a person. A hit
hands off with that reason whatever the model says.

The pipeline is a blank English tokenizer with a token Matcher (no model download): built
once per process, on first use or by `warm()` (gunicorn's workers, before they serve), never
at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.services.handoff import HandoffReason

# spaCy splits "don't"/"dont" into "do" + "n't"/"nt", "can't" into "ca" + "n't".
DONT: list[dict[str, Any]] = [
    {"LOWER": {"IN": ["do", "dont", "not"]}},
    {"LOWER": {"IN": ["n't", "nt", "not"]}, "OP": "?"},
]
CANT: list[dict[str, Any]] = [
    {"LOWER": {"IN": ["ca", "can", "cant", "cannot"]}},
    {"LOWER": {"IN": ["n't", "nt", "not"]}, "OP": "?"},
]

# Token patterns per reason; checked in this order, the first hit wins (distress first).
PATTERNS: dict[HandoffReason, list[list[dict[str, Any]]]] = {
    HandoffReason.DISTRESS: [
        [{"LOWER": {"IN": ["kill", "hurt", "harm", "cut"]}}, {"LOWER": {"IN": ["myself", "me"]}}],
        [{"LOWER": {"IN": ["suicide", "suicidal", "selfharm"]}}],
        [{"LOWER": "self"}, {"ORTH": "-", "OP": "?"}, {"LOWER": "harm"}],
        [{"LOWER": "end"}, {"LOWER": {"IN": ["my", "it"]}}, {"LOWER": {"IN": ["life", "all"]}}],
        [{"LOWER": {"IN": ["want", "wanna"]}}, {"LOWER": "to", "OP": "?"}, {"LOWER": "die"}],
        [{"LOWER": "better"}, {"LOWER": "off"}, {"LOWER": "dead"}],
        [*DONT, {"LOWER": "want"}, {"LOWER": "to"}, {"LOWER": "live"}],
        [
            *DONT,
            {"LOWER": "want"},
            {"LOWER": "to"},
            {"LOWER": "be"},
            {"LOWER": {"IN": ["alive", "here"]}},
        ],
        [{"LOWER": "no"}, {"LOWER": "reason"}, {"LOWER": "to"}, {"LOWER": "live"}],
        [{"LOWER": "not"}, {"LOWER": "worth"}, {"LOWER": "living"}],
        [*CANT, {"LOWER": "go"}, {"LOWER": "on"}],
        [{"LOWER": "point"}, {"LOWER": "of"}, {"LOWER": {"IN": ["anything", "living", "life"]}}],
        [{"LOWER": "point"}, {"LOWER": "of"}, {"LOWER": "it"}, {"LOWER": "all"}],
        [{"LOWER": "take"}, {"LOWER": "my"}, {"LOWER": "own"}, {"LOWER": "life"}],
    ],
    HandoffReason.ATTORNEY: [
        [
            {"LOWER": {"IN": ["my", "our", "an", "a"]}},
            {"LOWER": {"IN": ["lawyer", "attorney", "attorneys", "lawyers", "counsel"]}},
        ],
        [
            {"LOWER": {"IN": ["lawyer", "attorney"]}},
            {"LOWER": {"IN": ["is", "will"]}},
            {"LOWER": {"IN": ["handling", "handle", "representing", "contact"]}},
        ],
        [{"LOWER": {"IN": ["sue", "suing", "lawsuit"]}}],
        [{"LOWER": "represented"}, {"LOWER": "by"}],
        [{"LOWER": {"IN": ["in", "to"]}}, {"LOWER": "court"}],
        [{"LOWER": "legal"}, {"LOWER": "representation"}],
    ],
    HandoffReason.BANKRUPTCY: [
        [{"LOWER": {"IN": ["bankruptcy", "bankrupt", "bankrupcy", "bankruptsy", "bk"]}}],
        [
            {"LOWER": {"IN": ["chapter", "ch", "ch."]}},
            {"TEXT": {"IN": ["7", "11", "13", "seven", "thirteen"]}},
        ],
        [{"LOWER": {"IN": ["chapter7", "chapter13", "ch7", "ch13"]}}],
    ],
    HandoffReason.DECEASED: [
        [{"LOWER": {"IN": ["deceased", "executor", "executrix", "widow", "widower"]}}],
        [{"LOWER": "death"}, {"LOWER": "certificate"}],
        [
            {"LOWER": "account"},
            {"LOWER": "holder"},
            {"LOWER": {"IN": ["died", "passed", "is", "has"]}},
            {"LOWER": {"IN": ["away", "dead", "died", "passed"]}, "OP": "?"},
        ],
        [
            {"LOWER": {"IN": ["he", "she"]}},
            {"LOWER": {"IN": ["passed", "died"]}},
            {"LOWER": "away", "OP": "?"},
            {"OP": "{0,6}"},
            {"LOWER": {"IN": ["his", "her"]}},
            {"LOWER": {"IN": ["phone", "number", "account"]}},
        ],
        [{"LOWER": {"IN": ["her", "his"]}}, {"LOWER": "estate"}],
    ],
    HandoffReason.HUMAN_REQUEST: [
        [{"LOWER": {"IN": ["agent", "representative", "rep", "operator", "human"]}}],
        [
            {"LOWER": {"IN": ["real", "live", "actual"]}},
            {"LOWER": {"IN": ["person", "human", "agent", "someone"]}},
        ],
        [
            {"LOWER": {"IN": ["speak", "talk", "chat"]}},
            {"LOWER": {"IN": ["to", "with"]}},
            {"LOWER": {"IN": ["a", "an", "someone", "somebody", "person", "your"]}},
            {"LOWER": {"IN": ["person", "human", "manager", "supervisor", "agent"]}, "OP": "?"},
        ],
        [{"LOWER": {"IN": ["supervisor", "manager"]}}],
        [{"LOWER": "call"}, {"LOWER": "me"}],
        [{"LOWER": "transfer"}, {"LOWER": "me"}],
    ],
}
ORDER = tuple(PATTERNS)


@dataclass(frozen=True)
class SafetyHit:
    reason: HandoffReason
    matched: str


@lru_cache(maxsize=1)
def _pipeline():  # type: ignore[no-untyped-def]
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    for reason, patterns in PATTERNS.items():
        matcher.add(reason.value, patterns)
    return nlp, matcher


def warm() -> None:
    """Build the pipeline now: a server worker calls this before it takes requests, so the
    first message it gets is not kept waiting while spaCy loads (most of a second)."""
    _pipeline()


#: "the agent was great", "that rep said...": a person already met, not a request for one.
_DEFINITE = frozenset({"the", "that", "this", "our", "my"})


def _names_one_already_met(doc, start: int, end: int) -> bool:  # type: ignore[no-untyped-def]
    return end - start == 1 and start > 0 and doc[start - 1].lower_ in _DEFINITE


def check(text: str) -> SafetyHit | None:
    """The most serious escalation the text shows, or None."""
    nlp, matcher = _pipeline()
    doc = nlp(text[:2000])
    hits: dict[HandoffReason, str] = {}
    for match_id, start, end in matcher(doc):
        reason = HandoffReason(nlp.vocab.strings[match_id])
        if reason is HandoffReason.HUMAN_REQUEST and _names_one_already_met(doc, start, end):
            continue
        hits.setdefault(reason, doc[start:end].text)
    for reason in ORDER:
        if reason in hits:
            return SafetyHit(reason, hits[reason])
    return None
