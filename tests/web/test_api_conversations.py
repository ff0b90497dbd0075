"""The transcript side of the JSON API (interfaces.md section 3): GET /api/v1/conversations
(search, compliance and admin) and GET /api/v1/conversations/<id> (the whole transcript; agents
only for the handoffs they handled), each view and search audited (compliance rule 19). The
conversations are made by the real services, the web chat and the handoff API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.db import utcnow
from bot.domain.contact import Channel, Purpose
from bot.domain.redaction import redact
from bot.domain.verification import Answers
from bot.models import AuditLog, Conversation, Handoff, Message
from bot.services.cases import DisputeReason, HardshipCategory, open_dispute, record_hardship
from bot.services.consent import ConsentAction, record_consent
from bot.services.conversations import local_today
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, request_handoff
from bot.services.outbox import queue_message
from bot.services.plans import accept_plan, plan_options, record_promise
from bot.services.policy import load_policy
from bot.services.reviews import record_review
from bot.services.users import Role, create_user
from bot.services.verification import attempt
from tests.conftest import NOW, make_conversation
from tests.web.conftest import API_CLIENT_IP, PASSWORD, auth, demo_account, error_of, fresh

LIST = "/api/v1/conversations"
CARD = "4111 1111 1111 1111"


def debtor_says(session: Session, conversation: Conversation, text: str, when) -> Message:  # type: ignore[no-untyped-def]
    """What the gateway stores for an inbound message: the redacted text."""
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        sender="debtor",
        channel=conversation.channel,
        text=redact(text).text,
        status="received",
        created_at=when,
    )
    session.add(message)
    conversation.last_message_at = max(conversation.last_message_at, when)
    session.flush()
    return message


def audits(session: Session, action: str) -> list[AuditLog]:
    return list(
        fresh(session).scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        )
    )


def listing(api: FlaskClient, token: str, **args: Any) -> dict[str, Any]:
    response = api.get(LIST, query_string=args, headers=auth(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def listed(api: FlaskClient, token: str, **args: Any) -> list[str]:
    return [c["id"] for c in listing(api, token, **args)["conversations"]]


# ------------------------------------------------------------------------------ the data


@pytest.fixture
def story(api: FlaskClient, session: Session, tokens: dict[str, str]) -> dict[str, Any]:
    """Maria (Seattle) texts a card number, verifies, takes a plan and a promise, reports a
    hardship, complains and gets a person; the agent answers through the API and releases;
    she disputes a charge and opts out."""
    maria = demo_account(session)
    policy = load_policy(ROOT / "bot" / "policy.yml")
    # The agent's side below is stamped with the real clock: the story starts just before.
    t0 = utcnow() - timedelta(minutes=30)
    today = local_today(maria, t0)
    c = make_conversation(session, maria, started_at=t0, last_message_at=t0)
    minute = timedelta(minutes=1)
    debtor_says(session, c, f"hi it's Maria, my card is {CARD}", t0)
    attempt(session, c, Answers(date_of_birth=maria.date_of_birth, zip=maria.zip), now=t0 + minute)
    queue_message(
        session, c, "Thanks, you're verified.", sender="bot", initiated=False,
        purpose=Purpose.GENERAL, now=t0 + 2 * minute,
    )  # fmt: skip
    option = plan_options(session, maria, today=today, policy=policy)[0]
    accept_plan(
        session, maria, option, today=today, now=t0 + 3 * minute, actor="debtor",
        conversation_id=c.id,
    )  # fmt: skip
    record_promise(
        session, maria, amount_cents=5000, due_on=today + timedelta(days=3), today=today,
        now=t0 + 4 * minute, policy=policy, actor="debtor", conversation_id=c.id,
    )  # fmt: skip
    record_hardship(
        session, maria, HardshipCategory.ILLNESS, actor="debtor", now=t0 + 5 * minute,
        conversation_id=c.id,
    )  # fmt: skip
    debtor_says(session, c, "this is ridiculous, I want to file a complaint", t0 + 6 * minute)
    record_event(
        session, EventKind.COMPLAINT, actor="debtor", conversation_id=c.id,
        account_id=maria.id, data={"channel": "sms"}, at=t0 + 6 * minute,
    )  # fmt: skip
    handoff = request_handoff(session, c, HandoffReason.COMPLAINT, now=t0 + 6 * minute)
    session.commit()

    # The agent side goes through the API (it stamps the real time).
    headers = auth(tokens["agent"])
    assert api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=headers).status_code == 200
    sent = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages", headers=headers, json={"text": "Hi, Sam here."}
    )
    assert sent.status_code == 201, sent.get_json()
    assert api.post(f"/api/v1/handoffs/{handoff.id}/release", headers=headers).status_code == 200

    fresh(session)  # c and maria reload with what the API wrote
    later = max(m.created_at for m in session.scalars(select(Message))) + minute
    debtor_says(session, c, "the lab work charge is not mine", later)
    open_dispute(
        session, maria, DisputeReason.NOT_MINE, actor="debtor", now=later, conversation_id=c.id
    )
    debtor_says(session, c, "STOP", later + minute)
    record_consent(
        session, c.address, Channel.SMS, ConsentAction.OPT_OUT, source="debtor",
        account_id=maria.id, conversation_id=c.id, now=later + minute,
    )  # fmt: skip
    queue_message(
        session, c, "You're unsubscribed and will get no more texts.", sender="system",
        initiated=False, purpose=Purpose.COMPLIANCE, now=later + minute,
    )  # fmt: skip
    c.last_message_at = later + minute
    session.commit()
    return {"id": c.id, "handoff_id": handoff.id, "t0": t0}


def web_chat(app: Flask, text: str) -> None:
    """A debtor types into the web chat (Rasa is down: a holding reply and a handoff)."""
    browser = app.test_client()
    response = browser.post(
        "/chat/api/messages", json={"text": text}, headers={"X-Requested-With": "fetch"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def web_conversation(session: Session) -> str:
    return (
        fresh(session).scalars(select(Conversation.id).where(Conversation.channel == "web")).one()
    )


# ------------------------------------------------------------------------------ who may list


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer cat_not-a-token", "Basic dXNlcjpw"])
def test_listing_needs_a_valid_token(
    api: FlaskClient, session: Session, tokens: dict[str, str], header: str | None
) -> None:
    response = api.get(LIST, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    error_of(response)
    assert audits(session, "transcript.search") == []


def test_agents_may_not_search_transcripts(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    response = api.get(LIST, headers=auth(tokens["agent"]))
    assert response.status_code == 403
    error_of(response)
    assert audits(session, "transcript.search") == []


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_compliance_and_admin_list_summaries_with_flags(
    api: FlaskClient, tokens: dict[str, str], story: dict[str, Any], role: str
) -> None:
    body = listing(api, tokens[role])
    assert set(body) == {"conversations", "page", "per_page", "total", "pages"}
    assert (body["page"], body["total"], body["pages"]) == (1, 1, 1)
    assert isinstance(body["per_page"], int) and body["per_page"] >= 1
    (summary,) = body["conversations"]
    assert {
        "id", "channel", "account_ref", "flags", "checks", "review", "started_at",
        "last_message_at",
    } <= set(summary)  # fmt: skip
    assert summary["id"] == story["id"]
    assert (summary["channel"], summary["account_ref"]) == ("sms", "ACC-100234")
    assert summary["flags"] == [
        "handoff", "dispute", "hardship", "plan", "promise", "opt_out", "complaint",
    ]  # fmt: skip
    assert isinstance(summary["checks"], list)
    assert all({"check", "rule", "title"} <= set(check) for check in summary["checks"])
    assert summary["review"] is None
    assert summary["started_at"] == story["t0"].isoformat()
    assert summary["last_message_at"] > summary["started_at"]
    assert summary["message_count"] == 8


# ------------------------------------------------------------------------------ filters


@pytest.fixture
def several(session: Session, tokens: dict[str, str]) -> dict[str, str]:
    """Three conversations: Maria by SMS on 20 Nov with a dispute, James by SMS on 22 Nov asking
    for a person, and an anonymous web chat on 23 Nov; a breach review on James's."""
    maria, james = demo_account(session), demo_account(session, "ACC-100512")
    day = timedelta(days=1)
    m = make_conversation(
        session, maria, status="closed", started_at=NOW - 3 * day, last_message_at=NOW - 3 * day
    )
    debtor_says(session, m, "that bill was already paid in March", NOW - 3 * day)
    open_dispute(
        session, maria, DisputeReason.ALREADY_PAID, actor="debtor", now=NOW - 3 * day,
        conversation_id=m.id,
    )  # fmt: skip
    j = make_conversation(session, james, started_at=NOW - day, last_message_at=NOW - day)
    debtor_says(session, j, "let me talk to a real person about 50% off", NOW - day)
    request_handoff(session, j, HandoffReason.HUMAN_REQUEST, now=NOW - day)
    w = make_conversation(session, None, channel="web", address="web-abc", started_at=NOW)
    debtor_says(session, w, "hello?", NOW)
    reviewer = create_user(session, "lead@example.com", Role.COMPLIANCE, PASSWORD)
    record_review(session, j.id, reviewer, "breach", "kept collecting", now=NOW)
    session.commit()
    return {"maria": m.id, "james": j.id, "web": w.id}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, ["web", "james", "maria"]),
        ({"account_ref": "acc-100234"}, ["maria"]),
        ({"account_ref": "ACC-100512"}, ["james"]),
        ({"phone": "(206) 555-0134"}, ["maria"]),
        ({"phone": "404-555-0178"}, ["james"]),
        ({"name": "cart"}, ["james"]),
        ({"channel": "web"}, ["web"]),
        ({"channel": "sms"}, ["james", "maria"]),
        ({"flag": "dispute"}, ["maria"]),
        ({"flag": "handoff"}, ["james"]),
        ({"flag": "attorney"}, []),
        ({"since": "2026-11-22"}, ["web", "james"]),
        ({"until": "2026-11-22"}, ["james", "maria"]),
        ({"since": "2026-11-20", "until": "2026-11-20"}, ["maria"]),
        ({"text": "PAID march"}, ["maria"]),
        ({"text": "50%"}, ["james"]),
        ({"text": "5_%"}, []),
        ({"review": "breach"}, ["james"]),
        ({"review": "unreviewed"}, ["web", "maria"]),
        ({"channel": "sms", "flag": "dispute", "since": "2026-11-01"}, ["maria"]),
    ],
)
def test_filters_work_through_query_args(
    api: FlaskClient,
    tokens: dict[str, str],
    several: dict[str, str],
    args: dict[str, str],
    expected: list[str],
) -> None:
    assert listed(api, tokens["compliance"], **args) == [several[name] for name in expected]


