"""How and whether we contact the debtor: stop, preferences, wrong number (rules 4, 9-11)."""

from __future__ import annotations

from rasa_sdk.events import ConversationPaused, EventType

from actions.common import BotAction, Turn, settings
from bot.domain.contact import Channel
from bot.domain.preferences import parse_preference
from bot.services.consent import ConsentAction, record_consent, set_preference


def sms_address(turn: Turn) -> str | None:
    """The phone number this conversation's opt-out applies to."""
    if turn.conversation.channel == "sms":
        return turn.conversation.address
    return turn.account.phone if turn.account is not None and turn.verified else None


class ActionStopContact(BotAction):
    """A plain-language opt-out that reached the model (the gateway catches most first)."""

    def name(self) -> str:
        return "action_stop_contact"

    def act(self, turn: Turn) -> list[EventType]:
        address = sms_address(turn)
        if address is not None:
            record_consent(
                turn.session,
                address,
                Channel.SMS,
                ConsentAction.OPT_OUT,
                source="language",
                account_id=turn.conversation.account_id,
                conversation_id=turn.conversation.id,
                now=turn.now,
            )
        turn.say("utter_opt_out_confirmed", support_phone=settings().support_phone)
        return [ConversationPaused()]


class ActionContactPreference(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_contact_preference"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        change = parse_preference(turn.text)
        if change.empty:
            turn.say("utter_preference_not_understood")
            return []
        set_preference(
            turn.session,
            turn.account,
            actor="debtor",
            channels=change.channels,
            earliest=change.earliest,
            latest=change.latest,
            avoid_work_hours=change.avoid_work_hours,
            note=turn.text[:300],
            conversation_id=turn.conversation.id,
        )
        if change.earliest or change.latest:
            turn.say(
                "utter_preference_saved_hours",
                earliest=change.earliest.strftime("%-I:%M %p") if change.earliest else "8:00 AM",
                latest=change.latest.strftime("%-I:%M %p") if change.latest else "9:00 PM",
            )
        if change.channels:
            turn.say(
                "utter_preference_saved_channel", channels=" and ".join(sorted(change.channels))
            )
        if change.avoid_work_hours:
            turn.say("utter_preference_saved_work")
        return []


class ActionWrongNumber(BotAction):
    def name(self) -> str:
        return "action_wrong_number"

    def act(self, turn: Turn) -> list[EventType]:
        if turn.conversation.channel == "sms":
            record_consent(
                turn.session,
                turn.conversation.address,
                Channel.SMS,
                ConsentAction.WRONG_NUMBER,
                source="language",
                account_id=turn.conversation.account_id,
                conversation_id=turn.conversation.id,
                now=turn.now,
            )
        turn.say("utter_wrong_number")
        return [ConversationPaused()]
