"""A debtor in the web chat asks for a person; an agent signed in at /agent sees the handoff
appear live, claims it, replies; the debtor sees the reply; the agent releases and the
debtor's next message is answered by the bot again. Real Rasa stack, headless Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, console_app, serve_app
from tests.browser.test_web_chat import say
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def console_url(
    browser: Any, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app with the agent console, on its own loopback port, talking to the real Rasa."""
    with serve_app(console_app(stack, tmp_path_factory.mktemp("console-var")), "console") as url:
        yield url


def _newest_handoff(stack: Stack) -> tuple[int, str] | None:
    from bot.models import Handoff

    with stack.session() as session:
        row = session.execute(
            select(Handoff.id, Handoff.conversation_id).order_by(Handoff.id.desc()).limit(1)
        ).first()
        return (row[0], row[1]) if row else None


def test_debtor_asks_for_a_person_agent_claims_replies_and_releases(
    console_url: str, stack: Stack, phone: Any, desk: Any
) -> None:
    from playwright.sync_api import expect

    from bot.models import Handoff, Message

    debtor, agent = phone, desk
    errors: list[str] = []
    agent.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # The agent signs in and lands on the queue.
    agent.goto(f"{console_url}/login")
    agent.locator("#email").fill(AGENT_EMAIL)
    agent.locator("#password").fill(AGENT_PASSWORD)
    agent.locator("button[type=submit]").click()
    expect(agent).to_have_url(re.compile(r"/agent$"))
    expect(agent.locator("h1")).to_have_text("Handoff queue")
    agent.locator("body").click()  # a user gesture: lets the page's WebAudio beep start
    before = _newest_handoff(stack)

    # The debtor chats with the bot, then asks for a person: the safety net hands off.
    debtor.goto(f"{console_url}/chat")
    say(debtor, "hi")
    say(debtor, "I want to talk to a real person")
    asked = time.monotonic()
    newest = _newest_handoff(stack)
    assert newest is not None and newest != before, "no handoff was created"
    handoff_id, conversation_id = newest

    # It appears in the agent's queue without a reload, within 2 seconds, and is noticed.
    item = agent.locator(f'#waiting .q-item[data-id="{handoff_id}"]')
    expect(item).to_be_visible(timeout=2_500)
    assert time.monotonic() - asked < 3.0
    expect(item).to_contain_text("Asked for a person")
    expect(item).to_contain_text("Web chat")
    expect(agent).to_have_title(re.compile(r"\(1\) New handoff"), timeout=2_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SHOTS / "agent-queue.png"))

    # The page says a person is coming: the bot stays silent from here on.
    expect(debtor.locator("#handled")).to_contain_text("Waiting for a person from our team")
    expect(debtor.locator(".brand-sub")).to_have_text("Waiting for a person")

    # The debtor writes while waiting (the bot stays silent during a handoff). The agent's
    # first message then answers it (a reply, not a message we initiate; see the report on
    # agent_reply's reply window).
    debtor.locator("#text").fill("Hello? Is anyone there?")
    debtor.keyboard.press("Enter")
    expect(debtor.locator("#log .msg-me").last).to_contain_text("anyone there")
    expect(debtor.locator("#log .msg-pending")).to_have_count(0)

    # Claim it: the conversation view with the transcript.
    item.get_by_role("button", name="Claim").click()
    expect(agent).to_have_url(re.compile(rf"/agent/handoffs/{handoff_id}$"))
    expect(agent.locator(".flash-success")).to_contain_text("You have this conversation")
    expect(debtor.locator("#handled")).to_have_text(
        "You're chatting with a person from our team.", timeout=3_000
    )
    transcript = agent.locator("#transcript")
    expect(transcript).to_contain_text("I want to talk to a real person")
    expect(transcript).to_contain_text("Assistant")
    expect(transcript).to_contain_text("Is anyone there?")

    # An approved template goes into the reply box, the agent edits it and sends it.
    agent.locator("#template").select_option("greeting")
    box = agent.locator("#reply-text")
    expect(box).to_have_value(re.compile(r"^Hi, this is a member of the"))
    box.fill("Hi, this is Sam from the billing team. How can I help today?")
    agent.locator("#send-reply").click()
    expect(agent.locator(".flash-success")).to_contain_text("Reply sent.")

    # The debtor sees the agent's reply, and answers; the agent sees that live.
    expect(debtor.locator("#log .msg-agent")).to_contain_text("Sam from the billing team")
    debtor.locator("#text").fill("Can I pay a bit later this month?")
    debtor.keyboard.press("Enter")
    expect(transcript).to_contain_text("Can I pay a bit later this month?", timeout=3_000)
    expect(transcript.locator(".t-agent .t-status")).to_have_text(re.compile("delivered"))
    agent.locator("#note-text").fill("Asked about paying later; offered plan options.")
    agent.get_by_role("button", name="Add note").click()
    expect(agent.locator(".note-list")).to_contain_text("offered plan options")
    agent.screenshot(path=str(SHOTS / "agent-conversation.png"))

    # Release: back to the bot. The debtor is told, and the bot answers the next message.
    agent.locator("#release").click()
    expect(agent).to_have_url(re.compile(r"/agent$"))
    expect(agent.locator(".flash").first).to_contain_text("Handed back")
    expect(debtor.locator("#log .msg-system")).to_contain_text("back with the automated assistant")
    expect(debtor.locator("#handled")).to_be_hidden()
    expect(debtor.locator(".brand-sub")).to_have_text("Automated assistant")
    with stack.session() as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff is not None and handoff.status == "closed"
        bot_before = session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation_id, Message.sender == "bot"
            )
        )
    say(debtor, "how much do i owe")
    with stack.session() as session:
        last = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(1)
        ).one()
        assert last.sender == "bot", last.text
        bot_after = session.scalar(
            select(func.count()).where(
                Message.conversation_id == conversation_id, Message.sender == "bot"
            )
        )
        open_handoffs = session.scalar(
            select(func.count()).where(
                Handoff.conversation_id == conversation_id, Handoff.status != "closed"
            )
        )
    assert bot_after > bot_before
    assert open_handoffs == 0
    assert not [e for e in errors if "Content Security Policy" in e], errors
