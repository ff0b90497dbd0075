"""The handoff side of the JSON API (/api/v1/handoffs): the queue, claim, the agent's messages,
release and close, with every refusal (401, 403, 404, 405, 400, 409), on SQLite and PostgreSQL.
Rasa is a closed port, so a release cannot resume the tracker: it must still succeed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Conversation, Handoff, Message
from bot.services.consent import ConsentAction, record_consent
from bot.services.handoff import HandoffReason, request_handoff
from bot.wording import _responses
from tests.conftest import NOW, make_conversation
from tests.web.conftest import auth, demo_account, error_of, fresh


def new_handoff(
    session: Session,
    *,
    channel: str = "sms",
    ref: str = "ACC-100234",
    debtor_wrote: bool = True,
    reason: HandoffReason = HandoffReason.HUMAN_REQUEST,
) -> Handoff:
    """A waiting handoff on a fresh conversation; the debtor just wrote (so a reply is one)."""
    account = demo_account(session, ref)
    extra: dict[str, Any] = {} if channel == "sms" else {"address": f"web-{ref}"}
    conversation = make_conversation(session, account, channel=channel, **extra)
    now = utcnow()
    if debtor_wrote:
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="in",
                sender="debtor",
                channel=channel,
                text="I want to talk to a person",
                status="received",
                created_at=now,
            )
        )
    handoff = request_handoff(session, conversation, reason, now=now)
    session.commit()
    return handoff


def claimed(api: FlaskClient, session: Session, tokens: dict[str, str], **kw: Any) -> Handoff:
    handoff = new_handoff(session, **kw)
    response = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent"]))
    assert response.status_code == 200, response.get_json()
    return handoff


def outbound(session: Session, conversation_id: str) -> list[Message]:
    return list(
        fresh(session).scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == "out")
            .order_by(Message.id)
        )
    )


# ------------------------------------------------------------------------------ authentication

HANDOFF_ROUTES = [
    ("get", "/api/v1/handoffs"),
    ("post", "/api/v1/handoffs/{id}/claim"),
    ("post", "/api/v1/handoffs/{id}/messages"),
    ("post", "/api/v1/handoffs/{id}/release"),
    ("post", "/api/v1/handoffs/{id}/close"),
]


@pytest.mark.parametrize(("method", "path"), HANDOFF_ROUTES)
@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer cat_not-a-token", "Basic dXNlcjpwYXNz", "cat_no-scheme"],
)
def test_401_without_a_valid_token(
    api: FlaskClient,
    session: Session,
    tokens: dict[str, str],
    method: str,
    path: str,
    header: str | None,
) -> None:
    handoff = new_handoff(session)
    headers = {"Authorization": header} if header is not None else {}
    response = getattr(api, method)(
        path.format(id=handoff.id), headers=headers, json={"text": "hi"}
    )
    assert response.status_code == 401
    error_of(response)
    assert fresh(session).get(Handoff, handoff.id).status == "waiting"  # type: ignore[union-attr]


def test_a_revoked_token_is_401(api: FlaskClient, session: Session, tokens: dict[str, str]) -> None:
    from bot.models import ApiToken

    for row in session.scalars(select(ApiToken)):
        row.revoked_at = utcnow()
    session.commit()
    response = api.get("/api/v1/handoffs", headers=auth(tokens["agent"]))
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize(("method", "path"), HANDOFF_ROUTES)
def test_compliance_may_not_touch_handoffs(
    api: FlaskClient, session: Session, tokens: dict[str, str], method: str, path: str
) -> None:
    handoff = new_handoff(session)
    response = getattr(api, method)(
        path.format(id=handoff.id), headers=auth(tokens["compliance"]), json={"text": "hi"}
    )
    assert response.status_code == 403
    error_of(response)
    assert fresh(session).get(Handoff, handoff.id).status == "waiting"  # type: ignore[union-attr]


@pytest.mark.parametrize(("method", "path"), HANDOFF_ROUTES[1:])
def test_admin_lists_but_does_not_act_as_an_agent(
    api: FlaskClient, session: Session, tokens: dict[str, str], method: str, path: str
) -> None:
    handoff = new_handoff(session)
    assert api.get("/api/v1/handoffs", headers=auth(tokens["admin"])).status_code == 200
    response = getattr(api, method)(
        path.format(id=handoff.id), headers=auth(tokens["admin"]), json={"text": "hi"}
    )
    assert response.status_code == 403
    error_of(response)


# ------------------------------------------------------------------------------ 404, 405, 400


@pytest.mark.parametrize(("method", "path"), HANDOFF_ROUTES[1:])
def test_unknown_handoff_is_404(
    api: FlaskClient, tokens: dict[str, str], method: str, path: str
) -> None:
    response = getattr(api, method)(
        path.format(id=987654), headers=auth(tokens["agent"]), json={"text": "hi"}
    )
    assert response.status_code == 404
    error_of(response)


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/api/v1/handoffs/abc/claim", "/api/v1", "/api/v1/handoffs/1"]
)
def test_unknown_route_under_the_api_is_json_404(
    api: FlaskClient, tokens: dict[str, str], path: str
) -> None:
    for headers in ({}, auth(tokens["agent"])):
        response = api.get(path, headers=headers)
        assert response.status_code == 404
        error_of(response)
    response = api.post(path, headers=auth(tokens["agent"]), json={})
    assert response.status_code == 404
    error_of(response)


def test_unknown_route_elsewhere_is_not_turned_into_json(api: FlaskClient) -> None:
    response = api.get("/no-such-page")
    assert response.status_code == 404
    assert not response.is_json


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/handoffs"),
        ("delete", "/api/v1/handoffs"),
        ("get", "/api/v1/handoffs/1/claim"),
        ("put", "/api/v1/handoffs/1/messages"),
        ("get", "/api/v1/handoffs/1/release"),
        ("patch", "/api/v1/handoffs/1/close"),
        ("post", "/api/v1/accounts/ACC-100234"),
    ],
)
def test_wrong_method_is_json_405(
    api: FlaskClient, tokens: dict[str, str], method: str, path: str
) -> None:
    response = getattr(api, method)(path, headers=auth(tokens["agent"]))
    assert response.status_code == 405
    error_of(response)
    assert response.headers.get("Allow")


def test_bad_status_filter_is_400(api: FlaskClient, tokens: dict[str, str]) -> None:
    for status in ("open", "", "WAITING", "waiting,active"):
        response = api.get(f"/api/v1/handoffs?status={status}", headers=auth(tokens["agent"]))
        assert response.status_code == 400, status
        assert "status" in error_of(response)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": "not json", "content_type": "application/json"},
        {"data": "{", "content_type": "application/json"},
        {"json": ["text"]},
        {"json": "hello"},
        {"json": {}},
        {"json": {"text": ""}},
        {"json": {"text": "   \n "}},
        {"json": {"text": None}},
        {"json": {"text": 42}},
        {"json": {"text": ["a"]}},
        {"json": {"message": "hello"}},
        {"json": {"text": "x" * 1601}},
        {"data": "text=hello", "content_type": "application/x-www-form-urlencoded"},
        {},
    ],
)
def test_bad_message_body_is_400_and_stores_nothing(
    api: FlaskClient, session: Session, tokens: dict[str, str], kwargs: dict[str, Any]
) -> None:
    handoff = claimed(api, session, tokens)
    response = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages", headers=auth(tokens["agent"]), **kwargs
    )
    assert response.status_code == 400
    error_of(response)
    assert outbound(session, handoff.conversation_id) == []


def test_longest_text_allowed_fits_an_sms_with_the_opt_out_line(
    api: FlaskClient, session: Session, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.web import api as api_module

    MAX_TEXT = api_module.MAX_TEXT
    # No debtor message: the agent initiates, so the opt-out line is appended; at 10:30 on a
    # Monday in Seattle, inside the contact window.
    monkeypatch.setattr(api_module, "utcnow", lambda: NOW)
    handoff = claimed(api, session, tokens, debtor_wrote=False)
    response = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "y" * MAX_TEXT},
    )
    assert response.status_code == 201, response.get_json()
    too_long = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "y" * (MAX_TEXT + 1)},
    )
    assert too_long.status_code == 400
    assert "longer" in error_of(too_long)
    [message] = outbound(session, handoff.conversation_id)
    assert message.initiated is True
    assert len(message.text) == 1600 and message.text.endswith("Reply STOP to opt out.")


# ------------------------------------------------------------------------------ the queue


def test_list_and_status_filter(api: FlaskClient, session: Session, tokens: dict[str, str]) -> None:
    waiting = new_handoff(session, ref="ACC-100234")
    active = new_handoff(session, ref="ACC-100512", reason=HandoffReason.DISTRESS)
    closed = new_handoff(session, ref="ACC-100777", channel="web")
    for handoff in (active, closed):
        r = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent"]))
        assert r.status_code == 200
    r = api.post(f"/api/v1/handoffs/{closed.id}/close", headers=auth(tokens["agent"]))
    assert r.status_code == 200

    everything = api.get("/api/v1/handoffs", headers=auth(tokens["agent"])).get_json()["handoffs"]
    assert [h["id"] for h in everything] == [waiting.id, active.id, closed.id]
    for status, expected in (("waiting", waiting), ("active", active), ("closed", closed)):
        response = api.get(f"/api/v1/handoffs?status={status}", headers=auth(tokens["admin"]))
        assert response.status_code == 200
        rows = response.get_json()["handoffs"]
        assert [h["id"] for h in rows] == [expected.id]
        assert rows[0]["status"] == status

    by_id = {h["id"]: h for h in everything}
    first = by_id[waiting.id]
    assert set(first) == {
        "id",
        "conversation_id",
        "account_ref",
        "channel",
        "reason",
        "urgent",
        "status",
        "agent",
        "created_at",
        "claimed_at",
        "released_at",
        "closed_at",
    }
    assert first["conversation_id"] == waiting.conversation_id
    assert first["account_ref"] == "ACC-100234"
    assert first["channel"] == "sms"
    assert first["reason"] == "human_request"
    assert first["urgent"] is False
    assert first["agent"] is None and first["claimed_at"] is None
    assert first["created_at"].startswith(str(utcnow().year))
    assert by_id[active.id]["urgent"] is True and by_id[active.id]["reason"] == "distress"
    assert by_id[active.id]["agent"] == "agent@example.com"
    assert by_id[active.id]["claimed_at"] is not None
    assert by_id[closed.id]["channel"] == "web" and by_id[closed.id]["closed_at"] is not None


def test_empty_queue(api: FlaskClient, tokens: dict[str, str]) -> None:
    response = api.get("/api/v1/handoffs?status=waiting", headers=auth(tokens["agent"]))
    assert response.status_code == 200
    assert response.get_json() == {"handoffs": []}


# ------------------------------------------------------------------------------ claim


def test_claim_makes_the_caller_the_handling_agent(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = new_handoff(session)
    response = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == handoff.id
    assert body["status"] == "active"
    assert body["agent"] == "agent@example.com"
    assert body["claimed_at"] is not None
    stored = fresh(session).get(Handoff, handoff.id)
    assert stored is not None and stored.status == "active"

    again = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent2"]))
    assert again.status_code == 409
    assert "already claimed" in error_of(again)
    same = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent"]))
    assert same.status_code == 409
    stored = fresh(session).get(Handoff, handoff.id)
    assert stored is not None and stored.claimed_at is not None
    agent_email = api.get("/api/v1/handoffs", headers=auth(tokens["agent"])).get_json()
    assert agent_email["handoffs"][0]["agent"] == "agent@example.com"


def test_claim_of_a_closed_handoff_is_409(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    assert (
        api.post(f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens["agent"])).status_code
        == 200
    )
    response = api.post(f"/api/v1/handoffs/{handoff.id}/claim", headers=auth(tokens["agent2"]))
    assert response.status_code == 409
    error_of(response)


def test_two_concurrent_claims_one_wins(
    app: Flask, session: Session, tokens: dict[str, str]
) -> None:
    for _round in range(3):
        handoff = new_handoff(session)
        barrier = threading.Barrier(2)
        results: dict[str, tuple[int, dict[str, Any]]] = {}

        def claim(name: str, handoff_id: int = handoff.id, barrier=barrier, results=results):  # type: ignore[no-untyped-def]
            client = app.test_client()
            barrier.wait(timeout=10)
            r = client.post(f"/api/v1/handoffs/{handoff_id}/claim", headers=auth(tokens[name]))
            results[name] = (r.status_code, r.get_json())

        threads = [threading.Thread(target=claim, args=(n,)) for n in ("agent", "agent2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        statuses = sorted(code for code, _ in results.values())
        assert statuses == [200, 409], results
        winner = next(n for n, (code, _) in results.items() if code == 200)
        loser = next(n for n, (code, _) in results.items() if code == 409)
        assert results[loser][1]["error"]
        stored = fresh(session).get(Handoff, handoff.id)
        assert stored is not None and stored.status == "active"
        assert results[winner][1]["agent"] == f"{winner}@example.com"
        claims = session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.id == handoff.id, Handoff.agent_id.is_not(None))
        )
        assert claims == 1
        # Close it so the next round's conversation for the same address can open.
        close = app.test_client().post(
            f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens[winner])
        )
        assert close.status_code == 200


# ------------------------------------------------------------------------------ messages


def test_handling_agent_replies_on_sms(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    response = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "  Hi Maria, this is Sam. How can I help?  "},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "queued" and body["channel"] == "sms"
    [message] = outbound(session, handoff.conversation_id)
    assert message.id == body["id"]
    assert message.sender == "agent"
    assert message.text == "Hi Maria, this is Sam. How can I help?"
    assert message.initiated is False  # answering what the debtor just wrote


def test_agent_reply_is_redacted(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens, channel="web")
    response = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "Your card 4111 1111 1111 1111 is on file"},
    )
    assert response.status_code == 201
    assert response.get_json()["channel"] == "web"
    [message] = outbound(session, handoff.conversation_id)
    assert "4111 1111 1111 1111" not in message.text


def test_a_second_reply_to_the_same_debtor_message_is_still_a_reply(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    """REPLY_WINDOW: "an agent writing within this long of the debtor's last message is
    replying to it" - also when the agent already wrote once since."""
    handoff = claimed(api, session, tokens)
    for text in ("Let me look at your account.", "OK, I see it now."):
        response = api.post(
            f"/api/v1/handoffs/{handoff.id}/messages",
            headers=auth(tokens["agent"]),
            json={"text": text},
        )
        assert response.status_code == 201
    first, second = outbound(session, handoff.conversation_id)
    assert first.initiated is False
    assert second.initiated is False
    assert "STOP" not in second.text


