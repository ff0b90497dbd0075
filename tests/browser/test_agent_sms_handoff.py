"""A debtor texting (signed POST /twilio/sms, as Twilio sends it) asks for a person; an agent
signed in at /agent in Chromium sees the handoff appear, claims it and replies; the outbox
worker delivers the reply through the real TwilioSender to Prism mocking Twilio's API (a 201:
Twilio's schema accepted the request); the agent releases and the bot answers the debtor's
next text in the TwiML. Real Rasa stack, headless Chromium, Prism (REQUIRE_PRISM=1)."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, console_app, serve_app
from tests.browser.test_agent_handoff import _newest_handoff
from tests.e2e.conftest import Stack
from tests.integration.test_twilio_prism import (  # noqa: F401  (prism_url: the fixture)
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM,
    prism_url,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TWILIO_TOKEN = "sms-handoff-token"
MARIA = "+12065550134"  # a demo account (demo/placement.csv)
TO = "+18005550100"
_sids = itertools.count(1)


@pytest.fixture(scope="module")
def sms_console_url(
    browser: Any, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app with the agent console and the Twilio webhooks (signed with TWILIO_TOKEN), on
    its own loopback port, talking to the real Rasa."""
    app = console_app(
        stack,
        tmp_path_factory.mktemp("sms-console-var"),
        twilio_auth_token=TWILIO_TOKEN,
        public_base_url=None,
    )
    assert app.extensions["twilio_token"] == TWILIO_TOKEN
    with serve_app(app, "sms-console") as url:
        yield url


def text_in(base_url: str, body: str) -> list[str]:
    """The debtor's SMS as Twilio delivers it: form-encoded and signed with the auth token
    for the URL it called. Returns the <Message> bodies of the TwiML answer."""
    sid = f"SM{next(_sids):032x}"
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": MARIA,
        "To": TO,
        "Body": body,
        "NumMedia": "0",
    }
    url = f"{base_url}/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    response = requests.post(
        url, data=params, headers={"X-Twilio-Signature": signature}, timeout=90
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - our own app's TwiML
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


