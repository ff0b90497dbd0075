"""The text detectors behind the compliance checks: debt details (rule 1), threats (rule 8)
and payment requests (rule 14), and the product's own wording against them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.domain.disclosure import (
    DetailKind,
    ThreatKind,
    debt_details,
    payment_requests,
    threats,
)

ROOT = Path(__file__).resolve().parents[2]
RESPONSES: dict[str, list[dict[str, str]]] = yaml.safe_load(
    (ROOT / "domain.yml").read_text(encoding="utf-8")
)["responses"]
AGENT_TEMPLATES = {
    t["key"]: t["text"]
    for t in yaml.safe_load((ROOT / "bot" / "agent_templates.yml").read_text(encoding="utf-8"))[
        "templates"
    ]
}
COMPANY = Settings(database_url="sqlite://").company_name  # "Evergreen Health Billing"
CREDITOR = "Evergreen Health"  # the demo accounts' creditor: part of the company's name
ACCOUNT_REF = "ACC-100234"
VALUES = {
    "company_name": COMPANY,
    "support_phone": "(800) 555-0199",
    "first_name": "Maria",
    "attempts_left": "2",
    "date": "Friday, Dec 4",  # the outreach reminder's date
}


def details(text: str) -> set[DetailKind]:
    found = debt_details(text, creditor=CREDITOR, account_ref=ACCOUNT_REF, company_name=COMPANY)
    return {d.kind for d in found}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Your balance is $1,369.37.", DetailKind.AMOUNT),
        ("That is $ 50 a month", DetailKind.AMOUNT),
        ("You still have 480 dollars to pay", DetailKind.AMOUNT),
        ("Pay USD 25 today", DetailKind.AMOUNT),
        ("Your balance is due", DetailKind.DEBT_WORD),
        ("You owe us money", DetailKind.DEBT_WORD),
        ("the amount owed", DetailKind.DEBT_WORD),
        ("about a debt", DetailKind.DEBT_WORD),
        ("your account is overdue", DetailKind.DEBT_WORD),
        ("it is 90 days past due", DetailKind.DEBT_WORD),
        ("it is past-due", DetailKind.DEBT_WORD),
        ("we can set up a payment plan", DetailKind.DEBT_WORD),
        ("your delinquent account", DetailKind.DEBT_WORD),
        ("Evergreen Health sent us your file", DetailKind.CREDITOR),
        ("this is about EVERGREEN   HEALTH", DetailKind.CREDITOR),
        ("reference acc-100234", DetailKind.ACCOUNT_REF),
    ],
)
def test_debt_detail_is_found(text: str, kind: DetailKind) -> None:
    assert kind in details(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hi, this is the automated assistant for Evergreen Health Billing.",
        "Call 988 or 911. For help call (800) 555-0199.",
        "What is your account reference (it looks like ACC-123456)?",  # an example, not theirs
        "Evergreen Healthy Foods",  # not the creditor's name as a whole phrase
        "Please reply with your ZIP code, for example 98103.",
        "Reply STOP to opt out.",
    ],
)
def test_allowed_wording_reveals_nothing(text: str) -> None:
    assert details(text) == set()


def test_creditor_inside_the_company_name_is_allowed_but_alone_is_not() -> None:
    text = "Evergreen Health Billing here, about a bill from Evergreen Health."
    found = debt_details(text, creditor=CREDITOR, company_name=COMPANY)
    assert [(d.kind, d.matched) for d in found] == [(DetailKind.CREDITOR, "Evergreen Health")]


def test_creditor_equal_to_the_company_is_the_company_name() -> None:
    assert debt_details("Hi from Acme Bank.", creditor="Acme Bank", company_name="Acme Bank") == ()


def test_details_come_in_order_of_appearance() -> None:
    found = debt_details(
        "ACC-100234: you owe $12.50 to Evergreen Health",
        creditor=CREDITOR,
        account_ref=ACCOUNT_REF,
    )
    assert [d.kind for d in found] == [
        DetailKind.ACCOUNT_REF,
        DetailKind.DEBT_WORD,
        DetailKind.AMOUNT,
        DetailKind.CREDITOR,
    ]


# ---------------------------------------------------------------------------- the product's
# wording before verification. Sent by the gateway (keywords, safety net, holding reply),
# by the actions that run without verification (greet, who, bot challenge, the verification
# form and its errors, hardship empathy, handoffs, de-escalation, fallbacks, stop, wrong
# number), by the rules (thank, goodbye, affirm), and when an agent hands back.
PRE_VERIFICATION = (
    "utter_greet",
    "utter_ask_who",
    "utter_iamabot",
    "utter_verify_first",
    "utter_ask_account_lookup",
    "utter_account_not_found",
    "utter_ask_verify_dob",
    "utter_dob_not_understood",
    "utter_ask_verify_second",
    "utter_second_not_understood",
    "utter_verify_mismatch",
    "utter_verify_mismatch_last",
    "utter_verification_locked",
    "utter_hardship_empathy",
    "utter_handoff_human",
    "utter_handoff_generic",
    "utter_handoff_fallback",
    "utter_attorney",
    "utter_bankruptcy",
    "utter_distress",
    "utter_deceased",
    "utter_deescalate",
    "utter_opt_out_line",
    "utter_opted_in",
    "utter_help_keyword",
    "utter_holding",
    "utter_assistant_back",
    "utter_opt_out_confirmed",
    "utter_wrong_number",
    "utter_goodbye",
    "utter_you_are_welcome",
    "utter_ok",
    "utter_ask_rephrase",
    *("utter_outreach_welcome", "utter_outreach_reminder", "utter_outreach_missed", "utter_survey"),
)
# The capability menus sent before verification (action_help, action_fallback); their
# _verified variants, sent once verified, may name the balance and plans.
MENUS = ("utter_help", "utter_out_of_scope")
AGENT_PRE_VERIFICATION = ("greeting", "verification_reminder", "closing")


def _render(text: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], text)


def test_the_pre_verification_list_names_real_responses() -> None:
    assert set(PRE_VERIFICATION) | set(MENUS) <= set(RESPONSES)
    assert set(AGENT_PRE_VERIFICATION) <= set(AGENT_TEMPLATES)


@pytest.mark.parametrize("name", PRE_VERIFICATION)
def test_response_sent_before_verification_reveals_no_debt_detail(name: str) -> None:
    for variation in RESPONSES[name]:
        text = _render(variation["text"])
        assert details(text) == set(), f"{name}: {text}"


@pytest.mark.parametrize("key", AGENT_PRE_VERIFICATION)
def test_agent_template_usable_before_verification_reveals_nothing(key: str) -> None:
    assert details(_render(AGENT_TEMPLATES[key])) == set()


@pytest.mark.parametrize("name", MENUS)
def test_capability_menus_reveal_nothing_before_verification(name: str) -> None:
    for variation in RESPONSES[name]:
        assert details(_render(variation["text"])) == set()


@pytest.mark.parametrize("name", ["utter_balance", "utter_plan_intro", "utter_settlement_offer"])
def test_responses_about_the_debt_are_detected(name: str) -> None:
    values = {"creditor": CREDITOR, "total": "$1,369.37", "balance": "$1,369.37"}
    for variation in RESPONSES[name]:
        text = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), variation["text"])
        assert details(text), name


# ---------------------------------------------------------------------------- threats


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("We will sue you.", ThreatKind.SUIT),
        ("If you don't pay we will take you to court", ThreatKind.SUIT),
        ("We won't hesitate to take legal action.", ThreatKind.SUIT),
        ("Not paying may lead to a lawsuit", ThreatKind.SUIT),
        ("Your account will be referred to our attorney", ThreatKind.SUIT),
        ("You could be arrested", ThreatKind.ARREST),
        ("people go to jail for this", ThreatKind.ARREST),
        ("we will call the police", ThreatKind.ARREST),
        ("We will garnish your wages", ThreatKind.GARNISHMENT),
        ("wage garnishment is next", ThreatKind.GARNISHMENT),
        ("we can seize your car", ThreatKind.GARNISHMENT),
        ("We will report you to the credit bureaus", ThreatKind.CREDIT_REPORTING),
        ("this will ruin your credit", ThreatKind.CREDIT_REPORTING),
        ("We report to Equifax", ThreatKind.CREDIT_REPORTING),
    ],
)
def test_threat_is_found(text: str, kind: ThreatKind) -> None:
    assert kind in {t.kind for t in threats(text)}


@pytest.mark.parametrize(
    "text",
    [
        "No one will sue you.",
        "We will not report this to the credit bureaus while the dispute is open.",
        "Nobody is going to arrest you over a medical bill.",
        "You cannot be jailed for a debt.",
        "We don't garnish wages.",
        "Please share your attorney's name and phone number.",
        "What is the bankruptcy court case number?",
        "If you're in immediate danger, call 911.",
        "We can set up a payment plan.",
    ],
)
def test_no_threat_in_negated_or_ordinary_wording(text: str) -> None:
    assert threats(text) == ()


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_no_response_of_the_assistant_threatens(name: str) -> None:
    for variation in RESPONSES[name]:
        assert threats(variation["text"]) == (), name


@pytest.mark.parametrize("key", sorted(AGENT_TEMPLATES))
def test_no_agent_template_threatens(key: str) -> None:
    assert threats(AGENT_TEMPLATES[key]) == ()


# ---------------------------------------------------------------------------- payment requests

#: Every response that asks for payment, offers or sums up a plan or settlement, or sets or
#: reminds a payment date: what rule 14 forbids during a hold. A new response that asks for
#: payment and is not listed here (or one listed that no longer asks) fails the test below, so
#: the check keeps up with the wording.
PAYMENT_ASKS = {
    "utter_balance_next", "utter_payment_link",
    "utter_plan_option_full", "utter_plan_option_full_today", "utter_plan_option_monthly",
    "utter_plan_option_biweekly",
    "utter_plan_option_weekly", "utter_plan_option_settlement", "utter_plan_below_minimum",
    "utter_plan_too_long", "utter_plan_first_too_late", "utter_plan_frequency_not_allowed",
    "utter_plan_existing", "utter_plan_existing_promise", "utter_plan_summary",
    "utter_plan_summary_once",
    "utter_plan_summary_settlement", "utter_plan_recorded", "utter_plan_recorded_once",
    "utter_plan_recorded_settlement", "utter_settlement_offer", "utter_settlement_unavailable",
    "utter_ask_promise_amount", "utter_promise_amount_too_high", "utter_promise_amount_too_low",
    "utter_promise_date_too_late", "utter_promise_summary", "utter_promise_recorded",
    "utter_reschedule_done", "utter_reschedule_nothing", "utter_plan_intro",
    "utter_plan_intro_hardship", "utter_ask_plan_choice", "utter_plan_choice_not_understood",
    "utter_plan_not_recorded", "utter_promise_summary_with_rest",
    "utter_promise_recorded_with_rest", "utter_promise_rest_not_noted", "utter_next_payment",
    "utter_promise_existing",
}  # fmt: skip
AGENT_PAYMENT_ASKS = {"payment_plan_options"}
FILLED = {
    **VALUES, "amount": "$83.75", "n": "1", "count": "6", "first_due": "Monday, Dec 14",
    "last_due": "Friday, May 14, 2027", "total": "$502.50", "balance": "$502.50",
    "discount": "$150.75", "limit": "$25.00", "fits": "$52.67", "every": "a month",
    "next_due": "Wednesday, Jan 6", "due_on": "Tuesday, Dec 15",
    "link": "https://pay.example/pay/abc", "frequency_words": "a month", "old_date": "Dec 1",
    "new_date": "Dec 9", "rest_amount": "$418.75", "rest_on": "Thursday, Dec 31",
}  # fmt: skip


def _filled(text: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: FILLED.get(m.group(1), "x"), text)


def test_the_payment_ask_lists_name_real_wording() -> None:
    assert set(RESPONSES) >= PAYMENT_ASKS
    assert set(AGENT_TEMPLATES) >= AGENT_PAYMENT_ASKS


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_each_response_is_read_as_a_payment_ask_exactly_when_it_is_one(name: str) -> None:
    for variation in RESPONSES[name]:
        text = _filled(variation["text"])
        assert bool(payment_requests(text)) == (name in PAYMENT_ASKS), f"{name}: {text}"


@pytest.mark.parametrize("key", sorted(AGENT_TEMPLATES))
def test_each_agent_template_is_read_as_a_payment_ask_exactly_when_it_is_one(key: str) -> None:
    text = _filled(AGENT_TEMPLATES[key])
    assert bool(payment_requests(text)) == (key in AGENT_PAYMENT_ASKS), f"{key}: {text}"


@pytest.mark.parametrize(
    "text",
    [
        "Can you make a payment today?",
        "Please pay the balance by Friday.",
        "If you pay it today we can waive the fee.",
        "We can take $50 a month.",
        "When can you pay?",
        "Here is the link to pay: https://pay.example/pay/abc",
        "Would you like to set up a plan?",
    ],
)
def test_an_agent_asking_for_payment_in_their_own_words_is_read_as_one(text: str) -> None:
    assert payment_requests(text)


@pytest.mark.parametrize(
    "text",
    [
        "You don't need to pay now.",
        "You do not have to make a payment while we look into it.",
        "We won't ask for any payment for now.",
        "There is nothing to pay.",
        "Your balance is $502.50 as of Monday.",
        "I can help with your balance, payment plans, payment dates and disputes.",
        "What could you comfortably pay each month, if anything?",  # hardship: the debtor's side
    ],
)
def test_holds_and_statements_are_not_payment_asks(text: str) -> None:
    assert payment_requests(text) == ()
