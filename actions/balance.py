"""The balance and why it is what it is (verified people only)."""

from __future__ import annotations

from collections.abc import Sequence

from rasa_sdk.events import EventType

from actions.common import BotAction, Turn
from bot.domain.balance import ChargeKind, ChargeLine, asked_about
from bot.domain.dates import format_date
from bot.domain.money import format_money
from bot.services.balances import itemization
from bot.services.errors import OnHold
from bot.services.plans import ensure_collectible


class ActionCheckBalance(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_check_balance"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        item = itemization(turn.session, turn.account, turn.today)
        values = {
            "creditor": turn.account.creditor,
            "total": format_money(item.total_cents),
            "as_of": format_date(item.as_of, turn.today),
        }
        if item.total_cents <= 0:
            turn.say("utter_balance_zero", **values)
            return []
        turn.say("utter_balance", **values)
        if item.disputed_cents:
            turn.say("utter_balance_disputed", disputed=format_money(item.disputed_cents))
        try:
            ensure_collectible(turn.session, turn.account)
        except OnHold:  # a dispute, bankruptcy, attorney...: no plan or payment asked (rule 14)
            turn.say("utter_balance_next_on_hold")
        else:
            turn.say("utter_balance_next")
        return []


#: "What is this interest charge?": the response that answers for that part of the balance.
PART = {
    ChargeKind.INTEREST: "utter_itemization_interest",
    ChargeKind.FEE: "utter_itemization_fee",
    ChargeKind.PAYMENT: "utter_itemization_payment",
    ChargeKind.PRINCIPAL: "utter_itemization_principal",
}


class ActionItemization(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_itemization"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        item = itemization(turn.session, turn.account, turn.today)
        kind = asked_about(turn.text)
        if kind in PART:  # "what is this interest charge?": that part, and its lines
            turn.say(
                PART[kind],
                amount=format_money(item.part_cents(kind)),
                total=format_money(item.total_cents),
            )
            self._lines(turn, [line for line in item.charges if line.kind is kind])
            turn.say("utter_itemization_more")
            return []
        turn.say(
            "utter_itemization",
            total=format_money(item.total_cents),
            principal=format_money(item.principal_cents),
            interest=format_money(item.interest_cents),
            fees=format_money(item.fees_cents),
            payments=format_money(item.payments_cents),
        )
        if item.adjustments_cents:
            turn.say(
                "utter_itemization_adjustments", adjustments=format_money(item.adjustments_cents)
            )
        self._lines(turn, item.charges)
        turn.say("utter_itemization_more")
        return []

    @staticmethod
    def _lines(turn: Turn, lines: Sequence[ChargeLine]) -> None:
        for line in lines:
            turn.say(
                "utter_charge_line",
                posted_on=format_date(line.posted_on, turn.today),
                description=line.description,
                amount=format_money(line.amount_cents),
            )
