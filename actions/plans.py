"""Payment plans and settlement: numbered options from the plan service, a choice in the
debtor's own words, an explicit summary and YES before anything is recorded."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import BotAction, Turn, describe_limit, policy
from actions.escalation import handoff_events
from actions.flows import then
from actions.forms import (
    ASKED_AGAIN,
    AskUnlessAsked,
    ServiceFormValidation,
    answering,
    asked_again,
    latest_text,
    yes_no,
)
from actions.payment import link_for
from actions.promises import start_promise
from bot.domain.dates import format_date, parse_frequency, parse_when
from bot.domain.money import format_money, parse_amount
from bot.domain.plans import (
    PlanOption,
    PolicyViolation,
    SplitRequest,
    check_settlement,
    choose_option,
    parse_split,
    settlement_floor_cents,
)
from bot.domain.promises import parse_promise
from bot.services.errors import Conflict, OnHold
from bot.services.handoff import HandoffReason
from bot.services.plans import (
    accept_plan,
    collectible_cents,
    custom_plan,
    next_installment,
    open_promises,
    plan_options,
)

FREQUENCY_WORDS = {
    "once": "once",
    "weekly": "a week",
    "biweekly": "every 2 weeks",
    "monthly": "a month",
}
#: Refusals whose reply names an amount that would work ("Could you manage that?").
NAMES_AN_AMOUNT = ("too_long", "below_minimum")
VIOLATION_RESPONSES = {
    "below_minimum": "utter_plan_below_minimum",
    "too_long": "utter_plan_too_long",
    "first_payment_too_late": "utter_plan_first_too_late",
    "first_payment_in_past": "utter_plan_first_in_past",
    "frequency_not_allowed": "utter_plan_frequency_not_allowed",
}


def option_to_slot(option: PlanOption) -> dict[str, Any]:
    """What the slot keeps of an option: enough to rebuild it exactly at confirmation."""
    return {
        "key": option.key,
        "kind": option.kind,
        "frequency": option.frequency,
        "per_payment_cents": option.per_payment_cents,
        "count": option.count,
        "first_due": option.first_due.isoformat(),
        "total_cents": option.total_cents,
        "balance_cents": option.balance_cents,
    }


def say_options(turn: Turn, options: list[PlanOption], *, hardship: bool) -> None:
    balance = options[0].balance_cents
    turn.say(
        "utter_plan_intro_hardship" if hardship else "utter_plan_intro",
        balance=format_money(balance),
    )
    for n, option in enumerate(options, start=1):
        values = {
            "n": n,
            "amount": format_money(
                option.per_payment_cents if option.count > 1 else option.total_cents
            ),
            "count": option.count,
            "first_due": format_date(option.first_due, turn.today),
            "discount": format_money(option.discount_cents),
        }
        if option.kind == "settlement":
            turn.say("utter_plan_option_settlement", **values)
        elif option.count == 1:
            today = option.first_due == turn.today  # "Pay $502.50 in full today"
            turn.say(
                "utter_plan_option_full_today" if today else "utter_plan_option_full", **values
            )
        else:
            turn.say(f"utter_plan_option_{option.frequency}", **values)


def rebuild(turn: Turn, choice: dict[str, Any]) -> PlanOption:
    """The option the debtor chose, recomputed from today's balance and policy."""
    assert turn.account is not None
    offered = {
        o.key: o
        for o in plan_options(turn.session, turn.account, today=turn.today, policy=policy())
    }
    if choice["key"] in offered:
        return offered[choice["key"]]
    if choice["kind"] == "settlement":
        balance = collectible_cents(turn.session, turn.account, turn.today)
        return check_settlement(
            balance, choice["total_cents"], turn.account.delinquent_since, turn.today, policy()
        )
    return custom_plan(
        turn.session,
        turn.account,
        today=turn.today,
        policy=policy(),
        amount_cents=choice["per_payment_cents"],
        frequency=choice["frequency"],
        first_due=date.fromisoformat(choice["first_due"]),
    )


def split_plan(turn: Turn, balance_cents: int, split: SplitRequest | None) -> PlanOption | None:
    """The plan a split asks for ("half now and half next month"), or None: no split asked,
    or one the policy does not take (the options are offered instead)."""
    if split is None:
        return None
    assert turn.account is not None
    try:
        return custom_plan(
            turn.session, turn.account, today=turn.today, policy=policy(),
            amount_cents=split.part_cents(balance_cents), frequency=split.frequency,
            first_due=split.first_due(turn.today),
        )  # fmt: skip
    except PolicyViolation:
        return None


