"""Moving the date of the next payment ("can I move it to friday", "push it back a week"):
the date from the message, or asked for; the rules are in bot.services.plans."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, policy
from actions.flows import then
from actions.forms import ServiceFormValidation, answering, latest_intent, latest_text, requested
from bot.domain.dates import asks_when, format_date, requested_date
from bot.domain.money import format_money
from bot.services.errors import (
    NothingToReschedule,
    RescheduleDateInPast,
    RescheduleTooLate,
    ServiceError,
)
from bot.services.plans import next_due_payment, payment_to_move, reschedule_payment

SLOT = "reschedule_date"
NOT_UNDERSTOOD = "?"
CANCELLED = "no"
#: Replies that already ask for another date: the form does not ask a second time.
ASKING_AGAIN = frozenset(
    {"utter_reschedule_too_late", "utter_reschedule_past", "utter_promise_date_not_understood"}
)


class ActionReschedulePayment(BotAction):
    """Runs on the request, and again when the reschedule_form has the date."""

    requires_verification = True

    def name(self) -> str:
        return "action_reschedule_payment"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        answer = turn.tracker.get_slot(SLOT)
        reset: list[EventType] = [SlotSet(SLOT, None)]
        if answer == CANCELLED:
            turn.say("utter_ok")
            return reset
        try:
            payment = payment_to_move(turn.session, turn.account, today=turn.today, policy=policy())
        except NothingToReschedule:
            turn.say("utter_reschedule_nothing")
            return reset
        if answer:
            new_date: date | None = date.fromisoformat(answer)
        else:
            new_date = requested_date(turn.text, turn.today, payment.due_on)
        if (
            new_date is None
            and asks_when(turn.text)
            and (upcoming := next_due_payment(turn.session, turn.account)) is not None
        ):
            # "When is my next payment due?": the date, not a question about a new one
            turn.say(
                "utter_next_payment",
                amount=format_money(upcoming.amount_cents),
                due_on=format_date(upcoming.due_on, turn.today),
            )
            return reset
        if new_date is None:
            return [*reset, then("reschedule_form")]
        try:
            moved = reschedule_payment(
                turn.session,
                turn.account,
                new_date,
                today=turn.today,
                now=turn.now,
                policy=policy(),
                actor="bot",
                conversation_id=turn.conversation.id,
            )
        except RescheduleDateInPast:
            turn.say("utter_reschedule_past")
            return [*reset, then("reschedule_form")]
        except RescheduleTooLate as exc:
            latest = exc.details["latest"]
            assert isinstance(latest, date)
            turn.say("utter_reschedule_too_late", latest=format_date(latest, turn.today))
            return [*reset, then("reschedule_form")]
        turn.say(
            "utter_reschedule_done",
            amount=format_money(moved.amount_cents),
            old_date=format_date(moved.old_date, turn.today),
            new_date=format_date(moved.new_date, turn.today),
        )
        return reset


class ValidateRescheduleForm(ServiceFormValidation):
    """Takes a date from the answer; whether it is allowed is the service's to say."""

    def name(self) -> str:
        return "validate_reschedule_form"

    async def extract_reschedule_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, SLOT):
            return {}
        text = latest_text(tracker)

        def parse(turn: Turn) -> date | None:
            payment = None
            if turn.account is not None:
                try:  # "a week later" counts from the date of the payment that will move
                    payment = payment_to_move(
                        turn.session, turn.account, today=turn.today, policy=policy()
                    )
                except ServiceError:
                    payment = next_due_payment(turn.session, turn.account)
            return requested_date(text, turn.today, payment.due_on if payment else None)

        when = await self.with_turn(dispatcher, tracker, parse)
        if when is not None:
            return {SLOT: when.isoformat()}
        if latest_intent(tracker) == "deny":
            return {SLOT: CANCELLED}
        return {SLOT: NOT_UNDERSTOOD} if answering(tracker) else {}

    async def validate_reschedule_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NOT_UNDERSTOOD:
            dispatcher.utter_message(response="utter_promise_date_not_understood")
            return {SLOT: None}
        return {SLOT: value}


class ActionAskRescheduleDate(BotAction):
    """The form's question, unless the reply just sent (a date refused or not understood)
    already asks for another date."""

    def name(self) -> str:
        return "action_ask_reschedule_date"

    def act(self, turn: Turn) -> list[EventType]:
        if not _asked_since_last_message(turn.tracker):
            turn.say("utter_reschedule_ask_date")
        return []


def _asked_since_last_message(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        # Rasa names the response a bot message came from in its metadata.
        names = {str(v) for v in (event.get("metadata") or {}).values()}
        if event.get("event") == "bot" and names & ASKING_AGAIN:
            return True
    return False
