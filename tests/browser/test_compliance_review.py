"""A compliance reviewer signs in, searches by flag, opens the transcript (the balance sent
before verification is highlighted), records a review, downloads the CSV export, and every
step is in the audit trail. No Rasa: a plain app over a test database, headless Chromium."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.models import Account, AuditLog, ConversationReview, Message, StaffUser
from bot.services.accounts_import import import_accounts
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, claim, request_handoff
from bot.services.users import Role, create_user
from tests.browser.conftest import serve_app
from tests.conftest import make_conversation

pytestmark = [pytest.mark.browser]

SHOTS = ROOT / "docs" / "screenshots"
REVIEWER = "reviewer@browser.example"
AGENT = "dana.agent@browser.example"
PASSWORD = "reviewer-browser-password"
T0 = datetime(2026, 11, 20, 17, 2, tzinfo=UTC)  # 09:02 in Seattle


def _say(s: Session, conversation_id: str, at: datetime, sender: str, text: str,
         **extra: Any) -> Message:  # fmt: skip
    inbound = sender == "debtor"
    message = Message(
        conversation_id=conversation_id, direction="in" if inbound else "out", sender=sender,
        channel="sms", text=text, status="received" if inbound else "delivered", created_at=at,
        **extra,
    )  # fmt: skip
    s.add(message)
    s.flush()
    return message


def seed(database_url: str) -> dict[str, str]:
    """Three conversations: Maria's (a dispute, a handoff, and her balance sent before she
    verified), James's (clean) and Aisha's (a promise to pay)."""
    engine = create_engine(database_url)
    with Session(engine, expire_on_commit=False) as s:
        with (
            (ROOT / "demo" / "placement.csv").open() as placement,
            (ROOT / "demo" / "charges.csv").open() as charges,
        ):
            import_accounts(s, placement, charges, today=T0.date())
        create_user(s, REVIEWER, Role.COMPLIANCE, PASSWORD)
        agent = create_user(s, AGENT, Role.AGENT, PASSWORD)
        accounts = {a.account_ref: a for a in s.scalars(select(Account))}
        maria, james, aisha = accounts["ACC-100234"], accounts["ACC-100512"], accounts["ACC-100777"]

        def at(minutes: float) -> datetime:
            return T0 + timedelta(minutes=minutes)

        conv = make_conversation(s, maria, started_at=T0, last_message_at=at(14))
        cid = conv.id
        _say(
            s,
            cid,
            at(0),
            "bot",
            "Hi, this is Evergreen Health Billing about your account. "
            "Please reply when you can. Reply STOP to opt out.",
            initiated=True,
        )
        first = _say(s, cid, at(3), "debtor", "who is this? what do i owe")
        _say(
            s,
            cid,
            at(3.1),
            "bot",
            "Your balance with Evergreen Health is $1,369.37. Reply STOP to opt out.",
            reply_to_id=first.id,
        )
        _say(s, cid, at(4), "debtor", "wait, first: 03/12/1984 and 98103")
        record_event(
            s,
            EventKind.VERIFICATION_PASSED,
            actor="debtor",
            conversation_id=cid,
            account_id=maria.id,
            data={"factors": ["dob", "zip"]},
            at=at(4.05),
        )
        conv.verified_at = at(4.05)
        _say(
            s,
            cid,
            at(4.1),
            "bot",
            "Thank you, Maria. You owe $1,369.37 for the emergency "
            "room visit and lab work of Dec 10. How can I help?",
        )
        _say(s, cid, at(6), "debtor", "I never got that lab work done. <b>That charge is wrong</b>")
        record_event(
            s,
            EventKind.DISPUTE,
            actor="bot",
            conversation_id=cid,
            account_id=maria.id,
            data={
                "reference": "DSP-20261120-0001",
                "reason": "not_mine",
                "charge_id": None,
                "detail": "lab work",
            },
            at=at(6.05),
        )
        record_event(
            s,
            EventKind.HOLD_PLACED,
            actor="bot",
            conversation_id=cid,
            account_id=maria.id,
            data={"reason": "dispute", "charge_id": None},
            at=at(6.06),
        )
        _say(
            s,
            cid,
            at(6.1),
            "bot",
            "I have opened a dispute, reference DSP-20261120-0001. "
            "We will send proof of the charge within 30 days and pause collection until then.",
        )
        _say(s, cid, at(8), "debtor", "can I talk to a person about this?")
        handoff = request_handoff(s, conv, HandoffReason.HUMAN_REQUEST, now=at(8.05))
        _say(s, cid, at(8.1), "system", "Connecting you with a member of our team.")
        claim(s, handoff.id, agent.id, now=at(10))
        _say(
            s,
            cid,
            at(11),
            "agent",
            "Hi Maria, I am Dana. I see the dispute on the lab work; "
            "nothing is due on it while we check.",
            agent_id=agent.id,
        )
        record_event(
            s,
            EventKind.AGENT_NOTE,
            actor=f"agent:{agent.id}",
            conversation_id=cid,
            data={"text": "Debtor calm; wants the itemized bill by mail."},
            at=at(12),
        )
        _say(s, cid, at(14), "debtor", "ok thanks")
        ids = {"maria": cid}

        conv = make_conversation(s, james, started_at=at(60), last_message_at=at(61))
        _say(s, conv.id, at(60), "debtor", "hi")
        _say(
            s, conv.id, at(61), "bot", "Hello from Evergreen Health Billing. Reply STOP to opt out."
        )
        ids["james"] = conv.id
        conv = make_conversation(s, aisha, started_at=at(120), last_message_at=at(121))
        _say(s, conv.id, at(120), "debtor", "I can pay $100 on Friday")
        record_event(s, EventKind.PROMISE, actor="bot", conversation_id=conv.id,
                     account_id=aisha.id, data={"amount_cents": 10000, "due_on": "2026-11-27"},
                     at=at(120.5))  # fmt: skip
        ids["aisha"] = conv.id
        s.commit()
    engine.dispose()
    return ids


def audit_rows(database_url: str, action: str) -> list[AuditLog]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            return list(
                s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
            )
    finally:
        engine.dispose()


def test_reviewer_searches_reads_reviews_and_exports_a_transcript(
    browser: Any, desk: Any, database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from bot.web import create_app

    ids = seed(database_url)
    app = create_app(
        {"database_url": database_url, "var_dir": tmp_path, "rasa_url": "http://127.0.0.1:9"}
    )
    page = desk
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(  # every page and asset loads (the browser's own /favicon.ico aside)
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    with serve_app(app, "compliance-app") as url:
        # Signed out, the pages send the reviewer to the login form, and back after it.
        page.goto(f"{url}/compliance/")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.locator("#email").fill(REVIEWER)
        page.locator("#password").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        expect(page).to_have_url(f"{url}/compliance/")
        expect(page.locator("h1")).to_have_text("Transcripts")
        expect(page.locator(".cx-table tbody tr")).to_have_count(3)

        # Search by flag: only Maria's conversation has a dispute.
        page.locator("#f-flag").select_option("dispute")
        page.locator("#search-button").click()
        expect(page).to_have_url(re.compile(r"flag=dispute"))
        rows = page.locator(".cx-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("ACC-100234")
        expect(rows.first.locator(".cx-flag", has_text="Dispute")).to_be_visible()
        expect(rows.first.locator(".cx-check").first).to_be_visible()

        # The transcript: events inline, the early balance highlighted with its rule.
        rows.first.locator("a.cx-open").click()
        expect(page).to_have_url(f"{url}/compliance/conversations/{ids['maria']}")
        hit = page.locator(".cx-msg.cx-hit", has_text="$1,369.37").first
        expect(hit).to_contain_text("Debt detail before verification")
        expect(hit).to_contain_text("Rule 1")
        expect(page.locator(".cx-event-dispute")).to_contain_text("DSP-20261120-0001")
        expect(page.locator(".cx-event-agent_note")).to_contain_text("itemized bill")
        expect(page.locator("#integrity")).to_contain_text("Chain intact")
        expect(page.locator(".cx-msg", has_text="lab work done")).to_contain_text(
            "<b>That charge is wrong</b>"  # shown as typed, not as markup
        )
        expect(page.locator(".cx-msg.cx-agent").first).to_contain_text(AGENT)
        expect(page.locator(".cx-local").first).to_contain_text("PST")

        # The review: outcome and note; the page comes back with it in the history.
        page.locator("#outcome-breach").check()
        page.locator("#review-note").fill(
            "Balance sent before identity was verified (rule 1). Coach on the verify-first script."
        )
        page.locator("#save-review").click()
        expect(page.locator(".flash-success")).to_contain_text("Review saved: Breach.")
        history = page.locator(".cx-history-item").first
        expect(history).to_contain_text("Breach")
        expect(history).to_contain_text("verify-first script")
        expect(history).to_contain_text(REVIEWER)
        page.evaluate("window.scrollTo(0, 0)")  # the redirect jumped to #reviews
        page.screenshot(path=str(SHOTS / "compliance-transcript.png"), full_page=True)

        # The CSV export downloads the whole transcript.
        with page.expect_download() as info:
            page.locator("#export-csv").click()
        download = info.value
        assert re.fullmatch(
            rf"transcript-ACC-100234-{ids['maria'][:12]}-\d{{8}}-\d{{6}}\.csv",
            download.suggested_filename,
        )
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        rows_csv = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
        assert any("$1,369.37" in r["text"] for r in rows_csv)
        assert {r["event_kind"] for r in rows_csv} >= {"dispute", "hold_placed", "agent_note"}

        # The printable copy: no nav or form, everything on paper.
        page.locator("#print-link").click()
        expect(page).to_have_url(f"{url}/compliance/conversations/{ids['maria']}/print")
        page.emulate_media(media="print")
        expect(page.locator(".cx-nav")).to_have_count(0)
        expect(page.locator(".cx-review-form")).to_have_count(0)
        expect(page.locator(".cx-history-item")).to_contain_text("verify-first script")
        expect(page.locator(".cx-hit")).to_contain_text("Rule 1")
        page.screenshot(path=str(tmp_path / "print.png"), full_page=True)
        page.emulate_media(media="screen")

        # The search page again shows the verdict.
        page.locator("a", has_text="Back to the review page").click()
        page.locator(".cx-nav a", has_text="Search transcripts").click()
        page.locator("#f-review").select_option("breach")
        page.locator("#search-button").click()
        expect(page.locator(".cx-table tbody tr")).to_have_count(1)
        expect(page.locator(".cx-review-breach").first).to_be_visible()

    assert errors == []
    engine = create_engine(database_url)
    with Session(engine) as s:
        reviewer = s.scalar(select(StaffUser).where(StaffUser.email == REVIEWER))
        review = s.scalar(select(ConversationReview))
        assert reviewer is not None and review is not None
        assert (review.outcome, review.reviewer_id) == ("breach", reviewer.id)
    engine.dispose()
    for action, detail in (
        ("transcript.view", None),
        ("transcript.review", "breach"),
        ("transcript.export", {"format": "print"}),
    ):
        rows_audit = [r for r in audit_rows(database_url, action) if r.target_id == ids["maria"]]
        assert rows_audit, action
        entry = rows_audit[-1]
        assert (entry.actor, entry.ip) == (REVIEWER, "127.0.0.1"), action
        if action == "transcript.review":
            assert entry.detail["outcome"] == detail
        elif detail is not None:
            assert entry.detail == detail
    exports = audit_rows(database_url, "transcript.export")
    assert [e.detail["format"] for e in exports] == ["csv", "print"]
    assert [r.detail["filters"] for r in audit_rows(database_url, "transcript.search")][:2] == [
        {},
        {"flag": "dispute"},
    ]
