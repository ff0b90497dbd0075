"""Hardship: empathy first, then what happened, whether it is temporary, what is affordable;
recorded through the hardship service, then hardship options offered."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, ask_to_verify
from actions.flows import then
from actions.forms import ServiceFormValidation, answering, latest_text, requested, yes_no
from bot.domain.money import parse_amount
from bot.services.cases import HardshipCategory, answer_hardship, record_hardship

SLOTS = ("hardship_category", "hardship_temporary", "hardship_affordable")

# Words people use for each category; the NLU's hardship_type entity is tried first.
CATEGORY_WORDS: tuple[tuple[HardshipCategory, tuple[str, ...]], ...] = (
    (HardshipCategory.JOB_LOSS, ("job", "laid off", "fired", "unemploy", "work", "let go")),
    (
        HardshipCategory.ILLNESS,
        ("sick", "ill", "hospital", "surgery", "cancer", "medical", "injur", "health"),
    ),
    (HardshipCategory.DIVORCE, ("divorce", "separat", "split up", "breakup")),
    (HardshipCategory.BEREAVEMENT, ("died", "passed", "death", "funeral", "lost my")),
    (
        HardshipCategory.DISASTER,
        ("fire", "flood", "hurricane", "storm", "disaster", "tornado", "earthquake"),
    ),
    (
        HardshipCategory.REDUCED_INCOME,
        ("hours", "pay cut", "income", "less money", "cut back", "reduced"),
    ),
)
_NOTHING = re.compile(
    r"\b(nothing|zero|none|can'?t pay anything|not? (anything|a thing))\b|^\s*\$?0\s*$", re.I
)


def category_from(text: str, entity: str | None) -> HardshipCategory | None:
    if entity:
        try:
            return HardshipCategory(entity)
        except ValueError:
            pass
    lowered = text.lower()
    for category, words in CATEGORY_WORDS:
        if any(w in lowered for w in words):
            return category
    return None


def _record_told(turn: Turn, category: str | None) -> None:
    """The hardship on record as soon as it is told (and the debtor verified): the plans
    offered next use the hardship limits even if the debtor asks for them before the
    questions are answered. `action_record_hardship` adds the answers to it."""
    assert turn.account is not None
    record_hardship(
        turn.session,
        turn.account,
        HardshipCategory(category or HardshipCategory.OTHER),
        actor="bot",
        now=turn.now,
        conversation_id=turn.conversation.id,
    )


class ActionStartHardship(BotAction):
    """Empathy first, whatever the verification state; then the questions."""

    def name(self) -> str:
        return "action_start_hardship"

    def act(self, turn: Turn) -> list[EventType]:
        turn.say("utter_hardship_empathy")
        events: list[EventType] = [SlotSet(s, None) for s in SLOTS]
        # What happened is kept through verification: not asked a second time.
        category = category_from(turn.text, turn.entity("hardship_type"))
        if category:
            events.append(SlotSet("hardship_category", category.value))
        if not turn.verified:
            return [*events, *ask_to_verify(turn, pending="action_start_hardship_form")]
        _record_told(turn, category)
        return [*events, then("hardship_form")]


class ActionStartHardshipForm(BotAction):
    """After verification, straight to the questions (the empathy was already said)."""

    requires_verification = True

    def name(self) -> str:
        return "action_start_hardship_form"

    def act(self, turn: Turn) -> list[EventType]:
        _record_told(turn, turn.tracker.get_slot("hardship_category"))
        return [then("hardship_form")]


class ValidateHardshipForm(ServiceFormValidation):
    def name(self) -> str:
        return "validate_hardship_form"

    async def extract_hardship_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "hardship_category"):
            return {}
        entity = next(tracker.get_latest_entity_values("hardship_type"), None)
        category = category_from(latest_text(tracker), entity)
        if category:
            return {"hardship_category": category.value}
        # Anything else they say about it is still their answer: recorded as "other".
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if answering(tracker) or intent == "explain_hardship":
            return {"hardship_category": HardshipCategory.OTHER.value}
        return {}

    async def extract_hardship_temporary(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "hardship_temporary"):
            return {}
        text = latest_text(tracker).lower()
        if any(w in text for w in ("temporar", "few months", "short", "soon", "for now")):
            return {"hardship_temporary": "temporary"}
        if any(
            w in text
            for w in ("long", "permanent", "forever", "not sure", "don't know", "dont know", "idk")
        ):
            return {"hardship_temporary": "long_term" if "not sure" not in text else "unknown"}
        answer = yes_no(tracker)
        if answer is not None:
            return {"hardship_temporary": "temporary" if answer else "long_term"}
        return {"hardship_temporary": "unknown"} if answering(tracker) else {}

    async def extract_hardship_affordable(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "hardship_affordable"):
            return {}
        text = latest_text(tracker)
        if _NOTHING.search(text):
            return {"hardship_affordable": 0.0}
        amount = parse_amount(text)
        if amount is not None:
            return {"hardship_affordable": amount / 100}
        return {"hardship_affordable": -1.0} if answering(tracker) else {}

    async def validate_hardship_affordable(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"hardship_affordable": None}
        if value < 0:
            dispatcher.utter_message(response="utter_hardship_amount_not_understood")
            return {"hardship_affordable": None}
        return {"hardship_affordable": value}


class ActionRecordHardship(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_record_hardship"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        slot = turn.tracker.get_slot
        temporary = {"temporary": True, "long_term": False}.get(slot("hardship_temporary") or "")
        affordable = slot("hardship_affordable")
        answer_hardship(
            turn.session,
            turn.account,
            HardshipCategory(slot("hardship_category") or "other"),
            actor="bot",
            now=turn.now,
            conversation_id=turn.conversation.id,
            temporary=temporary,
            affordable_monthly_cents=round(affordable * 100) if affordable is not None else None,
        )
        turn.say("utter_hardship_recorded")
        turn.say("utter_hardship_resources")
        return [*(SlotSet(s, None) for s in SLOTS), then("action_offer_plans")]
