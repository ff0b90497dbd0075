"""A base for our form validation actions: database work in one transaction, with the same
Turn the other actions get (on the event loop, like theirs: see actions.common.BotAction)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.common import Turn, open_turn, settings
from bot.db import session_scope

T = TypeVar("T")

#: Set by a validator whose reply already asks the question again ("Sorry, I didn't catch
#: which option. Reply with its number...", "...Could you manage that, or pick one of the
#: options?"), so that the form's own question is not said twice in one message.
ASKED_AGAIN = "asked_again"


class AskUnlessAsked(Action, ABC):
    """A form's question for `slot` (`utter_ask_<slot>`), unless this turn already asked it
    again; subclasses name themselves `action_ask_<slot>`."""

    slot: str

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(ASKED_AGAIN):
            return [SlotSet(ASKED_AGAIN, None)]
        dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return []


def asked_again(**slots: Any) -> dict[str, Any]:
    """A validator's answer when its reply has asked the question again."""
    return {**slots, ASKED_AGAIN: True}


class ServiceFormValidation(FormValidationAction, ABC):
    """Subclasses name themselves `validate_<form>` and call `await self.with_turn(...)`."""

    @abstractmethod
    def name(self) -> str: ...

    async def with_turn(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        fn: Callable[[Turn], T],
    ) -> T:
        with session_scope(settings().database_url) as session:
            return fn(open_turn(session, dispatcher, tracker))


def requested(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def yes_no(tracker: Tracker) -> bool | None:
    """An answer to a YES/NO question: by intent, or by the plain words."""
    intent = latest_intent(tracker)
    text = latest_text(tracker).strip().lower().rstrip(".!")
    if (
        text in {"yes", "y", "yeah", "yep", "ok", "okay", "sure", "confirm", "si"}
        or intent == "affirm"
    ):
        return True
    if text in {"no", "n", "nope", "nah", "cancel"} or intent == "deny":
        return False
    return None


#: Intents that mean "this is my answer" while a form asks: anything else unparseable is a
#: digression (a question, an escalation) that the rules handle before the form goes on.
ANSWER_INTENTS = frozenset({"inform", "nlu_fallback", "out_of_scope", "affirm", "deny"})


def answering(tracker: Tracker) -> bool:
    return latest_intent(tracker) in ANSWER_INTENTS