def test_pages_through_query_args(
    api: FlaskClient, tokens: dict[str, str], several: dict[str, str]
) -> None:
    first = listing(api, tokens["compliance"], per_page=2)
    assert (first["page"], first["per_page"], first["total"], first["pages"]) == (1, 2, 3, 2)
    assert [c["id"] for c in first["conversations"]] == [several["web"], several["james"]]
    second = listing(api, tokens["compliance"], per_page=2, page=2)
    assert second["page"] == 2
    assert [c["id"] for c in second["conversations"]] == [several["maria"]]
    assert listing(api, tokens["compliance"], per_page=10_000)["per_page"] == 200
    assert listing(api, tokens["compliance"], per_page=0)["per_page"] >= 1


def test_the_review_is_part_of_the_summary(
    api: FlaskClient, tokens: dict[str, str], several: dict[str, str]
) -> None:
    (james,) = listing(api, tokens["compliance"], review="breach")["conversations"]
    assert james["review"]["outcome"] == "breach"
    assert james["review"]["reviewer"] == "lead@example.com"
    assert james["review"]["note"] == "kept collecting"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"since": "2026-02-30"}, "since must be a date"),
        ({"until": "last week"}, "until must be a date"),
        ({"since": "2026-11-23", "until": "2026-11-01"}, "since is after until"),
        ({"flag": "fraud"}, "unknown flag"),
        ({"channel": "fax"}, "channel must be sms or web"),
        ({"phone": "not a phone"}, "not a phone number"),
        ({"review": "meh"}, "review must be one of"),
        ({"page": "first"}, "page must be a number"),
        ({"per_page": "lots"}, "per_page must be a number"),
    ],
)
def test_a_bad_filter_is_a_json_400(
    api: FlaskClient,
    session: Session,
    tokens: dict[str, str],
    args: dict[str, str],
    message: str,
) -> None:
    response = api.get(LIST, query_string=args, headers=auth(tokens["compliance"]))
    assert response.status_code == 400
    assert message in error_of(response)
    assert audits(session, "transcript.search") == []


