"""Promises to pay ("I get paid on the 15th"): amount and date understood, confirmed, recorded.
"100 now and the rest on the 15th" is two promises, confirmed and recorded together."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, describe_limit, policy
from actions.flows import then
from actions.forms import ServiceFormValidation, answering, latest_text, requested, yes_no
from actions.payment import link_for
from bot.domain.dates import format_date
from bot.domain.money import format_money, parse_amount
from bot.domain.plans import PolicyViolation
from bot.domain.promises import PromiseWords, parse_promise
from bot.services.errors import OnHold
from bot.services.plans import (
    collectible_cents,
    open_promises,
    promise_rest_cents,
    record_promise,
    record_promise_and_rest,
)

SLOTS = ("promise_amount", "promise_date", "promise_confirm", "promise_rest_date")


class ActionStartPromise(BotAction):
    requires_verification = True
    collects = True

    def name(self) -> str:
        return "action_start_promise"

    def act(self, turn: Turn) -> list[EventType]:
        return start_promise(turn, parse_promise(turn.text, turn.today))


def start_promise(turn: Turn, said: PromiseWords) -> list[EventType]:
    """The promise form, with what the message already says ("I'll pay 100 on friday", "half
    now and the rest on the 20th") in its slots."""
    assert turn.account is not None
    amount_cents = said.amount_cents
    if said.half:
        amount_cents = said.first_cents(collectible_cents(turn.session, turn.account, turn.today))
    events: list[EventType] = [SlotSet(s, None) for s in SLOTS]
    if amount_cents:
        events.append(SlotSet("promise_amount", amount_cents / 100))
    if said.due_on:
        events.append(SlotSet("promise_date", said.due_on.isoformat()))
    events += [SlotSet(name, value) for name, value in _rest_slot(said.rest_on).items()]
    return [*events, then("promise_form")]


def _rest_slot(rest_on: date | None) -> dict[str, Any]:
    return {"promise_rest_date": rest_on.isoformat()} if rest_on else {}


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
        when = parse_promise(latest_text(tracker), today).due_on  # not the rest's date
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
        # "today, and the rest on the 15th": read here, as rasa_sdk drops what extraction
        # sets beyond the form's own slots
        rest_on = parse_promise(latest_text(tracker), today).rest_on
        return {"promise_date": value, **_rest_slot(rest_on)}

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
        assert turn.account is not None
        amount, due, rest_on = _promised(turn)
        # What is already promised stays: said first, so the new one is not taken for a change
        for earlier in open_promises(turn.session, turn.account):
            turn.say(
                "utter_promise_existing",
                amount=format_money(earlier.amount_cents),
                due_on=format_date(earlier.due_on, turn.today),
            )
        values = {"amount": format_money(amount), "due_on": format_date(due, turn.today)}
        if rest_on is not None:
            try:
                rest = promise_rest_cents(
                    turn.session, turn.account, amount_cents=amount, due_on=due,
                    rest_on=rest_on, today=turn.today, policy=policy(),
                )  # fmt: skip
            except PolicyViolation as exc:  # said, and left out: never dropped unsaid
                turn.say(_REST_REFUSED[exc.code], limit=describe_limit(exc.limit, turn.today))
                turn.say("utter_promise_summary", **values)
                return [SlotSet("promise_rest_date", None)]
            turn.say(
                "utter_promise_summary_with_rest", **values, rest_amount=format_money(rest),
                rest_on=format_date(rest_on, turn.today),
            )  # fmt: skip
            return []
        turn.say("utter_promise_summary", **values)
        return []


_REST_REFUSED = {
    "rest_date_not_allowed": "utter_promise_rest_not_noted",
    "no_rest": "utter_promise_rest_too_small",
}


def _promised(turn: Turn) -> tuple[int, date, date | None]:
    """The promise in the slots: amount (cents), date, and the date for the rest, if any."""
    slots = turn.tracker.get_slot
    rest_on = slots("promise_rest_date")
    return (
        round(float(slots("promise_amount") or 0) * 100),
        date.fromisoformat(slots("promise_date")),
        date.fromisoformat(rest_on) if rest_on else None,
    )


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
        amount, due, rest_on = _promised(turn)
        try:
            if rest_on is None:
                promise = record_promise(
                    turn.session, turn.account, amount_cents=amount, due_on=due,
                    today=turn.today, now=turn.now, policy=policy(), actor="bot",
                    conversation_id=turn.conversation.id,
                )  # fmt: skip
                rest = None
            else:
                promise, rest = record_promise_and_rest(
                    turn.session, turn.account, amount_cents=amount, due_on=due,
                    rest_on=rest_on, today=turn.today, now=turn.now, policy=policy(),
                    actor="bot", conversation_id=turn.conversation.id,
                )  # fmt: skip
        except OnHold:
            turn.say("utter_on_hold")
            return reset
        except PolicyViolation as exc:
            response = _REST_REFUSED.get(exc.code, "utter_promise_date_too_late")
            turn.say(response, limit=describe_limit(exc.limit, turn.today))
            return [*reset, then("promise_form")]
        values = {
            "amount": format_money(promise.amount_cents),
            "due_on": format_date(promise.due_on, turn.today),
            "link": link_for(turn, promise.amount_cents),
        }
        if rest is None:
            turn.say("utter_promise_recorded", **values)
        else:
            turn.say(
                "utter_promise_recorded_with_rest", **values,
                rest_amount=format_money(rest.amount_cents),
                rest_on=format_date(rest.due_on, turn.today),
            )  # fmt: skip
        return reset
