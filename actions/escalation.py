"""Escalations (compliance rules 15-17): a person on request, attorney, bankruptcy, distress,
deceased, anger, repeated misunderstanding. Each records what it must through the services,
says one careful thing, hands off with a reason code and pauses the bot."""

from __future__ import annotations

from abc import abstractmethod

from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet

from actions.common import BotAction, Turn, settings
from bot.domain.contact import HoldReason
from bot.services.cases import hold_for_escalation
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, handoff_reply, request_handoff

HANDOFF_RESPONSES = {
    HandoffReason.HUMAN_REQUEST: "utter_handoff_human",
    HandoffReason.FALLBACK: "utter_handoff_fallback",
}


def handoff_events(turn: Turn, reason: HandoffReason, *, say: bool = True) -> list[EventType]:
    """Record the handoff, tell the debtor (unless already told), pause the bot."""
    request_handoff(turn.session, turn.conversation, reason, now=turn.now)
    if say:
        response = HANDOFF_RESPONSES.get(reason, "utter_handoff_generic")
        response, when = handoff_reply(response, settings().team, turn.now)
        turn.say(response, **when)
    return [ActiveLoop(None), SlotSet("requested_slot", None), ConversationPaused()]


class ActionHandoff(BotAction):
    def name(self) -> str:
        return "action_handoff"

    def act(self, turn: Turn) -> list[EventType]:
        return handoff_events(turn, HandoffReason.HUMAN_REQUEST)


class EscalationAction(BotAction):
    """Hold the account (when known) for `hold`, say `response`, hand off for `reason`."""

    hold: HoldReason
    reason: HandoffReason
    response: str

    @abstractmethod
    def name(self) -> str: ...

    def act(self, turn: Turn) -> list[EventType]:
        if turn.account is not None:
            hold_for_escalation(
                turn.session,
                turn.account,
                self.hold,
                actor="bot",
                conversation_id=turn.conversation.id,
            )
        turn.say(self.response, support_phone=settings().support_phone)
        return handoff_events(turn, self.reason, say=False)


class ActionAttorney(EscalationAction):
    hold, reason, response = HoldReason.ATTORNEY, HandoffReason.ATTORNEY, "utter_attorney"

    def name(self) -> str:
        return "action_attorney"


class ActionBankruptcy(EscalationAction):
    hold, reason, response = HoldReason.BANKRUPTCY, HandoffReason.BANKRUPTCY, "utter_bankruptcy"

    def name(self) -> str:
        return "action_bankruptcy"


class ActionDistress(EscalationAction):
    hold, reason, response = HoldReason.DISTRESS, HandoffReason.DISTRESS, "utter_distress"

    def name(self) -> str:
        return "action_distress"


class ActionDeceased(EscalationAction):
    hold, reason, response = HoldReason.DECEASED, HandoffReason.DECEASED, "utter_deceased"

    def name(self) -> str:
        return "action_deceased"


COMPLAINT_WORDS = ("complaint", "complain", "report you", "cfpb", "attorney general", "bbb")


class ActionDeescalate(BotAction):
    """One de-escalation attempt; a second outburst, or a formal complaint, hands off."""

    def name(self) -> str:
        return "action_deescalate"

    def act(self, turn: Turn) -> list[EventType]:
        earlier = sum(
            1
            for e in turn.tracker.events
            if e.get("event") == "user"
            and (e.get("parse_data") or {}).get("intent", {}).get("name") == "express_frustration"
        )
        complaint = any(w in turn.text.lower() for w in COMPLAINT_WORDS)
        if complaint:
            record_event(
                turn.session,
                EventKind.COMPLAINT,
                actor="debtor",
                conversation_id=turn.conversation.id,
                account_id=turn.conversation.account_id,
                data={"channel": turn.conversation.channel},
                at=turn.now,
            )
            return handoff_events(turn, HandoffReason.COMPLAINT)
        if earlier >= 2:  # this message is the second one
            return handoff_events(turn, HandoffReason.ANGER)
        turn.say("utter_deescalate")
        return []


#: What the assistant could not help with: not understood, or outside what it does.
MISUNDERSTOOD = frozenset({"nlu_fallback", "out_of_scope"})


class ActionFallback(BotAction):
    """Not understood (or not something it can do): say so and what it can do; two such
    turns in a row hand off (compliance rule 17)."""

    def name(self) -> str:
        return "action_fallback"

    def act(self, turn: Turn) -> list[EventType]:
        user_intents = [
            (e.get("parse_data") or {}).get("intent", {}).get("name")
            for e in turn.tracker.events
            if e.get("event") == "user"
        ]
        if len(user_intents) >= 2 and set(user_intents[-2:]) <= MISUNDERSTOOD:
            return handoff_events(turn, HandoffReason.FALLBACK)
        if user_intents and user_intents[-1] == "out_of_scope":
            turn.say("utter_out_of_scope_verified" if turn.verified else "utter_out_of_scope")
        else:
            turn.say("utter_ask_rephrase")
        return []