def test_message_by_a_non_handler_is_409(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    waiting = new_handoff(session)
    r = api.post(
        f"/api/v1/handoffs/{waiting.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "hello"},
    )
    assert r.status_code == 409  # nobody claimed it yet
    assert "handling" in error_of(r)
    api.post(f"/api/v1/handoffs/{waiting.id}/claim", headers=auth(tokens["agent"]))
    r = api.post(
        f"/api/v1/handoffs/{waiting.id}/messages",
        headers=auth(tokens["agent2"]),
        json={"text": "hello"},
    )
    assert r.status_code == 409
    assert "handling" in error_of(r)
    assert r.get_json().get("code") == "not_handling"
    assert outbound(session, waiting.conversation_id) == []


def test_message_to_an_opted_out_sms_number_is_409_and_nothing_is_stored(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    account = demo_account(session)
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    record_consent(
        session,
        conversation.address,
        "sms",
        ConsentAction.OPT_OUT,
        source="keyword",
        account_id=account.id,
        conversation_id=conversation.id,
    )
    session.commit()
    messages_before = fresh(session).scalar(select(func.count()).select_from(Message))
    response = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "Are you still there?"},
    )
    assert response.status_code == 409
    assert "opted" in error_of(response).lower()
    assert response.get_json().get("code") == "contact_refused"
    assert fresh(session).scalar(select(func.count()).select_from(Message)) == messages_before
    assert outbound(session, handoff.conversation_id) == []


