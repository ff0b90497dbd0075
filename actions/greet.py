"""Greeting, who-is-this and are-you-a-bot: the company and purpose, never the debt."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions.common import BotAction, Turn, ask_to_verify, settings


class ActionGreet(BotAction):
    def name(self) -> str:
        return "action_greet"

    def act(self, turn: Turn) -> list[EventType]:
        if turn.verified and turn.account is not None:
            turn.say("utter_greet_back", first_name=turn.account.first_name)
            return []
        turn.say("utter_greet", company_name=settings().company_name)
        return ask_to_verify(turn, pending=None, explain=False)  # the greeting said why


class ActionAskWho(BotAction):
    def name(self) -> str:
        return "action_ask_who"

    def act(self, turn: Turn) -> list[EventType]:
        s = settings()
        turn.say("utter_ask_who", company_name=s.company_name, support_phone=s.support_phone)
        return []


class ActionHelp(BotAction):
    """What the assistant can do: the whole menu once verified; before, nothing that says a
    debt exists (rule 1)."""

    def name(self) -> str:
        return "action_help"

    def act(self, turn: Turn) -> list[EventType]:
        turn.say("utter_help_verified" if turn.verified else "utter_help")
        return []
