"""The gateway's safety net: deterministic matches that hand off whatever the model says."""

from __future__ import annotations

import pytest

from bot.gateway.safety import check
from bot.services.handoff import HandoffReason as R


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("i want to kill myself", R.DISTRESS),
        ("i dont want to live anymore", R.DISTRESS),
        ("I don't want to be alive", R.DISTRESS),
        ("I cant go on like this", R.DISTRESS),
        ("what's the point of anything", R.DISTRESS),
        ("thinking about suicide", R.DISTRESS),
        ("talk to my lawyer", R.ATTORNEY),
        ("I will sue you", R.ATTORNEY),
        ("we'll settle this in court", R.ATTORNEY),
        ("i filed chapter 7", R.BANKRUPTCY),
        ("I'm in bankruptcy", R.BANKRUPTCY),
        ("the account holder passed away", R.DECEASED),
        ("she passed away, this was her phone", R.DECEASED),
        ("I am the executor of his estate", R.DECEASED),
        ("can i speak to a real person", R.HUMAN_REQUEST),
        ("AGENT", R.HUMAN_REQUEST),
        ("i want an agent", R.HUMAN_REQUEST),
        ("get me a rep", R.HUMAN_REQUEST),
        ("transfer me please", R.HUMAN_REQUEST),
        # the most serious reason wins
        ("my lawyer says i should not want to live anymore", R.DISTRESS),
    ],
)
def test_escalations_are_caught(text: str, reason: R) -> None:
    hit = check(text)
    assert hit is not None and hit.reason is reason


@pytest.mark.parametrize(
    "text",
    [
        "how much do i owe",
        "i lost my job",
        "my husband died and i cant pay",  # the debtor's own hardship: the model decides
        "this is killing me lol",
        "im going to die of boredom",
        "what's the point of paying this",
        "can i pay on the 15th",
        "5 - the agent was great",  # a person already met, not a request for one
        "that rep said i could pay later",
    ],
)
def test_ordinary_messages_pass_through(text: str) -> None:
    assert check(text) is None