# ------------------------------------------------------------------------------ release, close


def welcome_back_texts() -> list[str]:
    from bot.config import ROOT

    return _responses(ROOT / "domain.yml")["utter_assistant_back"]


def test_release_gives_the_conversation_back_to_the_bot(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    other = api.post(f"/api/v1/handoffs/{handoff.id}/release", headers=auth(tokens["agent2"]))
    assert other.status_code == 409
    response = api.post(f"/api/v1/handoffs/{handoff.id}/release", headers=auth(tokens["agent"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == handoff.id and body["status"] == "closed"
    assert body["released_at"] is not None and body["closed_at"] is not None
    assert body["bot_resumed"] is False  # Rasa is a closed port in these tests
    stored = fresh(session).get(Handoff, handoff.id)
    conversation = session.get(Conversation, handoff.conversation_id)
    assert stored is not None and stored.status == "closed"
    assert conversation is not None and conversation.status == "bot"
    [message] = outbound(session, handoff.conversation_id)
    assert message.sender == "system" and message.status == "queued"
    assert message.text in welcome_back_texts()

    for action in ("release", "close", "messages"):
        again = api.post(
            f"/api/v1/handoffs/{handoff.id}/{action}",
            headers=auth(tokens["agent"]),
            json={"text": "still there?"},
        )
        assert again.status_code == 409, action
        error_of(again)


def test_release_while_a_message_is_in_flight(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    sent = api.post(
        f"/api/v1/handoffs/{handoff.id}/messages",
        headers=auth(tokens["agent"]),
        json={"text": "I'll hand you back to the assistant now."},
    )
    assert sent.status_code == 201
    released = api.post(f"/api/v1/handoffs/{handoff.id}/release", headers=auth(tokens["agent"]))
    assert released.status_code == 200
    agent_msg, welcome = outbound(session, handoff.conversation_id)
    assert agent_msg.id == sent.get_json()["id"]
    assert agent_msg.sender == "agent" and agent_msg.status == "queued"  # still for the outbox
    assert welcome.sender == "system" and welcome.status == "queued"
    assert agent_msg.id < welcome.id  # the debtor reads them in this order
    assert fresh(session).get(Conversation, handoff.conversation_id).status == "bot"  # type: ignore[union-attr]


def test_release_to_an_opted_out_number_sends_no_welcome_back(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    record_consent(session, conversation.address, "sms", ConsentAction.OPT_OUT, source="keyword")
    session.commit()
    response = api.post(f"/api/v1/handoffs/{handoff.id}/release", headers=auth(tokens["agent"]))
    assert response.status_code == 200
    assert outbound(session, handoff.conversation_id) == []


def test_close_ends_the_conversation(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = claimed(api, session, tokens)
    other = api.post(f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens["agent2"]))
    assert other.status_code == 409
    response = api.post(f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens["agent"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "closed" and body["closed_at"] is not None
    assert body["released_at"] is None
    conversation = fresh(session).get(Conversation, handoff.conversation_id)
    assert conversation is not None and conversation.status == "closed"
    assert outbound(session, handoff.conversation_id) == []
    again = api.post(f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens["agent"]))
    assert again.status_code == 409


def test_waiting_handoff_cannot_be_released_or_closed(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    handoff = new_handoff(session)
    for action in ("release", "close"):
        r = api.post(f"/api/v1/handoffs/{handoff.id}/{action}", headers=auth(tokens["agent"]))
        assert r.status_code == 409
        error_of(r)
    stored = fresh(session).get(Handoff, handoff.id)
    assert stored is not None and stored.status == "waiting"


def test_actions_are_audited(api: FlaskClient, session: Session, tokens: dict[str, str]) -> None:
    from bot.models import AuditLog

    handoff = claimed(api, session, tokens)
    api.post(f"/api/v1/handoffs/{handoff.id}/close", headers=auth(tokens["agent"]))
    rows = list(fresh(session).scalars(select(AuditLog).order_by(AuditLog.id)))
    assert [(r.action, r.actor, r.target_id) for r in rows] == [
        ("api.handoff.claim", "agent@example.com", str(handoff.id)),
        ("api.handoff.close", "agent@example.com", str(handoff.id)),
    ]
