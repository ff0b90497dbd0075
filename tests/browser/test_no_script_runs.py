"""Script, HTML and SQL typed by a debtor or written in an agent note are shown as text, never
run, in the agent console (the page and its live updates) and the compliance pages (transcript,
search results, printable copy), in headless Chromium: `window.__xss` stays undefined, no
dialog opens, every payload is visible literally, and each page carries a
Content-Security-Policy. No Rasa: a plain app over a test database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.db import utcnow
from bot.models import Account, Message
from bot.services.accounts_import import import_accounts
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, claim, request_handoff
from bot.services.users import Role, create_user
from tests.browser.conftest import serve_app
from tests.conftest import make_conversation

pytestmark = [pytest.mark.browser]

ADMIN = "xss-admin@browser.example"
PASSWORD = "xss-admin-browser-password"
PAYLOADS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload=window.__xss=1>',
    "'; DROP TABLE messages; --",
    "<img src=x onerror=\"window.__xss=1;alert('xss')\">",
    "javascript:window.__xss=1",
    "{{ 7*7 }} ${7*7} <b>bold</b> &lt;tag&gt;",
)
LIVE = '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe> arrived live'


def seed(database_url: str) -> tuple[int, str]:
    """Maria's SMS conversation: a debtor message per payload, an agent note holding them all,
    and a handoff claimed by the admin."""
    engine = create_engine(database_url)
    start = utcnow() - timedelta(minutes=30)
    with Session(engine, expire_on_commit=False) as s:
        with (
            (ROOT / "demo" / "placement.csv").open() as placement,
            (ROOT / "demo" / "charges.csv").open() as charges,
        ):
            import_accounts(s, placement, charges, today=start.date())
        admin = create_user(s, ADMIN, Role.ADMIN, PASSWORD)
        maria = s.scalar(select(Account).where(Account.account_ref == "ACC-100234"))
        assert maria is not None
        conv = make_conversation(s, maria, started_at=start, last_message_at=start)
        for n, payload in enumerate(PAYLOADS):
            s.add(
                Message(
                    conversation_id=conv.id, direction="in", sender="debtor", channel="sms",
                    text=f"msg{n}: {payload}", status="received",
                    created_at=start + timedelta(minutes=n),
                )
            )  # fmt: skip
            s.flush()
        handoff = request_handoff(s, conv, HandoffReason.HUMAN_REQUEST, now=start)
        claim(s, handoff.id, admin.id, now=start + timedelta(minutes=10))
        record_event(
            s,
            EventKind.AGENT_NOTE,
            actor=f"agent:{admin.id}",
            conversation_id=conv.id,
            data={"handoff_id": handoff.id, "text": "note: " + " | ".join(PAYLOADS)},
            at=start + timedelta(minutes=11),
        )
        s.commit()
        ids = (handoff.id, conv.id)
    engine.dispose()
    return ids


def add_live_message(database_url: str, conversation_id: str) -> None:
    engine = create_engine(database_url)
    with Session(engine) as s:
        s.add(
            Message(
                conversation_id=conversation_id, direction="in", sender="debtor", channel="sms",
                text=LIVE, status="received", created_at=utcnow(),
            )
        )  # fmt: skip
        s.commit()
    engine.dispose()


def test_payloads_in_messages_and_notes_are_shown_as_text_never_run(
    browser: Any, desk: Any, database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from bot.web import create_app

    handoff_id, conversation_id = seed(database_url)
    app = create_app(
        {"database_url": database_url, "var_dir": tmp_path, "rasa_url": "http://127.0.0.1:9"}
    )
    page = desk
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def visit(url: str) -> None:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "object-src 'none'" in csp, url
        assert "'unsafe-inline'" not in csp.split("script-src")[-1].split(";")[0] or (
            "script-src" not in csp
        ), url
        page.wait_for_load_state("load")

    def assert_inert(where: str) -> None:
        assert page.evaluate("typeof window.__xss") == "undefined", where
        assert dialogs == [], where
        assert page.locator("svg[onload], img[onerror], iframe[srcdoc]").count() == 0, where

    def assert_literal(where: str, texts: tuple[str, ...] = PAYLOADS) -> None:
        body = page.locator("body").inner_text()
        for text in texts:
            assert text in body, f"{where}: {text!r} not shown as typed"

    with serve_app(app, "xss-app") as url:
        page.goto(f"{url}/login")
        page.locator("#email").fill(ADMIN)
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(lambda u: "/login" not in u)

        # The agent console: queue, then the conversation (messages and the note).
        visit(f"{url}/agent")
        assert_inert("agent queue")
        visit(f"{url}/agent/handoffs/{handoff_id}")
        expect(page.locator(".note-list")).to_contain_text("DROP TABLE messages")
        assert_literal("agent conversation")
        assert_inert("agent conversation")
        # A message arriving while the page is open is added by the page's script.
        add_live_message(database_url, conversation_id)
        expect(page.locator("body")).to_contain_text("arrived live", timeout=15_000)
        page.wait_for_timeout(500)  # let any injected frame run, if one was made
        assert_literal("agent conversation, live update", (LIVE,))
        assert_inert("agent conversation, live update")

        # The compliance transcript, its printable copy, and search results.
        visit(f"{url}/compliance/conversations/{conversation_id}")
        assert_literal("compliance transcript")
        assert_inert("compliance transcript")
        visit(f"{url}/compliance/conversations/{conversation_id}/print")
        assert_literal("printable transcript")
        assert_inert("printable transcript")
        for query in ("<script>", "DROP TABLE", "onerror"):
            page.goto(f"{url}/compliance/?{_query(query)}")
            expect(page.locator(".cx-table tbody tr")).to_have_count(1)
            assert_inert(f"search {query!r}")
        visit(f"{url}/compliance/?{_query('<script>window.__xss=1</script>')}")
        assert_inert("search for a script")
        assert page.locator("#f-text").input_value() == "<script>window.__xss=1</script>"

    # And the SQL was only ever text: the messages are all still there.
    engine = create_engine(database_url)
    with Session(engine) as s:
        assert (s.scalar(select(func.count()).select_from(Message)) or 0) >= len(PAYLOADS) + 1
    engine.dispose()


def _query(text: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"text": text})
