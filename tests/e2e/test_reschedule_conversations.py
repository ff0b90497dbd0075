"""Moving a payment date in whole conversations with the real assistant: the answer to a
reminder by SMS ("can I move it to friday"), asked before verification and carried through
it, and the same on the web chat with the date asked for."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.db import utcnow
from bot.domain.dates import MONTH_ABBR, format_date, parse_when
from bot.domain.plans import custom_option
from bot.models import Account, ConversationEvent, Installment, PaymentPlan
from bot.services.conversations import local_today
from bot.services.plans import accept_plan, collectible_cents
from bot.services.policy import load_policy
from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_conversations import MARIA, Debtor

pytestmark = pytest.mark.e2e


def give_maria_a_plan(stack: Stack, first_in_days: int) -> tuple[int, date, date]:
    """$250 a month, the first installment `first_in_days` from her today: (installment id,
    its date, her today)."""
    with stack.session() as s:
        account = s.scalars(select(Account).where(Account.account_ref == MARIA["ref"])).one()
        today = local_today(account, utcnow())
        policy = load_policy(ROOT / "bot" / "policy.yml")
        option = custom_option(
            collectible_cents(s, account, today),
            today,
            policy,
            amount_cents=25000,
            frequency="monthly",
            first_due=today + timedelta(days=first_in_days),
        )
        plan = accept_plan(s, account, option, today=today, now=utcnow(), actor="agent:e2e")
        s.commit()
        first = plan.installments[0]
        return first.id, first.due_on, today


def typed(d: date) -> str:
    """ "Dec 3": a date the way a debtor types it."""
    return f"{MONTH_ABBR[d.month - 1]} {d.day}"


def due_on(stack: Stack, installment_id: int) -> date:
    with stack.session() as s:
        installment = s.get(Installment, installment_id)
        assert installment is not None
        return installment.due_on


def test_sms_answer_to_a_reminder_moves_the_installment_after_verification(stack: Stack) -> None:
    installment_id, old, today = give_maria_a_plan(stack, first_in_days=3)  # reminder: 3 days
    friday = parse_when("friday", today)
    assert friday is not None

    maria = Debtor(stack, MARIA["phone"])
    first = maria.says("can I move it to friday")
    assert "date of birth" in first.lower(), maria.transcript
    assert "$" not in first and "friday" not in first.lower(), maria.transcript  # rule 1
    maria.says(MARIA["dob"])
    done = maria.says(MARIA["zip"])

    assert "verified" in done, maria.transcript
    assert "$250.00" in done, maria.transcript
    assert format_date(old, today) in done and format_date(friday, today) in done, maria.transcript
    assert due_on(stack, installment_id) == friday
    with stack.session() as s:
        event = s.scalars(
            select(ConversationEvent).where(ConversationEvent.kind == "payment_rescheduled")
        ).one()
        assert event.conversation_id == maria.sender
        assert (event.data["old_date"], event.data["new_date"]) == (
            old.isoformat(),
            friday.isoformat(),
        )
        plans = s.scalars(select(PaymentPlan)).all()
        assert len(plans) == 1 and len(plans[0].installments) > 1
        assert plans[0].installments[1].due_on > friday


def test_web_chat_asks_for_the_date_after_verifying_then_moves_it(stack: Stack) -> None:
    installment_id, old, today = give_maria_a_plan(stack, first_in_days=7)
    new = old + timedelta(days=5)

    maria = Debtor(stack)
    maria.says("I need to change my payment date")
    maria.says(MARIA["ref"])
    maria.says(MARIA["dob"])
    asked = maria.says(MARIA["zip"])
    assert "verified" in asked and "what date" in asked.lower(), maria.transcript
    assert due_on(stack, installment_id) == old

    too_late = maria.says(typed(old + timedelta(days=30)))
    latest = format_date(old + timedelta(days=14), today)
    assert latest in too_late and "what date" not in too_late.lower(), maria.transcript
    assert due_on(stack, installment_id) == old

    done = maria.says(f"ok {typed(new)} then")
    assert "$250.00" in done and format_date(new, today) in done, maria.transcript
    assert due_on(stack, installment_id) == new
