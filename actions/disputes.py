"""Disputes and validation requests (compliance rule 14): which charge, the reason, a reference
number, and the hold explained."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn
from actions.flows import then
from actions.forms import (
    ASKED_AGAIN,
    AskUnlessAsked,
    ServiceFormValidation,
    answering,
    asked_again,
    latest_text,
    requested,
)
from bot.domain.dates import format_date
from bot.domain.money import format_money
from bot.services.balances import charge_lines
from bot.services.cases import (
    RESPONSE_BUSINESS_DAYS,
    DisputeReason,
    ValidationKind,
    open_dispute,
    request_validation,
)

SLOTS = ("dispute_target", "dispute_reason", "dispute_charges")
_ALL = re.compile(r"\b(all|everything|whole|entire|the debt|all of it|none of it)\b", re.I)
_NUMBER = re.compile(r"^\D*(\d{1,2})\D*$")
REASON_WORDS: tuple[tuple[DisputeReason, tuple[str, ...]], ...] = (
    (DisputeReason.IDENTITY_THEFT, ("identity", "stole", "stolen", "fraud", "someone else opened")),
    (DisputeReason.ALREADY_PAID, ("paid", "payed", "settled", "receipt")),
    (
        DisputeReason.WRONG_AMOUNT,
        ("amount", "too much", "wrong", "overcharg", "incorrect", "double"),
    ),
    (
        DisputeReason.NOT_MINE,
        ("not mine", "not my", "never", "don't know", "dont know", "don't recognize"),
    ),
)


#: Words that name no charge in particular ("the ER visit", "this fee").
_GENERIC = frozenset({"visit", "charge", "charges", "fee", "fees", "the", "of", "and", "for"})


def names_charge(text: str, description: str) -> bool:
    """Does the debtor's text name this charge? Every telling word of its description is
    there: "the late fee" names "Late fee", "the emergency room bill" names "Emergency room
    visit"; "the fee" names none."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    telling = set(re.findall(r"[a-z]+", description.lower())) - _GENERIC
    return bool(telling) and telling <= words


def reason_from(text: str, entity: str | None) -> DisputeReason | None:
    if entity:
        try:
            return DisputeReason(entity)
        except ValueError:
            pass
    lowered = text.lower()
    for reason, words in REASON_WORDS:
        if any(w in lowered for w in words):
            return reason
    return None


class ActionStartDispute(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_start_dispute"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        lines = [
            c for c in charge_lines(turn.session, turn.account.id) if c.kind.value != "payment"
        ]
        events: list[EventType] = [SlotSet(s, None) for s in (*SLOTS, ASKED_AGAIN)]
        reason = reason_from(turn.text, turn.entity("dispute_reason"))
        if reason:
            events.append(SlotSet("dispute_reason", reason.value))
        ids = [c.charge_id for c in lines]
        named = [c for c in lines if names_charge(turn.text, c.description)]
        if len(named) == 1:  # "I want to dispute the late fee": that one, no list
            line = named[0]
            turn.say(
                "utter_dispute_charge_named",
                description=line.description,
                amount=format_money(line.amount_cents),
                posted_on=format_date(line.posted_on, turn.today),
            )
            events += [
                SlotSet("dispute_charges", ids),
                SlotSet("dispute_target", str(line.charge_id)),
            ]
            return [*events, then("dispute_form")]
        # Said again while choosing ("I already paid it"): the list is already on screen, so
        # only the form's question follows (with the reason, if this message gave one).
        shown = (
            turn.tracker.active_loop.get("name") == "dispute_form"
            and turn.tracker.get_slot("dispute_charges") == ids
        )
        if lines and not shown:
            turn.say("utter_dispute_intro")
            for n, line in enumerate(lines, start=1):
                turn.say(
                    "utter_charge_line",
                    posted_on=f"{n}) {format_date(line.posted_on, turn.today)}",
                    description=line.description,
                    amount=format_money(line.amount_cents),
                )
        if lines:
            events.append(SlotSet("dispute_charges", ids))
        else:
            events.append(SlotSet("dispute_target", "all"))
        return [*events, then("dispute_form")]


class ActionAskDisputeTarget(AskUnlessAsked):
    slot = "dispute_target"

    def name(self) -> str:
        return "action_ask_dispute_target"


class ValidateDisputeForm(ServiceFormValidation):
    def name(self) -> str:
        return "validate_dispute_form"

    async def extract_dispute_target(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "dispute_target"):
            return {}
        text = latest_text(tracker)
        charges = tracker.get_slot("dispute_charges") or []
        if _ALL.search(text):
            return {"dispute_target": "all"}
        if (m := _NUMBER.match(text)) and 1 <= int(m.group(1)) <= len(charges):
            return {"dispute_target": str(charges[int(m.group(1)) - 1])}
        return {"dispute_target": "?"} if answering(tracker) else {}

    async def validate_dispute_target(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"dispute_target": None}
        if value == "?":
            dispatcher.utter_message(response="utter_dispute_target_not_understood")
            return asked_again(dispute_target=None)
        return {"dispute_target": value}

    async def extract_dispute_reason(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not requested(tracker, "dispute_reason"):
            return {}
        entity = next(tracker.get_latest_entity_values("dispute_reason"), None)
        reason = reason_from(latest_text(tracker), entity)
        if reason:
            return {"dispute_reason": reason.value}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if answering(tracker) or intent == "dispute_charge":
            return {"dispute_reason": DisputeReason.OTHER.value}
        return {}


class ActionOpenDispute(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_open_dispute"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        target = turn.tracker.get_slot("dispute_target")
        charge_id = None if target in (None, "all") else int(target)
        dispute = open_dispute(
            turn.session,
            turn.account,
            DisputeReason(turn.tracker.get_slot("dispute_reason") or "other"),
            actor="debtor",
            now=turn.now,
            charge_id=charge_id,
            detail=turn.text[:500],
            conversation_id=turn.conversation.id,
        )
        if dispute.created_at != turn.now:  # open_dispute found the same one already open
            turn.say("utter_dispute_already_open", reference=dispute.reference)
            return [SlotSet(s, None) for s in SLOTS]
        turn.say(
            "utter_dispute_recorded_charge" if charge_id else "utter_dispute_recorded_account",
            reference=dispute.reference,
            days=RESPONSE_BUSINESS_DAYS,
        )
        return [SlotSet(s, None) for s in SLOTS]


class ActionRequestValidation(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_request_validation"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        asks_creditor = "creditor" in turn.text.lower() or "original" in turn.text.lower()
        kind = ValidationKind.ORIGINAL_CREDITOR if asks_creditor else ValidationKind.VALIDATION
        request = request_validation(
            turn.session,
            turn.account,
            kind,
            actor="debtor",
            now=turn.now,
            conversation_id=turn.conversation.id,
        )
        turn.say(
            "utter_original_creditor_recorded" if asks_creditor else "utter_validation_recorded",
            reference=request.reference,
            days=RESPONSE_BUSINESS_DAYS,
        )
        return []
