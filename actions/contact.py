"""How and whether we contact the debtor: stop, preferences, wrong number (rules 4, 9-11)."""

from __future__ import annotations

from rasa_sdk.events import ConversationPaused, EventType

from actions.common import BotAction, Turn, settings
from bot.domain.contact import Channel
from bot.domain.dates import format_clock
from bot.domain.preferences import parse_preference
from bot.services.consent import ConsentAction, preference_of, record_consent, set_preference

#: How a channel is named to the debtor.
CHANNEL_WORDS = {Channel.SMS: "text", Channel.EMAIL: "email", Channel.VOICE: "phone"}


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
        # What this message names changes; the rest of what the debtor asked for stays.
        wanted = change.applied_to(preference_of(turn.session, turn.account.id))
        set_preference(
            turn.session,
            turn.account,
            actor="debtor",
            channels=wanted.channels,
            earliest=wanted.earliest,
            latest=wanted.latest,
            avoid_work_hours=wanted.avoid_work_hours,
            avoid_weekends=wanted.avoid_weekends,
            note=turn.text[:300],
            conversation_id=turn.conversation.id,
        )
        # The whole preference as it now stands, so a kept part is not a surprise later.
        turn.say("utter_preference_saved")
        if wanted.earliest or wanted.latest:
            turn.say(
                "utter_preference_saved_hours",
                earliest=format_clock(wanted.earliest) if wanted.earliest else "8:00 AM",
                latest=format_clock(wanted.latest) if wanted.latest else "9:00 PM",
            )
        if wanted.channels:
            words = sorted(CHANNEL_WORDS.get(c, c.value) for c in wanted.channels)
            turn.say("utter_preference_saved_channel", channels=" or ".join(words))
        if wanted.avoid_work_hours:
            turn.say("utter_preference_saved_work")
        if wanted.avoid_weekends:
            turn.say("utter_preference_saved_weekends")
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
