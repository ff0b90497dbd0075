"""action_offer_plans, validate_plan_form and action_accept_plan."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from actions.common import policy
from actions.plans import (
    ActionAcceptPlan,
    ActionAskPlanChoice,
    ActionAskPlanConfirm,
    ActionOfferPlans,
    ValidatePlanForm,
)
from bot.db import utcnow
from bot.models import PaymentPlan, Promise
from bot.services.cases import DisputeReason, HardshipCategory, open_dispute, record_hardship
from bot.services.plans import record_promise
from bot.wording import render
from tests.actions.conftest import GATE_CLEARED, responses, slot


def offer(verified, make_tracker, run_action):
    events, dispatcher = run_action(
        ActionOfferPlans(), make_tracker(verified, text="can i get a plan", intent="ask_plan")
    )
    return events, dispatcher


def plan_form_tracker(make_tracker, conversation, text, **slots):
    return make_tracker(
        conversation,
        text=text,
        slots={"requested_slot": "plan_choice", **slots},
        active_loop="plan_form",
    )


def test_offer_lists_numbered_options_and_opens_the_plan_form(verified, make_tracker, run_action):
    events, dispatcher = offer(verified, make_tracker, run_action)

    names = responses(dispatcher)
    assert names[0] == "utter_plan_intro"
    assert dispatcher.messages[0]["balance"] == "$1,369.37"
    options = dispatcher.messages[1:]
    assert len(options) >= 2
    assert all(n.startswith("utter_plan_option_") for n in names[1:])
    assert names[1] == "utter_plan_option_full_today"  # "1) Pay $1,369.37 in full today"
    assert [m["n"] for m in options] == list(range(1, len(options) + 1))
    offered = events[3]["value"]
    assert events == [
        *GATE_CLEARED,
        slot("plan_offer", offered),
        slot("plan_choice", None),
        slot("plan_confirm", None),
        slot("plan_suggested", None),
        slot("asked_again", None),
        slot("followup", "plan_form"),
    ]
    assert len(offered) == len(options)
    assert all(o["balance_cents"] == 136937 for o in offered)


def test_half_now_and_half_next_month_is_that_plan_to_confirm_not_the_options(
    verified, debtor_today, make_tracker, run_action
):
    """'Can I pay half now and half next month?': two monthly payments from today, straight
    to 'To confirm', without a list of options that ignores what was asked."""
    tracker = make_tracker(
        verified, text="can I pay half now and half next month", intent="ask_plan"
    )
    events, dispatcher = run_action(ActionOfferPlans(), tracker)

    assert not [n for n in responses(dispatcher) if n.startswith("utter_plan_option_")]
    chosen = next(e["value"] for e in events if e.get("name") == "plan_choice")
    assert chosen["frequency"] == "monthly" and chosen["first_due"] == debtor_today.isoformat()
    assert (chosen["count"], chosen["per_payment_cents"], chosen["total_cents"]) == (
        2, 68469, 136937,
    )  # fmt: skip
    assert slot("followup", "plan_form") in events


def test_a_split_asked_for_among_the_options_is_that_plan(verified, make_tracker, run_action):
    offered = offer(verified, make_tracker, run_action)[0][3]["value"]
    tracker = plan_form_tracker(
        make_tracker, verified, "can i do it in 3 payments", plan_offer=offered
    )
    [event] = run_action(ValidatePlanForm(), tracker)[0][:1]
    assert event["name"] == "plan_choice"
    choice = event["value"]
    assert (choice["count"], choice["per_payment_cents"], choice["frequency"]) == (
        3, 45646, "monthly",
    )  # fmt: skip


def test_offer_on_an_account_under_dispute_says_on_hold_and_offers_nothing(
    session, verified, demo_account, make_tracker, run_action
):
    open_dispute(session, demo_account, DisputeReason.NOT_MINE, actor="debtor", now=utcnow())
    session.commit()

    events, dispatcher = offer(verified, make_tracker, run_action)

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_on_hold"]


def test_choice_by_number_picks_that_offered_option(verified, make_tracker, run_action):
    offer_events, _ = offer(verified, make_tracker, run_action)
    offered = offer_events[3]["value"]

    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "2", plan_offer=offered)
    )

    assert events == [slot("plan_choice", offered[1]), slot("plan_suggested", None)]
    assert dispatcher.messages == []


def test_amount_per_month_makes_a_custom_monthly_option(verified, make_tracker, run_action):
    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$150 a month")
    )

    choice = events[0]["value"]
    assert events == [slot("plan_choice", choice), slot("plan_suggested", None)]
    assert choice["frequency"] == "monthly"
    assert choice["per_payment_cents"] == 15000
    assert choice["count"] == 10  # 9 x $150 and the rest
    assert choice["total_cents"] == 136937
    assert dispatcher.messages == []


def test_amount_below_the_minimum_installment_is_refused_with_the_minimum(
    verified, make_tracker, run_action
):
    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$5 a month")
    )

    assert events[0] == slot("plan_choice", None)
    assert events[1]["name"] == "plan_suggested"  # what "yes" would take
    assert responses(dispatcher) == ["utter_plan_below_minimum"]
    # $25 is the policy's minimum, but $25 a month would take over 12 months on $1,369.37
    assert dispatcher.messages[0]["limit"] == "$114.11"


def test_a_plan_too_long_is_refused_with_the_smallest_payment_that_fits(
    verified, make_tracker, run_action
):
    """$50 every 2 weeks on $1,369.37 is 28 payments, over 12 months: the reply names what
    would work at that frequency rather than only asking for "a bit more"."""
    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$50 every 2 weeks")
    )

    assert events[0] == slot("plan_choice", None)
    assert events[1]["name"] == "plan_suggested"  # what "yes" would take
    assert responses(dispatcher) == ["utter_plan_too_long"]
    values = {k: v for k, v in dispatcher.messages[0].items() if k != "response"}
    assert render("utter_plan_too_long", **values) == (
        "That would take longer than our plans allow: 12 months at most. The smallest payment "
        "that fits is $52.66 every 2 weeks. Could you manage that, or pick one of the options?"
    )
    taken = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$52.66 every 2 weeks")
    )[0][0]["value"]
    assert (taken["frequency"], taken["per_payment_cents"]) == ("biweekly", 5266)


@pytest.mark.parametrize(
    ("asked", "named"),
    [("$50 every 2 weeks", 5266), ("$5 a month", 11411)],  # too long; below the minimum
)
def test_yes_to_the_amount_a_refusal_names_takes_it(
    verified, make_tracker, run_action, asked, named
):
    """ "Could you manage that?" "yes": the plan at the amount the bot just named, not "Sorry,
    I didn't catch which option"."""
    events, _ = run_action(ValidatePlanForm(), plan_form_tracker(make_tracker, verified, asked))
    suggested = next(e["value"] for e in events if e["name"] == "plan_suggested")
    assert suggested["per_payment_cents"] == named

    tracker = make_tracker(
        verified, text="yes", intent="affirm", active_loop="plan_form",
        slots={"requested_slot": "plan_choice", "plan_suggested": suggested},
    )  # fmt: skip
    events, dispatcher = run_action(ValidatePlanForm(), tracker)

    assert dispatcher.messages == []
    choice = next(e["value"] for e in events if e["name"] == "plan_choice")
    assert choice["per_payment_cents"] == named and choice["total_cents"] == 136937
    assert slot("plan_suggested", None) in events


