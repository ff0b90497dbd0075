"""Promises to pay ("I get paid on the 15th"): amount and date understood, confirmed, recorded."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, policy
from actions.flows import then
from actions.forms import ServiceFormValidation, answering, latest_text, requested, yes_no
from actions.payment import link_for
from actions.plans import describe_limit
from bot.domain.dates import format_date, parse_when
from bot.domain.money import format_money, parse_amount
from bot.domain.plans import PolicyViolation
from bot.services.errors import OnHold
from bot.services.plans import collectible_cents, record_promise

SLOTS = ("promise_amount", "promise_date", "promise_confirm")


class ActionStartPromise(BotAction):
    requires_verification = True
    collects = True

    def name(self) -> str:
        return "action_start_promise"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        events: list[EventType] = [SlotSet(s, None) for s in SLOTS]
        # "I'll pay 100 on friday": take what the first message already says.
        amount = parse_amount(turn.text)
        when = parse_when(turn.text, turn.today)
        if amount:
            events.append(SlotSet("promise_amount", amount / 100))
        if when:
            events.append(SlotSet("promise_date", when.isoformat()))
        return [*events, then("promise_form")]


class ValidatePromiseForm(ServiceFormValidation):
    def name(self) -> str:
        return "validate_promise_form"

    async def extract_promise_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "promise_amount"):
            return {}
        amount = parse_amount(latest_text(tracker))
        if amount is not None:
            return {"promise_amount": amount / 100}
        return {"promise_amount": -1.0} if answering(tracker) else {}

    async def validate_promise_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"promise_amount": None}
        if value < 0:
            dispatcher.utter_message(response="utter_promise_amount_not_understood")
            return {"promise_amount": None}
        cents = round(value * 100)

        def check(turn: Turn) -> tuple[str, int] | None:
            assert turn.account is not None
            balance = collectible_cents(turn.session, turn.account, turn.today)
            if cents > balance:
                return ("utter_promise_amount_too_high", balance)
            minimum = min(policy().promise_min_cents, balance)
            if cents < minimum:
                return ("utter_promise_amount_too_low", minimum)
            return None

        problem = await self.with_turn(dispatcher, tracker, check)
        if problem:
            dispatcher.utter_message(response=problem[0], limit=format_money(problem[1]))
            return {"promise_amount": None}
        return {"promise_amount": value}

    async def extract_promise_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "promise_date"):
            return {}
        today = await self.with_turn(dispatcher, tracker, lambda turn: turn.today)
        when = parse_when(latest_text(tracker), today)
        if when is not None:
            return {"promise_date": when.isoformat()}
        return {"promise_date": "?"} if answering(tracker) else {}

    async def validate_promise_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"promise_date": None}
        if value == "?":
            dispatcher.utter_message(response="utter_promise_date_not_understood")
            return {"promise_date": None}
        due = date.fromisoformat(value)
        today = await self.with_turn(dispatcher, tracker, lambda turn: turn.today)
        latest = date.fromordinal(today.toordinal() + policy().promise_max_days)
        if due < today:
            dispatcher.utter_message(response="utter_promise_date_past")
            return {"promise_date": None}
        if due > latest:
            dispatcher.utter_message(
                response="utter_promise_date_too_late", limit=format_date(latest, today)
            )
            return {"promise_date": None}
        return {"promise_date": value}

    async def extract_promise_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "promise_confirm"):
            return {}
        answer = yes_no(tracker)
        return {} if answer is None else {"promise_confirm": answer}


class ActionAskPromiseConfirm(BotAction):
    def name(self) -> str:
        return "action_ask_promise_confirm"

    def act(self, turn: Turn) -> list[EventType]:
        amount = round(float(turn.tracker.get_slot("promise_amount") or 0) * 100)
        due = date.fromisoformat(turn.tracker.get_slot("promise_date"))
        turn.say(
            "utter_promise_summary",
            amount=format_money(amount),
            due_on=format_date(due, turn.today),
        )
        return []


class ActionRecordPromise(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_record_promise"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        reset = [SlotSet(s, None) for s in SLOTS]
        if not turn.tracker.get_slot("promise_confirm"):
            turn.say("utter_promise_not_recorded")
            return [*reset, then("promise_form")]
        amount = round(float(turn.tracker.get_slot("promise_amount")) * 100)
        due = date.fromisoformat(turn.tracker.get_slot("promise_date"))
        try:
            promise = record_promise(
                turn.session,
                turn.account,
                amount_cents=amount,
                due_on=due,
                today=turn.today,
                now=turn.now,
                policy=policy(),
                actor="bot",
                conversation_id=turn.conversation.id,
            )
        except OnHold:
            turn.say("utter_on_hold")
            return reset
        except PolicyViolation as exc:
            turn.say("utter_promise_date_too_late", limit=describe_limit(exc.limit, turn.today))
            return [*reset, then("promise_form")]
        turn.say(
            "utter_promise_recorded",
            amount=format_money(promise.amount_cents),
            due_on=format_date(promise.due_on, turn.today),
            link=link_for(turn, promise.amount_cents),
        )
        return reset
