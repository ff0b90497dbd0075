"""Pay now: a signed payment link, never card numbers in chat."""

from __future__ import annotations

from rasa_sdk.events import EventType

from actions.common import BotAction, Turn, settings
from bot.domain.money import parse_amount
from bot.services.payments import payment_link
from bot.services.plans import collectible_cents


def link_for(turn: Turn, amount_cents: int) -> str:
    assert turn.account is not None
    s = settings()
    return payment_link(
        turn.session,
        turn.account,
        amount_cents=amount_cents,
        base_url=s.public_base_url or "http://127.0.0.1:5000",
        secret_key=s.secret_key,
        now=turn.now,
        conversation_id=turn.conversation.id,
    )


class ActionPaymentLink(BotAction):
    requires_verification = True
    collects = True

    def name(self) -> str:
        return "action_payment_link"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        balance = collectible_cents(turn.session, turn.account, turn.today)
        asked = parse_amount(turn.text) if turn.entity("amount") else None
        amount = asked if asked and 0 < asked <= balance else balance
        turn.say("utter_payment_link", link=link_for(turn, amount))
        return []