def test_yes_without_a_named_amount_is_still_not_a_choice(verified, make_tracker, run_action):
    tracker = make_tracker(
        verified, text="yes", intent="affirm", active_loop="plan_form",
        slots={"requested_slot": "plan_choice"},
    )  # fmt: skip
    _, dispatcher = run_action(ValidatePlanForm(), tracker)
    assert responses(dispatcher) == ["utter_plan_choice_not_understood"]


def test_a_custom_amount_gets_the_hardship_limits_once_a_hardship_is_on_record(
    session, verified, demo_account, make_tracker, run_action
):
    """The offered plans and the debtor's own amount follow the same limits: $60 a month
    (23 months) is too long without a hardship and a hardship plan with one."""
    _, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$60 a month")
    )
    assert responses(dispatcher) == ["utter_plan_too_long"]

    record_hardship(
        session, demo_account, HardshipCategory.JOB_LOSS, actor="bot", now=utcnow(),
        conversation_id=verified.id,
    )  # fmt: skip
    session.commit()
    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "$60 a month")
    )

    assert dispatcher.messages == []
    choice = events[0]["value"]
    assert (choice["kind"], choice["per_payment_cents"], choice["count"]) == ("hardship", 6000, 23)


def test_unparseable_choice_is_not_understood(verified, make_tracker, run_action):
    events, dispatcher = run_action(
        ValidatePlanForm(), plan_form_tracker(make_tracker, verified, "purple")
    )

    # "Sorry, I didn't catch which option. Reply with its number..." asks again itself
    assert events == [slot("plan_choice", None), slot("asked_again", True)]
    assert responses(dispatcher) == ["utter_plan_choice_not_understood"]


