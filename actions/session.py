"""Session start: the company's name and support line as slots, so every response in
domain.yml can use them; nothing about the debt."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import settings


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        s = settings()
        metadata = tracker.get_slot("session_started_metadata")
        events: list[EventType] = [SessionStarted()]
        if metadata:
            events.append(SlotSet("session_started_metadata", metadata))
        return [
            *events,
            SlotSet("company_name", s.company_name),
            SlotSet("support_phone", s.support_phone),
            ActionExecuted("action_listen"),
        ]