def test_the_last_possible_until_date_is_not_a_500(
    api: FlaskClient, tokens: dict[str, str], several: dict[str, str]
) -> None:
    response = api.get(LIST, query_string={"until": "9999-12-31"}, headers=auth(tokens["admin"]))
    assert response.status_code in (200, 400), response.get_json()


def test_a_card_number_searched_for_is_not_stored_in_the_audit_log(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    listing(api, tokens["compliance"], text=f"card {CARD.replace(' ', '')}")
    (entry,) = audits(session, "transcript.search")
    assert CARD.replace(" ", "") not in str(entry.detail)
    assert "1111" in entry.detail["filters"]["text"]  # the masked form is still searchable


def test_each_search_is_audited_with_who_where_and_the_filters(
    api: FlaskClient, session: Session, tokens: dict[str, str], several: dict[str, str]
) -> None:
    listing(api, tokens["compliance"], account_ref="ACC-100234", channel="sms", flag="dispute")
    listing(api, tokens["admin"])
    first, second = audits(session, "transcript.search")
    assert first.actor == "compliance@example.com" and first.actor_id is not None
    assert first.ip == API_CLIENT_IP
    assert first.detail["via"] == "api"
    assert first.detail["filters"] == {
        "account_ref": "ACC-100234",
        "channel": "sms",
        "flag": "dispute",
    }
    assert first.detail["results"] == 1
    assert second.actor == "admin@example.com" and second.detail["filters"] == {}
    assert second.detail["results"] == 3


# ------------------------------------------------------------------------------ one transcript


def test_the_transcript_has_every_message_in_order_and_the_events(
    api: FlaskClient, tokens: dict[str, str], story: dict[str, Any]
) -> None:
    response = api.get(f"{LIST}/{story['id']}", headers=auth(tokens["compliance"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == story["id"] and body["account_ref"] == "ACC-100234"
    messages = body["messages"]
    assert [(m["direction"], m["sender"]) for m in messages] == [
        ("in", "debtor"),
        ("out", "bot"),
        ("in", "debtor"),
        ("out", "agent"),
        ("out", "system"),  # the assistant is back
        ("in", "debtor"),
        ("in", "debtor"),
        ("out", "system"),  # the opt-out confirmation
    ]
    for m in messages:
        assert {"direction", "sender", "text", "channel", "created_at", "status"} <= set(m)
        assert m["channel"] == "sms" and m["status"]
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert messages[0]["text"] == "hi it's Maria, my card is [card ending 1111]"
    assert messages[0]["status"] == "received" and messages[1]["status"] == "queued"
    assert messages[3]["text"] == "Hi, Sam here." and messages[3]["agent"] == "agent@example.com"
    assert messages[6]["text"] == "STOP"

    events = body["events"]
    for e in events:
        assert {"kind", "actor", "data", "created_at"} <= set(e)
    assert [e["kind"] for e in events] == [
        "verification_passed",
        "plan_accepted",
        "promise",
        "hardship",
        "complaint",
        "handoff_requested",
        "handoff_claimed",
        "handoff_released",
        "hold_placed",
        "dispute",
        "opt_out",
    ]
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["promise"]["data"]["amount_cents"] == 5000
    assert by_kind["hardship"]["data"]["category"] == "illness"
    assert by_kind["dispute"]["data"]["reason"] == "not_mine"
    assert by_kind["dispute"]["data"]["reference"].startswith("D")
    assert by_kind["handoff_requested"]["data"]["reason"] == "complaint"
    assert by_kind["plan_accepted"]["actor"] == "debtor"
    assert by_kind["handoff_claimed"]["actor"].startswith("agent")
    assert by_kind["opt_out"]["data"]["address_channel"] == "sms"
    assert body["time_zone"] == "America/Los_Angeles"
    assert body["integrity"]["intact"] is True


def test_a_card_number_typed_in_the_web_chat_never_reaches_the_api(
    app: Flask, api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    web_chat(app, f"can I just pay with {CARD} exp 04/29")
    conversation_id = web_conversation(session)
    (summary,) = listing(api, tokens["compliance"], channel="web")["conversations"]
    assert summary["id"] == conversation_id and "handoff" in summary["flags"]
    response = api.get(f"{LIST}/{conversation_id}", headers=auth(tokens["compliance"]))
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    for digits in (CARD, CARD.replace(" ", ""), "4111 1111", "41111111"):
        assert digits not in raw
    first = response.get_json()["messages"][0]
    assert first["sender"] == "debtor" and first["channel"] == "web"
    assert first["text"] == "can I just pay with [card ending 1111] exp 04/29"


def test_an_unknown_conversation_is_404(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    response = api.get(f"{LIST}/{'0' * 32}", headers=auth(tokens["compliance"]))
    assert response.status_code == 404
    error_of(response)
    assert audits(session, "transcript.view") == []


def test_a_transcript_needs_a_valid_token(
    api: FlaskClient, session: Session, tokens: dict[str, str], story: dict[str, Any]
) -> None:
    for headers in ({}, {"Authorization": "Bearer cat_nope"}):
        response = api.get(f"{LIST}/{story['id']}", headers=headers)
        assert response.status_code == 401
        error_of(response)
    assert audits(session, "transcript.view") == []


@pytest.mark.parametrize(("who", "status"), [("agent", 200), ("agent2", 403)])
def test_agents_see_only_the_conversations_whose_handoff_they_handled(
    api: FlaskClient,
    session: Session,
    tokens: dict[str, str],
    story: dict[str, Any],
    who: str,
    status: int,
) -> None:
    response = api.get(f"{LIST}/{story['id']}", headers=auth(tokens[who]))
    assert response.status_code == status
    if status == 403:
        error_of(response)
        assert "messages" not in response.get_json()
        assert audits(session, "transcript.view") == []
    else:
        assert len(response.get_json()["messages"]) == 8


def test_an_agent_may_not_read_a_conversation_never_handed_off(
    api: FlaskClient, session: Session, tokens: dict[str, str], several: dict[str, str]
) -> None:
    response = api.get(f"{LIST}/{several['maria']}", headers=auth(tokens["agent"]))
    assert response.status_code == 403
    error_of(response)


def test_an_agent_waiting_handoff_nobody_claimed_is_not_theirs(
    api: FlaskClient, session: Session, tokens: dict[str, str], several: dict[str, str]
) -> None:
    handoff = fresh(session).scalars(select(Handoff)).one()
    assert handoff.conversation_id == several["james"] and handoff.status == "waiting"
    response = api.get(f"{LIST}/{several['james']}", headers=auth(tokens["agent"]))
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_compliance_and_admin_read_any_transcript(
    api: FlaskClient, tokens: dict[str, str], several: dict[str, str], role: str
) -> None:
    for conversation_id in several.values():
        response = api.get(f"{LIST}/{conversation_id}", headers=auth(tokens[role]))
        assert response.status_code == 200
        assert response.get_json()["id"] == conversation_id


def test_each_view_is_audited_with_who_what_and_where(
    api: FlaskClient, session: Session, tokens: dict[str, str], story: dict[str, Any]
) -> None:
    for who in ("compliance", "agent", "compliance"):
        assert api.get(f"{LIST}/{story['id']}", headers=auth(tokens[who])).status_code == 200
    views = audits(session, "transcript.view")
    assert [v.actor for v in views] == [
        "compliance@example.com",
        "agent@example.com",
        "compliance@example.com",
    ]
    for view in views:
        assert view.target_type == "conversation" and view.target_id == story["id"]
        assert (
            view.ip == API_CLIENT_IP and view.detail == {"via": "api"} and view.actor_id is not None
        )
        assert view.at is not None