class ActionOfferPlans(BotAction):
    requires_verification = True
    collects = True

    def name(self) -> str:
        return "action_offer_plans"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        options = plan_options(turn.session, turn.account, today=turn.today, policy=policy())
        if not options:
            turn.say("utter_plan_nothing_due")
            return []
        split = parse_split(turn.text)
        said = parse_promise(turn.text, turn.today)
        if split is None and said.rest_on is not None:
            # "Can I pay half now and the rest on the 20th?": two dated payments, which is
            # two promises, not a plan of equal installments
            return start_promise(turn, said)
        current = next_installment(turn.session, turn.account)
        if current is not None:
            turn.say(
                "utter_plan_existing",
                amount=format_money(current.amount_cents),
                next_due=format_date(current.due_on, turn.today),
            )
        for promise in open_promises(turn.session, turn.account):
            turn.say(
                "utter_plan_existing_promise",
                amount=format_money(promise.amount_cents),
                due_on=format_date(promise.due_on, turn.today),
            )
        # "Can I pay half now and half next month?": that plan, to confirm, when the policy
        # takes it; otherwise the options.
        asked = split_plan(turn, options[0].balance_cents, split)
        if asked is None:
            say_options(turn, options, hardship=any(o.kind == "hardship" for o in options))
        return [
            SlotSet("plan_offer", [option_to_slot(o) for o in options]),
            SlotSet("plan_choice", asked and option_to_slot(asked)),
            SlotSet("plan_confirm", None),
            SlotSet("plan_suggested", None),
            SlotSet(ASKED_AGAIN, None),
            then("plan_form"),
        ]


