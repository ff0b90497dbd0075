"""Web fixtures on top of tests/conftest.py: the Flask app over the test database with the demo
accounts loaded, and its test client. Rasa is pointed at a closed port (9), so the gateway takes
its "Rasa unavailable" path and answers with the holding reply. For the JSON API: a client,
a bearer token per staff user, and helpers to read its answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.models import Account
from bot.services.accounts_import import import_accounts
from bot.services.users import Role, create_user, issue_token

CLOSED_RASA = "http://127.0.0.1:9"
PASSWORD = "correct horse battery staple"
API_CLIENT_IP = "203.0.113.7"


@pytest.fixture
def demo_accounts(session: Session) -> None:
    with (
        (ROOT / "demo" / "placement.csv").open() as placement,
        (ROOT / "demo" / "charges.csv").open() as charges,
    ):
        import_accounts(session, placement, charges, today=date(2026, 11, 23))
    session.commit()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path, demo_accounts: None):
    def make(**overrides: Any) -> Flask:
        from bot.web import create_app

        config = {
            "database_url": database_url,
            "var_dir": tmp_path,
            "rasa_url": CLOSED_RASA,
            "action_server_url": CLOSED_RASA,
        }
        app = create_app({**config, **overrides})
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---------------------------------------------------------------------------- the JSON API
@pytest.fixture
def api(app: Flask) -> FlaskClient:
    """A client of the JSON API, calling from API_CLIENT_IP (what the audit log records)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = API_CLIENT_IP
    return client


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    """A bearer token per staff user: agent, agent2 (a second agent), compliance, admin."""
    users = {
        "agent": Role.AGENT,
        "agent2": Role.AGENT,
        "compliance": Role.COMPLIANCE,
        "admin": Role.ADMIN,
    }
    out = {}
    for name, role in users.items():
        create_user(session, f"{name}@example.com", role, PASSWORD)
        out[name] = issue_token(session, f"{name}@example.com")
    session.commit()
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    """The API's error text: every refusal is JSON with a non-empty "error"."""
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert "error" in body and isinstance(body["error"], str) and body["error"]
    return body["error"]


def fresh(session: Session) -> Session:
    """The test's session, forgetting what it loaded: the next reads see what the app wrote."""
    session.rollback()
    session.expire_all()
    return session


def demo_account(session: Session, ref: str = "ACC-100234") -> Account:
    return session.scalars(select(Account).where(Account.account_ref == ref)).one()