def test_the_form_asks_which_option_unless_the_reply_already_asked_it_again(
    verified, make_tracker, run_action
):
    """One question a message: after a refusal or a 'didn't catch that', which end with
    their own question, the form's 'Which option works for you?' is not said too."""
    ask = ActionAskPlanChoice()
    events, dispatcher = run_action(ask, make_tracker(verified, text="x"))
    assert (events, responses(dispatcher)) == ([], ["utter_ask_plan_choice"])
    again = make_tracker(verified, text="x", slots={"asked_again": True})
    events, dispatcher = run_action(ask, again)
    assert (events, responses(dispatcher)) == ([slot("asked_again", None)], [])
    refused = plan_form_tracker(make_tracker, verified, "$5 a month")
    assert slot("asked_again", True) in run_action(ValidatePlanForm(), refused)[0]


def test_confirmed_plan_is_recorded_with_installments_summing_to_the_balance(
    session, verified, demo_account, make_tracker, run_action
):
    offered = offer(verified, make_tracker, run_action)[0][3]["value"]
    choice = offered[1]
    tracker = make_tracker(
        verified,
        text="yes",
        intent="affirm",
        slots={"plan_offer": offered, "plan_choice": choice, "plan_confirm": True},
    )

    events, dispatcher = run_action(ActionAcceptPlan(), tracker)

    assert events == [
        *GATE_CLEARED,
        slot("plan_choice", None),
        slot("plan_confirm", None),
        slot("plan_offer", None),
    ]
    assert responses(dispatcher) == ["utter_plan_recorded"]
    plan = session.scalars(select(PaymentPlan)).one()
    assert plan.account_id == demo_account.id
    assert plan.conversation_id == verified.id
    assert plan.option_key == choice["key"]
    assert len(plan.installments) == choice["count"]
    assert sum(i.amount_cents for i in plan.installments) == 136937
    assert dispatcher.messages[0]["amount"] == f"${plan.installments[0].amount_cents / 100:,.2f}"


def test_declined_summary_records_nothing_and_asks_again(
    session, verified, make_tracker, run_action
):
    offered = offer(verified, make_tracker, run_action)[0][3]["value"]
    tracker = make_tracker(
        verified,
        text="no",
        intent="deny",
        slots={"plan_offer": offered, "plan_choice": offered[0], "plan_confirm": False},
    )

    events, dispatcher = run_action(ActionAcceptPlan(), tracker)

    assert events == [
        *GATE_CLEARED,
        slot("plan_choice", None),
        slot("plan_confirm", None),
        slot("asked_again", True),  # it asks "Which option would you like instead?" itself
        slot("followup", "plan_form"),
    ]
    assert responses(dispatcher) == ["utter_plan_not_recorded"]
    assert session.scalars(select(PaymentPlan)).all() == []


def said(dispatcher) -> list[str]:
    """What the debtor reads: each response rendered with the values the action gave it."""
    return [
        render(m["response"], **{k: v for k, v in m.items() if k != "response"})
        for m in dispatcher.messages
    ]