def test_sms_debtor_asks_for_a_person_agent_replies_through_twilio_and_releases(
    sms_console_url: str,
    stack: Stack,
    desk: Any,
    prism_url: str,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    from bot.db import init_engine, utcnow
    from bot.models import Conversation, Handoff, Message
    from bot.services.outbox import deliver_due
    from bot.twilio_client import TwilioSender

    agent = desk
    errors: list[str] = []
    agent.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # A forged signature is refused: the webhook really checks it.
    forged = requests.post(
        f"{sms_console_url}/twilio/sms",
        data={"MessageSid": "SM" + "f" * 32, "From": MARIA, "Body": "hi"},
        headers={"X-Twilio-Signature": "not-a-signature"},
        timeout=30,
    )
    assert forged.status_code == 403

    # The agent signs in and lands on the queue.
    agent.goto(f"{sms_console_url}/login")
    agent.locator("#email").fill(AGENT_EMAIL)
    agent.locator("#password").fill(AGENT_PASSWORD)
    agent.locator("button[type=submit]").click()
    expect(agent).to_have_url(re.compile(r"/agent$"))
    expect(agent.locator("h1")).to_have_text("Handoff queue")
    before = _newest_handoff(stack)

    # The debtor texts the bot, then asks for a person: the safety net hands off.
    assert text_in(sms_console_url, "hi"), "the bot did not answer the first text"
    handing_off = text_in(sms_console_url, "I want to talk to a real person")
    assert handing_off, "the handoff was not acknowledged by SMS"
    newest = _newest_handoff(stack)
    assert newest is not None and newest != before, "no handoff was created"
    handoff_id, conversation_id = newest
    with stack.session() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert (conversation.channel, conversation.address) == ("sms", MARIA)

    # It appears in the agent's queue without a reload.
    item = agent.locator(f'#waiting .q-item[data-id="{handoff_id}"]')
    expect(item).to_be_visible(timeout=5_000)
    expect(item).to_contain_text("Asked for a person")
    expect(item).to_contain_text("SMS")

    # Claim it: the conversation view with the SMS transcript.
    item.get_by_role("button", name="Claim").click()
    expect(agent).to_have_url(re.compile(rf"/agent/handoffs/{handoff_id}$"))
    expect(agent.locator(".flash-success")).to_contain_text("You have this conversation")
    expect(agent.locator(".agent-bar")).to_contain_text(f"SMS {MARIA}")
    transcript = agent.locator("#transcript")
    expect(transcript).to_contain_text("I want to talk to a real person")
    expect(transcript).to_contain_text("Assistant")

    # The agent replies: an SMS queued in the outbox (a reply, so no contact-hours wait).
    reply = "Hi Maria, this is Sam from the billing team. How can I help?"
    agent.locator("#reply-text").fill(reply)
    agent.locator("#send-reply").click()
    expect(agent.locator(".flash-success")).to_contain_text("Reply queued for SMS.")
    with stack.session() as session:
        row = session.scalars(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.sender == "agent"
            )
        ).one()
        assert (row.channel, row.direction, row.status, row.text) == ("sms", "out", "queued", reply)
        agent_message_id = row.id

    # The outbox worker delivers it through the real TwilioSender to Prism, which validates
    # the request against Twilio's OpenAPI description and answers 201.
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, from_number=FROM, base_url=prism_url)
    sessions = sessionmaker(bind=init_engine(stack.database_url), expire_on_commit=False)
    report = deliver_due(sessions, sender, now=utcnow())
    last = sender.http_client._test_only_last_response
    assert last is not None and last.status_code == 201, last.text if last else None
    assert report.sent >= 1 and report.failed == 0, report
    with stack.session() as session:
        sent = session.get(Message, agent_message_id)
        assert sent is not None
        assert sent.status == "sent", (sent.status, sent.error)
        assert sent.provider_sid is not None and sent.provider_sid.startswith("SM")
    request = sender.http_client._test_only_last_request
    assert request is not None
    assert request.url == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert (request.data["To"], request.data["From"], request.data["Body"]) == (
        MARIA,
        FROM,
        reply,
    )
    # The console shows the delivery status live.
    expect(transcript.locator(f'[data-status-for="{agent_message_id}"]')).to_have_text(
        "sent", timeout=5_000
    )

    # Release: back to the bot, which answers the debtor's next text in the TwiML.
    agent.locator("#release").click()
    expect(agent).to_have_url(re.compile(r"/agent$"))
    expect(agent.locator(".flash").first).to_contain_text("Handed back")
    with stack.session() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None and handoff.status == "closed"
        bot_before = session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation_id, Message.sender == "bot"
            )
        )
    answer = text_in(sms_console_url, "how much do i owe")
    assert answer and all(answer), answer
    with stack.session() as session:
        bot_after = session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation_id, Message.sender == "bot"
            )
        )
        last_in = _last_inbound_then_bot(session, conversation_id)
        open_handoffs = session.scalar(
            select(func.count()).where(
                Handoff.conversation_id == conversation_id, Handoff.status != "closed"
            )
        )
    assert bot_after is not None and bot_before is not None and bot_after > bot_before
    assert last_in == ("debtor", "how much do i owe", "bot")
    assert open_handoffs == 0
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _last_inbound_then_bot(session: Session, conversation_id: str) -> tuple[str, str, str]:
    """The debtor's last message and who answered it."""
    from bot.models import Message

    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(20)
        )
    )
    last_in = next(m for m in rows if m.direction == "in")
    after = [m for m in reversed(rows) if m.id > last_in.id]
    assert after, "nothing answered the debtor's last text"
    return (last_in.sender, last_in.text, after[0].sender)
