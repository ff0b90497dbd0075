"""The SMS gateway through its real Flask routes: an app over the test database with the demo
accounts, Twilio's auth token "12345", and Rasa on a closed port (the gateway's "Rasa
unavailable" path). Requests are signed exactly as Twilio signs them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from bot.models import Account, Conversation, Handoff, Message
from bot.services.accounts_import import import_accounts
from bot.web import create_app
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "12345"
SMS_URL = "http://localhost/twilio/sms"
STATUS_URL = "http://localhost/twilio/status"
CLOSED_RASA = "http://127.0.0.1:9"
TO = "+18005550100"
MARIA = "+12065550134"
JAMES = "+14045550178"

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def sign(url: str, params: dict[str, Any], token: str = TOKEN) -> str:
    """X-Twilio-Signature for a POST of `params` to `url`, computed as Twilio does."""
    return RequestValidator(token).compute_signature(url, params)


def post_signed(
    client: FlaskClient,
    path: str,
    params: dict[str, Any],
    *,
    url: str | None = None,
    headers: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    signature = sign(url or f"http://localhost{path}", params)
    return client.post(
        path, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}
    )


def sms_params(body: str, frm: str = MARIA, sid: str | None = None) -> dict[str, str]:
    sid = sid or new_sid()
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": frm,
        "To": TO,
        "Body": body,
        "NumMedia": "0",
    }


def post_sms(client: FlaskClient, body: str, frm: str = MARIA, sid: str | None = None):  # type: ignore[no-untyped-def]
    """POST /twilio/sms as Twilio would: form-encoded, signed for http://localhost/twilio/sms."""
    params = sms_params(body, frm, sid)
    return post_signed(client, "/twilio/sms", params, url=SMS_URL)


def twiml_bodies(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The <Message> bodies of a TwiML response, in order."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 - our own TwiML
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


def counts(db: Session) -> tuple[int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Message)) or 0,
        db.scalar(select(func.count()).select_from(Conversation)) or 0,
    )


def make_app(database_url: str, var_dir: Path, **overrides: Any) -> Flask:
    settings: dict[str, Any] = {
        "database_url": database_url,
        "var_dir": var_dir,
        "rasa_url": CLOSED_RASA,
        # closed too, whatever runs on this machine's default 5055 (a `make run`, say)
        "action_server_url": CLOSED_RASA,
        "twilio_auth_token": TOKEN,
        "public_base_url": None,
        "environment": "test",
    }
    settings.update(overrides)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    """A session on the app database with the demo accounts imported."""
    engine = create_engine(database_url)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        with (
            (ROOT / "demo" / "placement.csv").open() as placement,
            (ROOT / "demo" / "charges.csv").open() as charges,
        ):
            import_accounts(s, placement, charges, today=TODAY)
        s.commit()
        yield s
    engine.dispose()


@pytest.fixture
def app(db: Session, database_url: str, tmp_path: Path) -> Flask:
    return make_app(database_url, tmp_path / "var")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def maria(db: Session) -> Account:
    account = db.scalar(select(Account).where(Account.phone == MARIA))
    assert account is not None
    return account


def messages(db: Session, **where: Any) -> list[Message]:
    db.expire_all()
    query = select(Message).order_by(Message.id)
    for key, value in where.items():
        query = query.where(getattr(Message, key) == value)
    return list(db.scalars(query))


def handoffs(db: Session) -> list[Handoff]:
    db.expire_all()
    return list(db.scalars(select(Handoff).order_by(Handoff.id)))


RASA_REPLY = "Hi! How can I help?"


class StubRasa:
    """Stands in for Rasa's REST channel: answers every message with `replies`."""

    def __init__(self, replies: list[str] | None = None) -> None:
        self.replies = replies if replies is not None else [RASA_REPLY]
        self.sent: list[tuple[str, str]] = []
        self.paused: list[str] = []

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        self.sent.append((sender, text))
        return list(self.replies)

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        self.paused.append(sender)

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        pass


@pytest.fixture
def rasa(app: Flask) -> StubRasa:
    """The app's gateway talks to a StubRasa instead of the closed port."""
    stub = StubRasa()
    app.extensions["gateway"].rasa = stub
    return stub