def test_the_summary_and_the_confirmation_fit_the_shape_of_the_plan(
    verified, make_tracker, run_action
):
    """Installments are counted; one payment of the whole balance is one payment on a date;
    a settlement says what it settles (not "1 payment(s) from Jan 6 to Jan 6")."""
    offered = {o["kind"]: o for o in offer(verified, make_tracker, run_action)[0][3]["value"]}
    summaries = {}
    for kind in ("installments", "full", "settlement"):
        tracker = make_tracker(verified, text="1", slots={"plan_choice": offered[kind]})
        summaries[kind] = said(run_action(ActionAskPlanConfirm(), tracker)[1])[0]

    assert re.fullmatch(
        r"To confirm: \$[\d,.]+ a month, \d+ payments from .+ to .+, \$1,369\.37 in all\. "
        r"Reply YES to set it up or NO to change it\.",
        summaries["installments"],
    ), summaries["installments"]
    assert summaries["full"].startswith("To confirm: one payment of $1,369.37 on ")
    settlement = offered["settlement"]["total_cents"]
    assert summaries["settlement"].startswith(
        f"To confirm: one payment of ${settlement / 100:,.2f} on "
    )
    assert "settles your balance of $1,369.37." in summaries["settlement"]
    assert not any("payment(s)" in s or " once," in s for s in summaries.values())

    tracker = make_tracker(
        verified,
        text="yes",
        intent="affirm",
        slots={"plan_choice": offered["settlement"], "plan_confirm": True},
    )
    (done,) = said(run_action(ActionAcceptPlan(), tracker)[1])
    assert done.startswith(f"Done. Your settlement is set up: ${settlement / 100:,.2f} on ")
    assert "your balance of $1,369.37 is settled once it is paid" in done


def test_a_plan_whose_first_payment_is_today_comes_with_the_link_to_pay_it(
    verified, make_tracker, run_action
):
    """'Half now...' or 'pay in full today': the confirmation, then the secure link for that
    first payment; a plan starting next week gets no link yet."""
    offered = {o["key"]: o for o in offer(verified, make_tracker, run_action)[0][3]["value"]}
    sent = {}
    for key in ("monthly_12", "full"):
        tracker = make_tracker(
            verified, text="yes", intent="affirm",
            slots={"plan_choice": offered[key], "plan_confirm": True},
        )  # fmt: skip
        sent[key] = run_action(ActionAcceptPlan(), tracker)[1]
    assert responses(sent["monthly_12"]) == ["utter_plan_recorded"]
    assert responses(sent["full"]) == ["utter_plan_recorded_once", "utter_payment_link"]
    assert "/pay/" in sent["full"].messages[1]["link"]


def test_asking_for_a_plan_with_one_in_place_says_so_before_the_options(
    session, verified, make_tracker, run_action
):
    offered = offer(verified, make_tracker, run_action)[0][3]["value"]
    tracker = make_tracker(
        verified, text="yes", intent="affirm",
        slots={"plan_offer": offered, "plan_choice": offered[1], "plan_confirm": True},
    )  # fmt: skip
    run_action(ActionAcceptPlan(), tracker)
    first = session.scalars(select(PaymentPlan)).one().installments[0]

    _, dispatcher = offer(verified, make_tracker, run_action)

    assert responses(dispatcher)[:2] == ["utter_plan_existing", "utter_plan_intro"]
    assert said(dispatcher)[0] == (
        f"You already have a plan: the next payment is ${first.amount_cents / 100:,.2f} on "
        f"{dispatcher.messages[0]['next_due']}. If you choose a new one, it replaces that plan."
    )
    assert dispatcher.messages[0]["next_due"].startswith(first.due_on.strftime("%A, %b"))


def test_asking_for_a_plan_with_a_promise_open_says_the_plan_replaces_it(
    session, verified, demo_account, debtor_today, make_tracker, run_action
):
    """'I'll pay $50 on Friday', then 'can I get a plan': the debtor hears that the plan
    replaces the promise before choosing, and once it is set up no promise is left open."""
    promise = record_promise(
        session, demo_account, amount_cents=5000, due_on=debtor_today + timedelta(days=3),
        today=debtor_today, now=utcnow(), policy=policy(), actor="bot",
    )  # fmt: skip
    session.commit()
    events, dispatcher = offer(verified, make_tracker, run_action)

    assert responses(dispatcher)[:2] == ["utter_plan_existing_promise", "utter_plan_intro"]
    assert said(dispatcher)[0] == (
        f"You promised to pay $50.00 on {dispatcher.messages[0]['due_on']}. If you choose a "
        "plan, it replaces that promise."
    )
    offered = events[3]["value"]
    tracker = make_tracker(
        verified, text="yes", intent="affirm",
        slots={"plan_offer": offered, "plan_choice": offered[1], "plan_confirm": True},
    )  # fmt: skip
    run_action(ActionAcceptPlan(), tracker)
    session.expire_all()
    assert session.get(Promise, promise.id).status == "cancelled"
