"""Identity verification (compliance rules 1-3): the verify_form, its validation, and the
attempt recorded by the verification service."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, settings
from actions.flows import then
from actions.forms import ServiceFormValidation, answering, latest_text, requested
from bot.domain.dates import parse_dob
from bot.domain.verification import Answers, Outcome, parse_ssn_last4, parse_zip
from bot.services.errors import NotFound, VerificationLocked
from bot.services.verification import attempt, find_account

_KEYWORDS_SECOND = ("ssn", "social", "zip", "last 4", "last four", "postal")


class ValidateVerifyForm(ServiceFormValidation):
    def name(self) -> str:
        return "validate_verify_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        has_account = await self.with_turn(
            dispatcher, tracker, lambda turn: turn.conversation.account_id is not None
        )
        return [s for s in domain_slots if s != "account_lookup" or not has_account]

    # -- extraction: a person may give several details in one message
    async def extract_account_lookup(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "account_lookup"):
            return {}
        return {"account_lookup": latest_text(tracker).strip()[:64]}

    async def extract_verify_dob(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if requested(tracker, "account_lookup"):
            return {}
        found = parse_dob(latest_text(tracker), date.today())
        if found is not None:
            return {"verify_dob": found.isoformat()}
        return (
            {"verify_dob": "?"} if requested(tracker, "verify_dob") and answering(tracker) else {}
        )

    async def extract_verify_second(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        asked = requested(tracker, "verify_second")
        if not asked and not any(k in text.lower() for k in _KEYWORDS_SECOND):
            return {}
        value = parse_zip(text) or parse_ssn_last4(text)
        if value is not None:
            return {"verify_second": value}
        return {"verify_second": "?"} if asked and answering(tracker) else {}

    # -- validation
    async def validate_account_lookup(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"account_lookup": None}

        def link(turn: Turn) -> bool:
            account = find_account(turn.session, str(value or ""))
            if account is None:
                return False
            turn.conversation.account_id = account.id
            return True

        if await self.with_turn(dispatcher, tracker, link):
            return {"account_lookup": "found"}
        dispatcher.utter_message(response="utter_account_not_found")
        return {"account_lookup": None}

    async def validate_verify_dob(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"verify_dob": None}
        if value == "?":
            dispatcher.utter_message(response="utter_dob_not_understood")
            return {"verify_dob": None}
        return {"verify_dob": value}

    async def validate_verify_second(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"verify_second": None}
        if value == "?":
            dispatcher.utter_message(response="utter_second_not_understood")
            return {"verify_second": None}
        return {"verify_second": value}


class ActionVerifyIdentity(BotAction):
    """The verify_form is complete: check the details, then carry on with what was asked."""

    def name(self) -> str:
        return "action_verify_identity"

    def act(self, turn: Turn) -> list[EventType]:
        dob_text = turn.tracker.get_slot("verify_dob")
        second = str(turn.tracker.get_slot("verify_second") or "")
        answers = Answers(
            date_of_birth=date.fromisoformat(dob_text) if dob_text else None,
            zip=second if len(second) == 5 else None,
            ssn_last4=second if len(second) == 4 else None,
        )
        try:
            result = attempt(turn.session, turn.conversation, answers, now=turn.now)
        except (VerificationLocked, NotFound):  # locked meanwhile, or no account to check
            turn.say("utter_verification_locked", support_phone=settings().support_phone)
            return [SlotSet("verify_dob", None), SlotSet("verify_second", None)]
        cleared = [SlotSet("verify_dob", None), SlotSet("verify_second", None)]
        if result.outcome is Outcome.VERIFIED and turn.account is not None:
            turn.say("utter_verified", first_name=turn.account.first_name)
            if settings().third_party:
                turn.say("utter_third_party_disclosure")
            pending = turn.tracker.get_slot("pending_action")
            if pending:  # it clears pending_action and pending_request when it runs
                return [*cleared, then(pending)]
            turn.say("utter_how_can_i_help")
            return cleared
        if result.locked:
            turn.say("utter_verification_locked", support_phone=settings().support_phone)
            return [*cleared, SlotSet("pending_action", None), SlotSet("pending_request", None)]
        mismatch = (
            "utter_verify_mismatch_last" if result.attempts_left == 1 else "utter_verify_mismatch"
        )
        turn.say(mismatch, attempts_left=result.attempts_left)
        return [*cleared, then("verify_form")]
