"""The compliance pages (bot/web/compliance.py) over a real database: search by every filter,
bad filters as a 400 page, the transcript in order with both times, events inline and check
hits highlighted, the integrity warning, reviews, exports, the checks page, the admin-only
audit trail, the audit entry of every search, view and export, roles, and escaping."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.models import Account, AuditLog, ConversationReview, Message
from bot.services import compliance_checks, transcripts
from bot.services.compliance_checks import CHECKS, Finding
from bot.services.events import EventKind, record_event
from bot.services.reviews import record_review
from bot.services.users import Role, create_user, get_user
from tests.conftest import make_conversation

PASSWORD = "a-long-test-password"
COMPLIANCE = "reviewer@test.example"
ADMIN = "admin@test.example"
AGENT = "agent@test.example"
IP = "203.0.113.7"
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 07:00 in Seattle (PST)
SCRIPT = "<script>alert(1)</script>"


@contextmanager
def db(app: Flask) -> Iterator[Session]:
    engine = create_engine(app.extensions["settings"].database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


@dataclass
class World:
    """The conversations every test searches: keys are short names, values conversation ids."""

    ids: dict[str, str] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)

    def name_of(self, conversation_id: str) -> str:
        return {v: k for k, v in self.ids.items()}[conversation_id]


def _account(session: Session, ref: str) -> Account:
    account = session.scalar(select(Account).where(Account.account_ref == ref))
    assert account is not None
    return account


def _say(session: Session, conversation_id: str, channel: str, at: datetime,
         lines: list[tuple[str, str]]) -> list[Message]:  # fmt: skip
    out = []
    for i, (sender, text) in enumerate(lines):
        inbound = sender == "debtor"
        message = Message(
            conversation_id=conversation_id, direction="in" if inbound else "out",
            sender=sender, channel=channel, text=text,
            status="received" if inbound else "delivered",
            created_at=at + timedelta(minutes=i),
        )  # fmt: skip
        session.add(message)
        out.append(message)
    session.flush()
    return out


def _conversation(
    session: Session,
    account: Account | None,
    channel: str,
    address: str,
    at: datetime,
    lines: list[tuple[str, str]],
) -> tuple[str, list[Message]]:
    conversation = make_conversation(
        session, account, channel=channel, address=address,
        started_at=at, last_message_at=at + timedelta(minutes=max(len(lines) - 1, 0)),
    )  # fmt: skip
    return conversation.id, _say(session, conversation.id, channel, at, lines)


def build_world(app: Flask) -> World:
    world = World()
    with db(app) as s:
        reviewer = get_user(s, COMPLIANCE)
        assert reviewer is not None
        maria, james, aisha = (_account(s, r) for r in ("ACC-100234", "ACC-100512", "ACC-100777"))
        # A: Maria by SMS on Nov 20; she disputes the bill.
        cid, msgs = _conversation(s, maria, "sms", maria.phone or "", T0, [
            ("debtor", "Hi, I never had this bill"),
            ("bot", "Thanks for telling us. I have opened a dispute. Reply STOP to opt out."),
            ("debtor", "=HYPERLINK(\"http://evil.example\")"),
        ])  # fmt: skip
        record_event(
            s, EventKind.DISPUTE, actor="bot", conversation_id=cid, account_id=maria.id,
            data={"reference": "DSP-0001", "reason": "not_mine", "charge_id": None},
            at=T0 + timedelta(seconds=90),
        )  # fmt: skip
        world.ids["a"], world.messages["a_bot"] = cid, msgs[1].id
        world.messages["a_first"] = msgs[0].id
        # B: James on the web chat on Nov 21; a hostile message; reviewed "fine".
        cid, _ = _conversation(s, james, "web", "web-james", T0 + timedelta(days=1), [
            ("debtor", SCRIPT + " <b>bold</b> ' OR 1=1 --"),
            ("bot", "I can help with your account. Reply STOP to opt out."),
        ])  # fmt: skip
        record_event(
            s, EventKind.AGENT_NOTE, actor="agent:999", conversation_id=cid,
            data={"text": "<img src=x onerror=alert(2)>"}, at=T0 + timedelta(days=1, seconds=30),
        )  # fmt: skip
        record_review(s, cid, reviewer, "fine", "", now=T0 + timedelta(days=2))
        world.ids["b"] = cid
        # C: Aisha by SMS on Nov 22; hardship, asks for a payment plan.
        cid, _ = _conversation(s, aisha, "sms", aisha.phone or "", T0 + timedelta(days=2), [
            ("debtor", "I lost my job, can I get a payment plan?"),
            ("bot", "I am sorry to hear that. Let us find a plan that works."),
        ])  # fmt: skip
        for data in (  # as told, then the answers to the questions about it
            {"category": "job_loss", "temporary": None, "affordable_monthly_cents": None},
            {"category": "job_loss", "temporary": True, "affordable_monthly_cents": 0,
             "answers": True},
        ):  # fmt: skip
            record_event(
                s, EventKind.HARDSHIP, actor="bot", conversation_id=cid, account_id=aisha.id,
                data=data, at=T0 + timedelta(days=2, seconds=30),
            )  # fmt: skip
        world.ids["c"] = cid
        # D: an unidentified web visitor on Nov 10.
        cid, _ = _conversation(s, None, "web", "web-anon", T0 - timedelta(days=10), [
            ("debtor", "hello?"),
        ])  # fmt: skip
        world.ids["d"] = cid
        s.commit()
    return world


@pytest.fixture
def app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app()
    with db(app) as s:
        for email, role in (
            (COMPLIANCE, Role.COMPLIANCE),
            (ADMIN, Role.ADMIN),
            (AGENT, Role.AGENT),
        ):
            create_user(s, email, role, PASSWORD)
        s.commit()
    return app


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def login(app: Flask, email: str = COMPLIANCE) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = IP
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def found_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-id="([0-9a-f]{32})"', html)


def audit_rows(app: Flask, action: str | None = None, target: str | None = None) -> list[AuditLog]:
    with db(app) as s:
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        if target:
            query = query.where(AuditLog.target_id == target)
        return list(s.scalars(query))


def use_findings(monkeypatch: pytest.MonkeyPatch, hits: dict[str, list[Finding]]) -> None:
    """The automatic checks find exactly these (the pages are tested, not the checks)."""

    def run_checks(session: Session, ids: Any, **_: Any) -> dict[str, list[Finding]]:
        return {cid: list(hits.get(cid, [])) for cid in ids}

    monkeypatch.setattr(transcripts.summaries, "run_checks", run_checks)  # where search uses it
    monkeypatch.setattr(compliance_checks, "run_checks", run_checks)


# ---------------------------------------------------------------------------- search
def test_search_lists_every_conversation_newest_first_with_flags_and_reviews(
    app: Flask, world: World
) -> None:
    client = login(app)
    response = client.get("/compliance/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert [world.name_of(i) for i in found_ids(html)] == ["c", "b", "a", "d"]
    assert "4 conversations" in html
    assert 'class="cx-flag"' in html and ">Dispute<" in html and ">Hardship<" in html
    assert "cx-review-fine" in html and "Not reviewed" in html
    assert "ACC-100234" in html and "Maria Lopez" in html
    # Each check is offered in the flag select under its title.
    for check in CHECKS:
        assert f'<option value="{check.code}"' in html
        assert check.title in html
    assert 'href="/compliance/dashboard"' in html
    assert "Audit trail" not in html  # only for admins


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"account_ref": "acc-100234"}, {"a"}),
        ({"phone": "(206) 555-0134"}, {"a"}),
        ({"name": "JAMES"}, {"b"}),
        ({"since": "2026-11-21", "until": "2026-11-21"}, {"b"}),
        ({"since": "2026-11-21"}, {"b", "c"}),
        ({"until": "2026-11-15"}, {"d"}),
        ({"channel": "web"}, {"b", "d"}),
        ({"channel": "sms"}, {"a", "c"}),
        ({"flag": "dispute"}, {"a"}),
        ({"flag": "hardship"}, {"c"}),
        ({"flag": "bankruptcy"}, set()),
        ({"text": "payment PLAN"}, {"c"}),
        ({"text": "plan never"}, set()),
        ({"review": "fine"}, {"b"}),
        ({"review": "unreviewed"}, {"a", "c", "d"}),
        ({"review": "breach"}, set()),
        ({"channel": "sms", "since": "2026-11-21"}, {"c"}),
    ],
)
def test_search_by_each_filter(
    app: Flask, world: World, args: dict[str, str], expected: set[str]
) -> None:
    client = login(app)
    response = client.get("/compliance/", query_string=args)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert {world.name_of(i) for i in found_ids(html)} == expected
    for value in args.values():  # the form keeps what was asked
        assert f'value="{value}"' in html or f'<option value="{value}" selected' in html


def test_search_by_a_check_code_finds_the_conversations_it_hit(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = Finding("disclosure_before_verification", "1", world.messages["a_bot"], T0, "x")
    use_findings(monkeypatch, {world.ids["a"]: [finding]})
    html = login(app).get("/compliance/?flag=disclosure_before_verification").get_data(as_text=True)
    assert [world.name_of(i) for i in found_ids(html)] == ["a"]
    badge = re.search(r'<span class="cx-check" title="([^"]*)">(.*?)</span></span>', html, re.S)
    assert badge is not None
    assert badge.group(1).startswith("Debt detail before verification (rule 1)")
    assert "Rule 1" in badge.group(2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"since": "yesterday"}, "since must be a date like"),
        ({"since": "2026-11-22", "until": "2026-11-01"}, "since is after until"),
        ({"channel": "fax"}, "channel must be sms or web"),
        ({"flag": "<script>"}, "unknown flag &#39;&lt;script&gt;&#39;"),
        ({"review": "maybe"}, "review must be one of"),
        ({"phone": "not a phone"}, "is not a phone number"),
        ({"page": "two"}, "page must be a number"),
    ],
)
def test_a_bad_filter_is_a_400_page_with_the_reason(
    app: Flask, world: World, args: dict[str, str], message: str
) -> None:
    client = login(app)
    for path in ("/compliance/", "/compliance/export.csv", "/compliance/export.json"):
        response = client.get(path, query_string=args)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert "That search could not run" in html and message in html, path
        assert found_ids(html) == []
    assert "<script>" not in html
    assert audit_rows(app, "transcript.search") == []


def test_the_pager_keeps_the_filters(app: Flask, world: World) -> None:
    with db(app) as s:
        robert = _account(s, "ACC-100901")
        for i in range(26):
            _conversation(s, robert, "sms", robert.phone or "", T0 + timedelta(hours=i),
                          [("debtor", f"message {i}")])  # fmt: skip
        s.commit()
    client = login(app)
    html = client.get("/compliance/?name=robert&channel=sms").get_data(as_text=True)
    assert len(found_ids(html)) == 25 and "26 conversations" in html
    assert "Page 1 of 2" in html
    following = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert following is not None
    url = following.group(1).replace("&amp;", "&")
    assert "name=robert" in url and "channel=sms" in url and "page=2" in url
    second = client.get(url).get_data(as_text=True)
    assert len(found_ids(second)) == 1 and "Page 2 of 2" in second
    assert 'rel="prev"' in second


def test_every_search_is_audited_with_who_where_filters_and_count(app: Flask, world: World) -> None:
    login(app).get("/compliance/?channel=web&flag=dispute")
    login(app).get("/compliance/?channel=web")
    first, second = audit_rows(app, "transcript.search")
    assert first.actor == COMPLIANCE and first.ip == IP
    assert first.detail == {"filters": {"channel": "web", "flag": "dispute"}, "results": 0}
    assert second.detail == {"filters": {"channel": "web"}, "results": 2}


def test_search_exports_download_the_result(app: Flask, world: World) -> None:
    client = login(app)
    html = client.get("/compliance/?channel=web").get_data(as_text=True)
    assert 'href="/compliance/export.csv?channel=web"' in html
    assert 'href="/compliance/export.json?channel=web"' in html

    response = client.get("/compliance/export.csv?channel=web")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="transcripts-\d{8}-\d{6}\.csv"', disposition)
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["id"] for r in rows} == {world.ids["b"], world.ids["d"]}
    assert [r["review_outcome"] for r in rows if r["id"] == world.ids["b"]] == ["fine"]

    response = client.get("/compliance/export.json?channel=web")
    assert response.headers["Content-Disposition"].endswith('.json"')
    body = json.loads(response.get_data(as_text=True))
    assert body["total"] == 2 and body["filters"] == {"channel": "web"}
    assert body["exported_by"] == COMPLIANCE
    assert {c["id"] for c in body["conversations"]} == {world.ids["b"], world.ids["d"]}

    exports = audit_rows(app, "transcript.export")
    assert [e.detail["format"] for e in exports] == ["csv", "json"]
    assert all(e.detail["results"] == 2 and e.ip == IP for e in exports)


# ---------------------------------------------------------------------------- one transcript
def test_the_transcript_shows_messages_in_order_with_both_times_and_events_inline(
    app: Flask, world: World
) -> None:
    response = login(app).get(f"/compliance/conversations/{world.ids['a']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    texts = re.findall(r'<p class="cx-text">(.*?)</p>', html, re.S)
    assert texts[0] == "Hi, I never had this bill"
    assert texts[1].startswith("Thanks for telling us.")
    kinds = re.findall(r'data-kind="(message|event)"', html)
    assert kinds == ["message", "message", "event", "message"]  # the dispute came at 15:01:30
    assert "2026-11-20 15:00:00 UTC" in html
    assert "debtor's time 2026-11-20 07:00 PST" in html
    assert "America/Los_Angeles" in html
    assert "Dispute recorded, reference DSP-0001; reason: not mine; the whole debt." in html
    assert ">Debtor<" in html and ">Assistant<" in html
    assert "delivered" in html and "received" in html
    assert "+12065550134" in html and "ACC-100234" in html and "Maria Lopez" in html
    assert "Chain intact." in html
    assert "redacted" in html
    for suffix in ("export.json", "export.csv", "print"):
        assert f'href="/compliance/conversations/{world.ids["a"]}/{suffix}"' in html
    assert 'name="csrf_token"' in html
    assert 'name="outcome" value="breach"' in html
    assert "Not reviewed yet." in html


def test_a_check_hit_is_highlighted_on_its_message(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = Finding(
        "disclosure_before_verification", "1", world.messages["a_bot"], T0, "named the balance"
    )
    whole = Finding("human_request_ignored", "17", None, T0, "no handoff followed")
    hits = {world.ids["a"]: [finding, whole]}
    use_findings(monkeypatch, hits)
    html = login(app).get(f"/compliance/conversations/{world.ids['a']}").get_data(as_text=True)
    bot_id = world.messages["a_bot"]
    hit = re.search(rf'<li class="cx-msg cx-bot cx-hit" id="m{bot_id}".*?</ul>', html, re.S)
    assert hit is not None, html
    assert "Debt detail before verification" in hit.group(0) and "Rule 1" in hit.group(0)
    assert "named the balance" in hit.group(0)
    assert f'id="m{world.messages["a_first"]}"' in html
    assert f'cx-hit" id="m{world.messages["a_first"]}"' not in html
    assert "Findings about the conversation as a whole" in html
    assert "Request for a person not honoured" in html and "Rule 17" in html


def test_the_real_check_highlights_a_balance_sent_before_verification(
    app: Flask, world: World
) -> None:
    with db(app) as s:
        maria = _account(s, "ACC-100234")
        cid, msgs = _conversation(s, maria, "sms", maria.phone or "", T0 + timedelta(days=3), [
            ("debtor", "hello"),
            ("bot", "You owe $1,369.37 to Evergreen Health. Reply STOP to opt out."),
        ])  # fmt: skip
        s.commit()
    html = login(app).get(f"/compliance/conversations/{cid}").get_data(as_text=True)
    assert f'cx-hit" id="m{msgs[1].id}"' in html
    assert "Debt detail before verification" in html and "Rule 1" in html


def test_a_changed_message_shows_a_red_integrity_warning(app: Flask, world: World) -> None:
    with db(app) as s:
        message = s.get(Message, world.messages["a_first"])
        assert message is not None
        message.text = "I owe nothing"  # behind the app's back
        s.commit()
    html = login(app).get(f"/compliance/conversations/{world.ids['a']}").get_data(as_text=True)
    assert "cx-broken" in html and "does not match its hash chain" in html
    assert f"(message {world.messages['a_first']}): the message was changed" in html
    assert "Chain intact." not in html


def test_hostile_text_is_shown_as_text(app: Flask, world: World) -> None:
    client = login(app)
    html = client.get(f"/compliance/conversations/{world.ids['b']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt; &#39; OR 1=1 --" in html
    assert SCRIPT not in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "<img src=x" not in html
    assert "Private note by agent:999" in html
    # And in the search form, the results and the printable copy.
    html = client.get("/compliance/", query_string={"name": SCRIPT}).get_data(as_text=True)
    assert SCRIPT not in html and "&lt;script&gt;" in html
    html = client.get(f"/compliance/conversations/{world.ids['b']}/print").get_data(as_text=True)
    assert SCRIPT not in html and "&lt;script&gt;alert(1)" in html


def test_an_unknown_conversation_is_a_404_page(app: Flask, world: World) -> None:
    client = login(app)
    for suffix in ("", "/export.json", "/export.csv", "/print"):
        response = client.get(f"/compliance/conversations/{'0' * 32}{suffix}")
        assert response.status_code == 404, suffix
        assert "Not found" in response.get_data(as_text=True)
    response = client.post(
        f"/compliance/conversations/{'0' * 32}/review",
        data={"outcome": "fine", "note": "", "csrf_token": token(client)},
    )
    assert response.status_code == 404
    assert audit_rows(app, "transcript.view") == []


# ---------------------------------------------------------------------------- reviews
def test_a_review_is_recorded_audited_and_shown(app: Flask, world: World) -> None:
    client = login(app)
    cid = world.ids["a"]
    response = client.post(
        f"/compliance/conversations/{cid}/review",
        data={"outcome": "coaching", "note": "Say the timeline.", "csrf_token": token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/compliance/conversations/{cid}#reviews"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Review saved: Needs coaching." in html
    assert "Say the timeline." in html and "Not reviewed yet." not in html
    with db(app) as s:
        (review,) = s.scalars(
            select(ConversationReview).where(ConversationReview.conversation_id == cid)
        )
        assert (review.outcome, review.reviewer) == ("coaching", COMPLIANCE)
    (entry,) = audit_rows(app, "transcript.review", cid)
    assert (entry.actor, entry.target_type, entry.target_id, entry.ip) == (
        COMPLIANCE, "conversation", cid, IP,
    )  # fmt: skip
    assert entry.detail["outcome"] == "coaching"
    # The search sees the latest verdict.
    html = client.get("/compliance/?review=coaching").get_data(as_text=True)
    assert found_ids(html) == [cid]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"outcome": "great", "note": ""}, "outcome must be fine, coaching or breach"),
        ({"note": "no outcome"}, "outcome must be fine, coaching or breach"),
        ({"outcome": "breach", "note": "  "}, "say what needs coaching or what the breach is"),
        ({"outcome": "coaching", "note": "x" * 2001}, "longer than 2000 characters"),
    ],
)
def test_a_bad_review_is_a_400_page_with_the_reason(
    app: Flask, world: World, form: dict[str, str], message: str
) -> None:
    client = login(app)
    cid = world.ids["a"]
    response = client.post(
        f"/compliance/conversations/{cid}/review", data={**form, "csrf_token": token(client)}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The review was not saved" in html and message in html
    assert "Hi, I never had this bill" in html  # the transcript is still there
    assert audit_rows(app, "transcript.review", cid) == []


def test_a_review_without_the_csrf_token_is_refused(app: Flask, world: World) -> None:
    client = login(app)
    response = client.post(
        f"/compliance/conversations/{world.ids['a']}/review", data={"outcome": "fine"}
    )
    assert response.status_code == 400
    assert audit_rows(app, "transcript.review", world.ids["a"]) == []


# ---------------------------------------------------------------------------- exports
def test_views_and_exports_are_audited_with_who_what_and_where(app: Flask, world: World) -> None:
    client = login(app)
    cid = world.ids["a"]
    for suffix in ("", "/export.json", "/export.csv", "/print"):
        assert client.get(f"/compliance/conversations/{cid}{suffix}").status_code == 200
    (view,) = audit_rows(app, "transcript.view")
    assert (view.actor, view.target_type, view.target_id, view.ip) == (
        COMPLIANCE, "conversation", cid, IP,
    )  # fmt: skip
    exports = audit_rows(app, "transcript.export")
    assert [e.detail for e in exports] == [{"format": f} for f in ("json", "csv", "print")]
    assert all(e.target_id == cid and e.actor == COMPLIANCE and e.ip == IP for e in exports)


def test_transcript_exports_download_the_whole_transcript(app: Flask, world: World) -> None:
    client = login(app)
    cid = world.ids["a"]
    response = client.get(f"/compliance/conversations/{cid}/export.csv")
    assert response.mimetype == "text/csv"
    assert re.fullmatch(
        rf'attachment; filename="transcript-ACC-100234-{cid[:12]}-\d{{8}}-\d{{6}}\.csv"',
        response.headers["Content-Disposition"],
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["type"] for r in rows] == ["message", "message", "event", "message"]
    assert rows[0]["text"] == "Hi, I never had this bill" and rows[0]["sender"] == "debtor"
    assert rows[2]["event_kind"] == "dispute"
    assert rows[3]["text"].startswith("'=HYPERLINK")  # a formula is neutralised
    assert rows[0]["local_time"].startswith("2026-11-20T07:00:00-08:00")

    response = client.get(f"/compliance/conversations/{cid}/export.json")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="transcript-ACC-100234-'
    )
    body = json.loads(response.get_data(as_text=True))
    assert body["id"] == cid and body["exported_by"] == COMPLIANCE
    assert [m["text"] for m in body["messages"]][:1] == ["Hi, I never had this bill"]
    assert [e["kind"] for e in body["events"]] == ["dispute"]
    assert body["integrity"] == {"intact": True, "problems": []}


def test_the_printable_copy_has_everything_and_no_nav(app: Flask, world: World) -> None:
    html = (
        login(app).get(f"/compliance/conversations/{world.ids['a']}/print").get_data(as_text=True)
    )
    assert 'class="cx-nav"' not in html and "cx-review-form" not in html
    assert "Printed " in html and f"by {COMPLIANCE}" in html
    assert "Hi, I never had this bill" in html and "DSP-0001" in html
    assert "Chain intact." in html and "2026-11-20 07:00 PST" in html
    assert "4 entries (3 messages, 1 events)" in html


# ---------------------------------------------------------------------------- checks
def test_the_checks_page_counts_hits_and_links_to_the_search(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = Finding("after_opt_out", "10", world.messages["a_bot"], T0, "sent after STOP")
    hits = {world.ids["a"]: [finding, finding], world.ids["d"]: [finding]}
    use_findings(monkeypatch, hits)
    client = login(app)
    html = client.get("/compliance/checks?since=2026-11-15&until=2026-11-30").get_data(as_text=True)
    for check in CHECKS:
        assert check.title in html and escape(check.description) in html
    row = re.search(r'<tr data-check="after_opt_out">.*?</tr>', html, re.S)
    assert row is not None
    link = re.search(r'href="([^"]+)"[^>]*>(\d+)</a>', row.group(0))
    assert link is not None and link.group(2) == "1"  # D is from Nov 10: outside the period
    url = link.group(1).replace("&amp;", "&")
    assert url == "/compliance/?flag=after_opt_out&since=2026-11-15&until=2026-11-30"
    assert found_ids(client.get(url).get_data(as_text=True)) == [world.ids["a"]]
    (entry,) = audit_rows(app, "checks.view")
    assert entry.detail == {"since": "2026-11-15", "until": "2026-11-30"}
    assert entry.actor == COMPLIANCE and entry.ip == IP


def test_the_checks_page_defaults_to_the_last_30_days(app: Flask, world: World) -> None:
    client = login(app)
    response = client.get("/compliance/checks")
    assert response.status_code == 200
    (entry,) = audit_rows(app, "checks.view")
    since = datetime.fromisoformat(entry.detail["since"]).date()
    until = datetime.fromisoformat(entry.detail["until"]).date()
    assert (until - since).days == 29
    response = client.get("/compliance/checks?since=soon")
    assert response.status_code == 400
    assert "since must be a date like" in response.get_data(as_text=True)


# ---------------------------------------------------------------------------- roles and audit
def test_an_agent_gets_403_on_every_compliance_page(app: Flask, world: World) -> None:
    client = login(app, AGENT)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("compliance."):
            continue
        url = rule.rule.replace("<conversation_id>", world.ids["a"])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            data = {"outcome": "fine", "csrf_token": token(client)} if method == "POST" else None
            response = client.open(url, method=method, data=data)
            assert response.status_code == 403, f"{method} {url}"
            assert "Your role does not give access" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 10
    assert [r.action for r in audit_rows(app) if r.actor == AGENT] == []


def test_the_audit_trail_is_for_admins_only(app: Flask, world: World) -> None:
    reviewer = login(app)
    reviewer.get(f"/compliance/conversations/{world.ids['a']}")
    reviewer.get("/compliance/?channel=sms")
    assert reviewer.get("/compliance/audit").status_code == 403
    assert "Audit trail" not in reviewer.get("/compliance/").get_data(as_text=True)

    admin = login(app, ADMIN)
    response = admin.get("/compliance/audit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/compliance/audit"' in html  # in the nav
    actions = re.findall(r'<tr data-action="([^"]+)">', html)
    assert actions[:3] == ["transcript.search", "transcript.search", "transcript.view"]
    assert COMPLIANCE in html and IP in html and world.ids["a"] in html
    assert "&#34;results&#34;: 2" in html or "&quot;results&quot;: 2" in html
    assert "<form" not in html.split('class="cx-filters')[1].split("</form>")[1]  # no edit forms

    filtered = admin.get(
        "/compliance/audit", query_string={"action": "transcript.view", "target_id": world.ids["a"]}
    ).get_data(as_text=True)
    assert re.findall(r'<tr data-action="([^"]+)">', filtered) == ["transcript.view"]
    by_actor = admin.get("/compliance/audit", query_string={"actor": ADMIN.upper()})
    assert set(re.findall(r'<tr data-action="([^"]+)">', by_actor.get_data(as_text=True))) == {
        "audit.view"
    }
    assert admin.get("/compliance/audit?page=x").status_code == 400
    views = audit_rows(app, "audit.view")
    assert len(views) == 3 and all(v.actor == ADMIN and v.ip == IP for v in views)
    assert views[1].detail["filters"] == {"action": "transcript.view", "target_id": world.ids["a"]}


def test_an_admin_can_use_every_compliance_page(app: Flask, world: World) -> None:
    client = login(app, ADMIN)
    for path in (
        "/compliance/",
        "/compliance/checks",
        f"/compliance/conversations/{world.ids['c']}",
    ):
        assert client.get(path).status_code == 200, path
    html = client.get(f"/compliance/conversations/{world.ids['c']}").get_data(as_text=True)
    assert "Hardship recorded: job loss." in html
    # can afford nothing: said, not left out
    assert "Hardship questions answered: job loss (temporary); can afford $0.00 a month." in html


def test_pages_send_a_strict_content_security_policy(app: Flask, world: World) -> None:
    response = login(app).get("/compliance/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("email", [COMPLIANCE, ADMIN])
def test_a_reviewer_signing_in_lands_on_the_transcript_search(app: Flask, email: str) -> None:
    client = app.test_client()
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token(client)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/compliance/")
    assert client.get(response.headers["Location"]).status_code == 200


def test_outreach_events_read_in_plain_words_in_the_transcript(app: Flask, world: World) -> None:
    with db(app) as s:
        for kind, data in [
            (EventKind.PAYMENT_MISSED, {"kind": "installment", "due_on": "2026-11-18",
                                        "amount_cents": 25000, "status": "missed"}),
            (EventKind.PAYMENT_RESCHEDULED, {"amount_cents": 25000, "old_date": "2026-11-18",
                                             "new_date": "2026-11-27", "was_missed": True}),
            (EventKind.SURVEY_ANSWERED, {"score": 4, "outreach_id": 1}),
        ]:  # fmt: skip
            record_event(s, kind, actor="system", conversation_id=world.ids["c"], data=data)
        s.commit()
    page = login(app).get(f"/compliance/conversations/{world.ids['c']}").get_data(as_text=True)
    assert "Installment of $250.00 due 2026-11-18 not paid: marked missed." in page
    assert "moved from 2026-11-18 to 2026-11-27 (it had been missed)." in page
    assert "Survey answered: 4 out of 5." in page


def test_a_contact_preference_reads_in_plain_words_in_the_transcript(
    app: Flask, world: World
) -> None:
    """As set_preference records it (channels space-separated): 'channels email, sms', not
    the letters one by one."""
    with db(app) as s:
        record_event(
            s, EventKind.PREFERENCE, actor="debtor", conversation_id=world.ids["c"],
            data={"channels": "email sms", "earliest": "17:00:00", "latest": None,
                  "avoid_work_hours": False, "avoid_weekends": True},
        )  # fmt: skip
        s.commit()
    page = login(app).get(f"/compliance/conversations/{world.ids['c']}").get_data(as_text=True)
    text = re.sub(r"\s+", " ", page)
    assert "channels email, sms; not before 5:00 PM; not on weekends;" in text
