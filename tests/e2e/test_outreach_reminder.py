"""The whole outreach loop with the real parts: an installment due in 3 days gives one reminder,
queued by the scheduler and sent by the outbox through the real TwilioSender to Prism serving
Twilio's own OpenAPI description; the debtor answers it "can I move it to friday", verifies,
and the plan is changed, in the same conversation as the reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from bot.db import init_engine, utcnow
from bot.domain.contact import next_window_start
from bot.domain.dates import parse_when
from bot.models import Account, Installment, Message, Outreach, PaymentPlan
from bot.services import outreach
from bot.services.conversations import local_today
from bot.services.outbox import deliver_due
from bot.services.policy import load_policy
from bot.twilio_client import TwilioSender
from tests.e2e.conftest import ROOT, Stack
from tests.e2e.test_conversations import MARIA, Debtor
from tests.e2e.test_reschedule_conversations import give_maria_a_plan
from tests.integration.test_twilio_prism import (  # noqa: F401  (prism_url: the fixture)
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM,
    prism_url,
)

pytestmark = pytest.mark.e2e

VALUES = {"company_name": "Evergreen Health Billing", "support_phone": "(800) 555-0199"}


def test_a_reminder_through_twilio_is_answered_and_the_plan_moves(
    stack: Stack,
    prism_url: str,  # noqa: F811
) -> None:
    installment_id, due, _ = give_maria_a_plan(stack, first_in_days=3)
    with stack.session() as s:
        # The plan was agreed last week (no reminder on the day it is agreed), and the other
        # demo accounts were placed long ago (no first hello to them in this test).
        s.execute(update(PaymentPlan).values(created_at=utcnow() - timedelta(days=7)))
        s.execute(update(Account).values(placed_at=utcnow() - timedelta(days=90)))
        s.commit()
        maria = s.scalars(select(Account).where(Account.account_ref == MARIA["ref"])).one()
        # A moment the contact rules allow in Seattle, whatever the time the test runs.
        now = next_window_start(utcnow() + timedelta(minutes=1), maria.zones)
        today = local_today(maria, now)

    policy = load_policy(ROOT / "bot" / "policy.yml")
    with stack.session() as s:
        report = outreach.run(s, now, policy, VALUES)
        s.commit()
    assert report.queued == 1, report
    with stack.session() as s:
        again = outreach.run(s, now + timedelta(minutes=5), policy, VALUES)
        s.commit()
    assert again.queued == 0, again  # nothing twice

    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM, base_url=prism_url)
    sessions = sessionmaker(bind=init_engine(stack.database_url), expire_on_commit=False)
    delivered = deliver_due(sessions, sender, now=now)
    assert (delivered.sent, delivered.failed, delivered.blocked) == (1, 0, 0), delivered
    last = sender.http_client._test_only_last_response
    assert last is not None and last.status_code == 201, last.text if last else None
    request = sender.http_client._test_only_last_request
    assert request is not None and request.data["To"] == MARIA["phone"]
    body = request.data["Body"]
    assert "reminder about your account" in body and body.endswith("Reply STOP to opt out.")
    assert "$" not in body  # rule 1: the phone's holder is not verified yet
    assert deliver_due(sessions, sender, now=now + timedelta(minutes=1)).sent == 0

    with stack.session() as s:
        [(kind, message)] = s.execute(
            select(Outreach.kind, Message).join(Message, Message.id == Outreach.message_id)
        ).all()
        assert kind == "installment_reminder" and message.status == "sent"
        reminder_conversation = message.conversation_id

    debtor = Debtor(stack, MARIA["phone"])
    asked = debtor.says("can I move it to friday")
    assert "date of birth" in asked.lower(), debtor.transcript
    assert debtor.sender == reminder_conversation  # the answer continues the reminder's thread
    debtor.says(MARIA["dob"])
    done = debtor.says(MARIA["zip"])

    friday = parse_when("friday", local_today(maria, utcnow()))
    assert friday is not None
    assert "now due" in done, debtor.transcript
    with stack.session() as s:
        installment = s.get(Installment, installment_id)
        assert installment is not None
        assert (installment.due_on, installment.status) == (friday, "scheduled"), (due, today)
