"""Whole SMS conversations through the real front door: signed POST /twilio/sms into the Flask
app, the gateway, a trained Rasa server and the action server, over one app database. Each
test checks what the debtor reads in the TwiML and what the database recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.models import ConsentEvent, Conversation, Handoff, Message, PaymentPlan
from tests.e2e.conftest import Stack
from tests.gateway.conftest import make_app, new_sid, post_sms, twiml_bodies

pytestmark = pytest.mark.e2e

MARIA = {"phone": "+12065550134", "dob": "3/12/84", "zip": "98103"}
OPT_OUT_LINE = "Reply STOP to opt out."


@pytest.fixture
def client(stack: Stack, tmp_path: Path) -> FlaskClient:
    app = make_app(stack.database_url, tmp_path / "var", rasa_url=stack.rasa_url)
    # The first turns of a fresh Rasa on 2 shared cores can pass the 5 s deadline, after which
    # the reply goes to the outbox instead of the TwiML; these tests read the TwiML.
    app.extensions["gateway"].deadline = 45
    return app.test_client()


class Texter:
    def __init__(self, client: FlaskClient, phone: str) -> None:
        self.client, self.phone = client, phone
        self.transcript: list[str] = []

    def says(self, text: str) -> list[str]:
        response = post_sms(self.client, text, frm=self.phone, sid=new_sid())
        assert response.status_code == 200, response.get_data(as_text=True)
        replies = twiml_bodies(response)
        self.transcript += [f"> {text}", *replies]
        return replies

    def conversation_id(self, stack: Stack) -> str:
        with stack.session() as s:
            ids = s.scalars(select(Conversation.id).where(Conversation.address == self.phone)).all()
        assert len(ids) == 1, ids
        return ids[0]


def test_balance_after_verification_with_opt_out_line_first(
    stack: Stack, client: FlaskClient
) -> None:
    maria = Texter(client, MARIA["phone"])
    first = maria.says("hi")
    assert first, maria.transcript
    assert first[0].endswith(OPT_OUT_LINE) or first[-1].endswith(OPT_OUT_LINE), maria.transcript
    joined = "\n".join(first)
    assert "Evergreen" in joined and "$" not in joined, maria.transcript
    maria.says(MARIA["dob"])
    verified = "\n".join(maria.says(MARIA["zip"]))
    assert OPT_OUT_LINE not in verified
    balance = "\n".join(maria.says("how much do i owe"))
    assert "$1,369.37" in verified + balance, maria.transcript
    assert "$1,369.37" in balance, maria.transcript

    conversation_id = maria.conversation_id(stack)
    with stack.session() as s:
        rows = s.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        ).all()
    inbound = [m.text for m in rows if m.direction == "in"]
    assert inbound == ["hi", MARIA["dob"], MARIA["zip"], "how much do i owe"]
    assert all(m.reply_to_id is not None for m in rows if m.direction == "out")


def test_payment_plan_chosen_and_confirmed_is_recorded(stack: Stack, client: FlaskClient) -> None:
    maria = Texter(client, MARIA["phone"])
    maria.says("hi")
    maria.says(MARIA["dob"])
    assert "verified" in "\n".join(maria.says(MARIA["zip"])), maria.transcript
    options = "\n".join(maria.says("i cant pay all at once, can i do a payment plan"))
    assert "1)" in options and "2)" in options, maria.transcript
    summary = "\n".join(maria.says("2"))
    assert "YES" in summary, maria.transcript
    conversation_id = maria.conversation_id(stack)
    with stack.session() as s:
        count = select(func.count(PaymentPlan.id)).where(
            PaymentPlan.conversation_id == conversation_id
        )
        assert s.scalar(count) == 0
    done = "\n".join(maria.says("yes"))
    assert "set up" in done, maria.transcript
    with stack.session() as s:
        plan = s.scalar(select(PaymentPlan).where(PaymentPlan.conversation_id == conversation_id))
        assert plan is not None, maria.transcript
        assert sum(i.amount_cents for i in plan.installments) == plan.total_cents == 136937


def test_request_for_a_person_hands_off_and_the_bot_goes_silent(
    stack: Stack, client: FlaskClient
) -> None:
    maria = Texter(client, MARIA["phone"])
    maria.says("hi")
    reply = maria.says("i want to talk to a person")
    assert reply, maria.transcript
    conversation_id = maria.conversation_id(stack)
    with stack.session() as s:
        handoff = s.scalar(select(Handoff).where(Handoff.conversation_id == conversation_id))
        assert handoff is not None and handoff.reason == "human_request"
    assert maria.says("hello? how much do i owe") == [], maria.transcript
    with stack.session() as s:
        texts = s.scalars(
            select(Message.text).where(
                Message.conversation_id == conversation_id, Message.direction == "in"
            )
        ).all()
    assert "hello? how much do i owe" in texts


def test_stop_then_nothing(stack: Stack, client: FlaskClient) -> None:
    maria = Texter(client, MARIA["phone"])
    maria.says("hi")
    [confirmation] = maria.says("STOP")
    assert "unsubscribed" in confirmation
    assert maria.says("hi") == [], maria.transcript
    assert maria.says("how much do i owe") == [], maria.transcript
    with stack.session() as s:
        actions = s.scalars(
            select(ConsentEvent.action).where(ConsentEvent.address == MARIA["phone"])
        ).all()
    assert actions == ["opt_out"]
