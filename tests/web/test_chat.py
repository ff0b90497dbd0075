"""The web chat page and its JSON API, over a real database, with Rasa unreachable (port 9) so
the gateway answers with its honest holding reply and hands the conversation to a person."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Conversation, Handoff, Message
from bot.services.handoff import claim, release
from bot.wording import render
from tests.integration.factories import make_staff_user

HEADERS = {"X-Requested-With": "fetch"}
HOLDING = render("utter_holding")


def say(client: FlaskClient, text: Any, **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/chat/api/messages", json={"text": text}, headers={**HEADERS, **headers})


def poll(client: FlaskClient, after: int | str = 0):  # type: ignore[no-untyped-def]
    return client.get(f"/chat/api/messages?after={after}", headers=HEADERS)


def db(app: Flask) -> Session:
    return Session(create_engine(app.extensions["settings"].database_url))


def counts(app: Flask) -> tuple[int, int]:
    with db(app) as s:
        return (
            s.scalar(select(func.count()).select_from(Message)) or 0,
            s.scalar(select(func.count()).select_from(Conversation)) or 0,
        )


def test_chat_page_is_accessible_and_names_the_company(client: FlaskClient) -> None:
    response = client.get("/chat")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Evergreen Health Billing" in html
    assert 'aria-live="polite"' in html and 'role="log"' in html
    assert '<label for="text"' in html and 'id="text"' in html
    assert (
        "Automated assistant. Type AGENT for a person. Don&#39;t share card numbers here." in (html)
        or "Automated assistant. Type AGENT for a person. Don't share card numbers here." in html
    )
    assert 'name="viewport"' in html and "/chat/static/chat.js" in html
    assert "innerHTML" not in client.get("/chat/static/chat.js").get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_message_round_trip_stores_inbound_and_holding_reply(app: Flask, client: FlaskClient):
    response = say(client, "  hi there  ")
    assert response.status_code == 200
    messages = response.get_json()["messages"]
    assert [(m["direction"], m["sender"], m["text"]) for m in messages] == [
        ("in", "debtor", "hi there"),
        ("out", "bot", HOLDING),
    ]
    assert all(isinstance(m["id"], int) and "T" in m["created_at"] for m in messages)
    with db(app) as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.channel == "web" and conversation.address.startswith("web-")
        stored = s.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.direction, m.channel, m.status) for m in stored] == [
            ("in", "web", "processed"),
            ("out", "web", "delivered"),
        ]
        # Rasa unavailable: a person takes over the same conversation.
        handoff = s.scalars(select(Handoff)).one()
        assert handoff.conversation_id == conversation.id and handoff.reason == "failure"


def test_the_page_is_told_who_answers_next_waiting_for_a_person_the_agent_then_the_bot(
    app: Flask, client: FlaskClient
) -> None:
    """The bot is silent while a person has the conversation: the chat says who the debtor
    is waiting for, and when the assistant is back."""
    assert poll(client).get_json()["handled_by"] == "assistant"  # nothing said yet
    assert say(client, "hi").get_json()["handled_by"] == "waiting"  # Rasa down: a person
    assert poll(client).get_json()["handled_by"] == "waiting"
    with db(app) as s:
        agent = make_staff_user(s)
        handoff_id, agent_id = s.scalars(select(Handoff.id)).one(), agent.id
        claim(s, handoff_id, agent_id, now=utcnow())
        s.commit()
    assert poll(client).get_json()["handled_by"] == "agent"
    with db(app) as s:
        release(s, handoff_id, agent_id, now=utcnow(), welcome_back="You're back with the bot.")
        s.commit()
    back = poll(client).get_json()
    assert back["handled_by"] == "assistant"
    assert back["messages"][-1]["text"] == "You're back with the bot."


def test_card_numbers_are_redacted_before_storing(app: Flask, client: FlaskClient) -> None:
    response = say(client, "my card is 4111 1111 1111 1111")
    assert response.status_code == 200
    assert "4111 1111" not in response.get_json()["messages"][0]["text"]
    with db(app) as s:
        assert all("4111 1111" not in m.text for m in s.scalars(select(Message)))


def test_session_keeps_the_conversation_across_requests_and_reloads(
    app: Flask, client: FlaskClient
) -> None:
    first = say(client, "hi").get_json()["messages"]
    client.get("/chat")  # a reload keeps the signed session cookie
    second = say(client, "are you there?")
    assert second.status_code == 200
    assert second.get_json()["messages"][0]["text"] == "are you there?"
    with db(app) as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 1
        ids = {m.conversation_id for m in s.scalars(select(Message))}
        assert len(ids) == 1
    # The reloaded page redraws the whole history from after=0.
    history = poll(client, 0).get_json()["messages"]
    assert [m["id"] for m in history][: len(first)] == [m["id"] for m in first]
    assert history[-1]["text"] == "are you there?"
    # Another browser gets its own conversation.
    other = app.test_client()
    say(other, "hello")
    assert counts(app)[1] == 2
    assert all(m["text"] != "hello" for m in poll(client, 0).get_json()["messages"])


def test_polling_returns_only_newer_messages_and_delivers_agent_replies(
    app: Flask, client: FlaskClient
) -> None:
    first = say(client, "hi").get_json()["messages"]
    last_seen = first[-1]["id"]
    assert poll(client, last_seen).get_json()["messages"] == []

    with db(app) as s:
        conversation = s.scalars(select(Conversation)).one()
        s.add(
            Message(
                conversation_id=conversation.id, direction="out", sender="agent", channel="web",
                text="Hi Maria, this is Sam. I can help.", status="queued", created_at=utcnow(),
            )
        )  # fmt: skip
        s.commit()

    newer = poll(client, last_seen).get_json()["messages"]
    assert [(m["sender"], m["text"]) for m in newer] == [
        ("agent", "Hi Maria, this is Sam. I can help.")
    ]
    assert [m["id"] for m in poll(client, first[0]["id"]).get_json()["messages"]] == [
        first[1]["id"],
        newer[0]["id"],
    ]
    with db(app) as s:
        agent = s.scalars(select(Message).where(Message.sender == "agent")).one()
        assert agent.status == "delivered" and agent.sent_at is not None


def test_blocked_replies_are_not_shown(app: Flask, client: FlaskClient) -> None:
    first = say(client, "hi").get_json()["messages"]
    with db(app) as s:
        conversation = s.scalars(select(Conversation)).one()
        s.add(
            Message(
                conversation_id=conversation.id, direction="out", sender="bot", channel="web",
                text="not allowed now", status="blocked", created_at=utcnow(),
            )
        )  # fmt: skip
        s.commit()
    assert poll(client, first[-1]["id"]).get_json()["messages"] == []


def test_polling_before_any_message_is_empty(client: FlaskClient) -> None:
    response = poll(client, 0)
    assert response.status_code == 200
    assert response.get_json() == {"messages": [], "handled_by": "assistant"}


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", "", "9" * 40, "١٢"])
def test_polling_with_a_bad_after_is_a_json_400(client: FlaskClient, after: str) -> None:
    response = poll(client, after)
    assert response.status_code == 400 and response.is_json
    assert "after" in response.get_json()["message"]


BAD_BODIES = {
    "form_encoded": {"data": {"text": "hi"}},
    "not_json": {"data": "hi", "content_type": "application/json"},
    "json_list": {"json": ["hi"]},
    "missing_text": {"json": {"message": "hi"}},
    "empty_text": {"json": {"text": "   "}},
    "text_not_string": {"json": {"text": 42}},
    "null_text": {"json": {"text": None}},
    "too_long": {"json": {"text": "a" * 2001}},
}


@pytest.mark.parametrize("kwargs", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_a_json_400_and_writes_nothing(
    app: Flask, client: FlaskClient, kwargs: dict[str, Any]
) -> None:
    response = client.post("/chat/api/messages", headers=HEADERS, **kwargs)
    assert response.status_code == 400 and response.is_json
    body = response.get_json()
    assert body["error"] and body["message"]
    assert counts(app) == (0, 0)


def test_the_longest_allowed_message_is_accepted(client: FlaskClient) -> None:
    assert say(client, "a" * 2000).status_code == 200


def test_an_oversized_body_is_a_json_413(app: Flask, client: FlaskClient) -> None:
    response = say(client, "a" * 300_000)
    assert response.status_code == 413 and response.is_json
    assert counts(app) == (0, 0)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Requested-With": ""},
        {"X-Requested-With": "XMLHttpRequest"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
    ids=["no_header", "other_header", "foreign_origin", "null_origin"],
)
def test_cross_site_calls_are_refused(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/chat/api/messages", json={"text": "hi"}, headers={**HEADERS, **headers}
    )
    assert response.status_code == 403 and response.is_json
    assert counts(app) == (0, 0)
    assert client.get("/chat/api/messages", headers={**HEADERS, **headers}).status_code == 403


def test_same_origin_is_accepted(client: FlaskClient) -> None:
    assert say(client, "hi", Origin="http://localhost").status_code == 200


def test_a_gateway_failure_is_a_json_503_not_a_500(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(inbound: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(app.extensions["gateway"], "handle", broken)
    response = say(client, "hi")
    assert response.status_code == 503 and response.is_json
    assert "database" not in response.get_json()["message"]
