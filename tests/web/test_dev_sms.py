"""The SMS simulator (development only): it signs exactly as Twilio does, so the forwarded
request passes the real signature check on /twilio/sms and the TwiML reply comes back."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.models import Conversation, Message
from bot.wording import render

HEADERS = {"X-Requested-With": "fetch"}
MARIA = "+12065550134"


def send(client: FlaskClient, sender: str = MARIA, body: str = "hi"):  # type: ignore[no-untyped-def]
    return client.post("/dev/sms/send", data={"from": sender, "body": body}, headers=HEADERS)


def stored(app: Flask) -> list[Message]:
    with Session(create_engine(app.extensions["settings"].database_url)) as s:
        return list(s.scalars(select(Message).order_by(Message.id)))


def test_simulator_page_lists_the_demo_numbers(client: FlaskClient) -> None:
    response = client.get("/dev/sms")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert MARIA in html and "Maria Lopez (ACC-100234)" in html
    assert 'aria-live="polite"' in html and '<label for="from"' in html
    assert "dev_sms.js" in html


def test_a_number_that_opted_out_is_labelled_so_its_silence_is_no_surprise(
    client: FlaskClient,
) -> None:
    def label() -> str:
        html = client.get("/dev/sms").get_data(as_text=True)
        return html.split(f'<option value="{MARIA}">')[1].split("</option>")[0]

    assert "opted out" not in label()
    assert send(client, body="STOP").get_json()["replies"]  # the one confirmation
    assert label().endswith("Maria Lopez (ACC-100234) - opted out: text START first")
    send(client, body="START")
    assert "opted out" not in label()


def test_simulated_text_passes_the_real_signature_check_and_gets_the_reply(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[tuple[str, bool]] = []
    real_validate = RequestValidator.validate

    def spy(self, uri, params, signature):  # type: ignore[no-untyped-def]
        ok = real_validate(self, uri, params, signature)
        checked.append((uri, ok))
        return ok

    monkeypatch.setattr(RequestValidator, "validate", spy)
    response = send(client, "(206) 555-0134", "hi")
    assert response.status_code == 200, response.get_json()
    replies = response.get_json()["replies"]
    assert len(replies) == 1 and replies[0].startswith(render("utter_holding"))
    assert checked == [("http://localhost/twilio/sms", True)]

    inbound, outbound = stored(app)
    assert (inbound.direction, inbound.channel, inbound.text) == ("in", "sms", "hi")
    assert inbound.provider_sid == response.get_json()["message_sid"]
    assert inbound.provider_sid.startswith("SM") and len(inbound.provider_sid) == 34
    assert outbound.direction == "out" and outbound.text == replies[0]
    with Session(create_engine(app.extensions["settings"].database_url)) as s:
        conversation = s.scalars(select(Conversation)).one()
        assert conversation.address == MARIA and conversation.account_id is not None


def test_simulator_signs_the_public_url_behind_a_proxy(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(public_base_url="https://collect.example.com")
    response = send(app.test_client())
    assert response.status_code == 200 and response.get_json()["replies"]


def test_signature_check_is_real(app: Flask, client: FlaskClient) -> None:
    """The same request with a wrong signature is refused: the simulator's 200 means something."""
    response = client.post(
        "/twilio/sms",
        data={"MessageSid": "SM" + "0" * 32, "From": MARIA, "Body": "hi"},
        headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    )
    assert response.status_code == 403 and stored(app) == []


@pytest.mark.parametrize(
    ("sender", "body"),
    [("", "hi"), ("not a phone", "hi"), (MARIA, ""), (MARIA, "   "), (MARIA, "x" * 1601)],
)
def test_bad_simulator_input_is_a_json_400(
    app: Flask, client: FlaskClient, sender: str, body: str
) -> None:
    response = send(client, sender, body)
    assert response.status_code == 400 and response.is_json
    assert stored(app) == []


def test_simulator_send_needs_the_page_header(app: Flask, client: FlaskClient) -> None:
    response = client.post("/dev/sms/send", data={"from": MARIA, "body": "hi"})
    assert response.status_code == 403 and stored(app) == []


def test_simulator_is_404_in_production(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(environment="production", twilio_auth_token="prod-token")
    client = app.test_client()
    assert "dev" not in app.blueprints
    assert client.get("/dev/sms").status_code == 404
    assert send(client).status_code == 404


def test_simulator_refuses_even_if_registered_outside_development(make_app) -> None:  # type: ignore[no-untyped-def]
    from bot.web import dev

    app = make_app(environment="production", twilio_auth_token="prod-token")
    app.register_blueprint(dev.bp)
    client = app.test_client()
    assert client.get("/dev/sms").status_code == 404
    assert send(client).status_code == 404