class ValidatePlanForm(ServiceFormValidation):
    def name(self) -> str:
        return "validate_plan_form"

    async def extract_plan_choice(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "plan_choice":
            return {}
        text = latest_text(tracker)
        suggested = tracker.get_slot("plan_suggested")

        def choose(turn: Turn) -> dict[str, Any] | tuple[str, dict[str, Any] | None] | None:
            assert turn.account is not None
            if isinstance(suggested, dict) and yes_no(tracker):
                # "yes" to "The smallest payment that fits is $X. Could you manage that?"
                return option_to_slot(rebuild(turn, suggested))
            options = plan_options(turn.session, turn.account, today=turn.today, policy=policy())
            picked = choose_option(text, options)
            if picked is not None:
                return option_to_slot(picked)
            amount = parse_amount(text)
            frequency = parse_frequency(text)
            when = parse_when(text, turn.today)
            split = parse_split(text) if amount is None else None
            if split is not None:  # "half now and half next month"
                amount = split.part_cents(options[0].balance_cents)
                frequency, when = (split.frequency, None), split.first_due(turn.today)
            if amount is None and frequency is None and when is None:
                return None
            how_often = frequency[0] if frequency else "monthly"

            def plan_of(amount_cents: int | None) -> dict[str, Any]:
                return option_to_slot(
                    custom_plan(
                        turn.session,
                        turn.account,
                        today=turn.today,
                        policy=policy(),
                        amount_cents=amount_cents,
                        frequency=how_often,
                        first_due=when,
                    )
                )

            try:
                return plan_of(amount or options[1 if len(options) > 1 else 0].per_payment_cents)
            except PolicyViolation as exc:
                turn.say(
                    VIOLATION_RESPONSES.get(exc.code, "utter_plan_choice_not_understood"),
                    limit=describe_limit(exc.limit, turn.today),
                    fits=format_money(exc.fits) if exc.fits is not None else "",
                    every=FREQUENCY_WORDS[how_often],
                )
                # The amount the reply names ("Could you manage that?"), kept so that "yes"
                # takes it: the same smallest payment whether too little or too long.
                named = exc.fits if exc.code == "too_long" else exc.limit
                if exc.code not in NAMES_AN_AMOUNT or not isinstance(named, int):
                    return "refused", None
                return "refused", plan_of(named)

        result = await self.with_turn(dispatcher, tracker, choose)
        if isinstance(result, dict):
            return {"plan_choice": result}
        if isinstance(result, tuple):  # validate_plan_choice keeps what the refusal named
            return {"plan_choice": {"refused": result[1]}}
        return {"plan_choice": "?"} if answering(tracker) else {}

    async def validate_plan_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if isinstance(value, dict) and "refused" in value:  # the refusal asked again
            return asked_again(plan_choice=None, plan_suggested=value["refused"])
        if not isinstance(value, dict):
            if value == "?":
                dispatcher.utter_message(response="utter_plan_choice_not_understood")
                return asked_again(plan_choice=None)
            return {"plan_choice": None}
        return {"plan_choice": value, "plan_suggested": None}

    async def extract_plan_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "plan_confirm":
            return {}
        answer = yes_no(tracker)
        return {} if answer is None else {"plan_confirm": answer}

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # The summary is shown once a choice is made, right before asking to confirm.
        return domain_slots


class ActionAcceptPlan(BotAction):
    requires_verification = True

    def name(self) -> str:
        return "action_accept_plan"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        choice = turn.tracker.get_slot("plan_choice")
        reset = [SlotSet("plan_choice", None), SlotSet("plan_confirm", None)]
        if not turn.tracker.get_slot("plan_confirm") or not isinstance(choice, dict):
            turn.say("utter_plan_not_recorded")  # "...Which option would you like instead?"
            return [*reset, SlotSet(ASKED_AGAIN, True), then("plan_form")]
        try:
            option = rebuild(turn, choice)
            plan = accept_plan(
                turn.session,
                turn.account,
                option,
                today=turn.today,
                now=turn.now,
                actor="bot",
                conversation_id=turn.conversation.id,
            )
        except OnHold:
            turn.say("utter_on_hold")
            return reset
        except (Conflict, PolicyViolation):
            turn.say("utter_plan_changed_balance")
            return [*reset, then("action_offer_plans")]
        first = plan.installments[0]
        turn.say(
            _by_shape(option, "utter_plan_recorded"),
            amount=format_money(first.amount_cents),
            first_due=format_date(first.due_on, turn.today),
            balance=format_money(option.balance_cents),
        )
        if first.due_on <= turn.today:  # due today ("half now..."): the way to pay it
            turn.say("utter_payment_link", link=link_for(turn, first.amount_cents))
        return [*reset, SlotSet("plan_offer", None)]


def _by_shape(option: PlanOption, response: str) -> str:
    """The wording for a settlement, one payment of the whole balance, or installments."""
    if option.kind == "settlement":
        return f"{response}_settlement"
    return f"{response}_once" if option.count == 1 else response


class ActionAskPlanChoice(AskUnlessAsked):
    slot = "plan_choice"

    def name(self) -> str:
        return "action_ask_plan_choice"


class ActionAskPlanConfirm(BotAction):
    """Asked by the form for `plan_confirm`: the explicit summary of what will be recorded."""

    def name(self) -> str:
        return "action_ask_plan_confirm"

    def act(self, turn: Turn) -> list[EventType]:
        choice = turn.tracker.get_slot("plan_choice")
        if not isinstance(choice, dict):
            return []
        option = rebuild(turn, choice)
        turn.say(
            _by_shape(option, "utter_plan_summary"),
            amount=format_money(
                option.per_payment_cents if option.count > 1 else option.total_cents
            ),
            frequency_words=FREQUENCY_WORDS[option.frequency],
            balance=format_money(option.balance_cents),
            count=option.count,
            first_due=format_date(option.first_due, turn.today),
            last_due=format_date(option.last_due, turn.today),
            total=format_money(option.total_cents),
        )
        return []


class ActionSettlement(BotAction):
    requires_verification = True
    collects = True

    def name(self) -> str:
        return "action_settlement"

    def act(self, turn: Turn) -> list[EventType]:
        assert turn.account is not None
        balance = collectible_cents(turn.session, turn.account, turn.today)
        floor = settlement_floor_cents(balance, turn.account.delinquent_since, turn.today, policy())
        if floor is None:
            turn.say("utter_settlement_unavailable")
            return [then("action_offer_plans")]
        offered = parse_amount(turn.text) if turn.entity("amount") else None
        if offered is not None and offered < floor:
            turn.say("utter_settlement_below_floor")
            return handoff_events(turn, HandoffReason.SETTLEMENT, say=False)
        option = check_settlement(
            balance,
            max(offered or floor, floor),
            turn.account.delinquent_since,
            turn.today,
            policy(),
        )
        turn.say(
            "utter_settlement_offer",
            balance=format_money(balance),
            amount=format_money(option.total_cents),
            first_due=format_date(option.last_due, turn.today),
            discount=format_money(option.discount_cents),
        )
        return [
            SlotSet("plan_offer", [option_to_slot(option)]),
            SlotSet("plan_choice", option_to_slot(option)),
            SlotSet("plan_confirm", None),
            then("plan_form"),
        ]
