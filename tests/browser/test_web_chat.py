"""A debtor on a phone uses the web chat in headless Chromium against the real assistant
(trained Rasa + action server): verifies, asks the balance, sees it, and keeps the history
after a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "web-chat.png"


def say(page: Any, text: str) -> str:
    """Type a message like a person (keyboard, Enter) and wait for the assistant's answer."""
    from playwright.sync_api import expect

    answers = page.locator("#log .msg-bot:not(.msg-intro), #log .msg-agent")
    before = answers.count()
    page.locator("#text").fill(text)
    page.keyboard.press("Enter")
    # Locator waits, not wait_for_function: the page's CSP forbids the eval that needs.
    answers.nth(before).wait_for()
    expect(page.locator("#typing")).to_be_hidden()
    return page.locator("#log").inner_text()


def test_debtor_verifies_and_sees_the_balance_then_reloads(live_url: str, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    page.goto(f"{live_url}/chat")
    assert "Evergreen Health Billing" in page.locator(".brand-name").inner_text()
    assert page.evaluate("document.activeElement.id") == "text"

    say(page, "hi")
    say(page, "ACC-100234")
    say(page, "3/12/1984")
    verified = say(page, "98103")
    assert "verified" in verified.lower(), verified
    transcript = say(page, "how much do i owe")
    assert "$1,369.37" in transcript, transcript
    # Focus stays in the input for the next message.
    assert page.evaluate("document.activeElement.id") == "text"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.reload()
    expect(page.locator("#log")).to_contain_text("$1,369.37")
    history = page.locator("#log").inner_text()
    for text in ("hi", "ACC-100234", "98103", "how much do i owe", "$1,369.37"):
        assert text in history
    assert page.locator("#log .msg-me").count() == 5
