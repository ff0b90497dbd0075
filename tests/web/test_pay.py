"""The payment link's placeholder page: the amount and account for a valid link, never a card
form, and a clear 404 for a tampered or expired link."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Account
from bot.services.payments import LINK_VALID_SECONDS, payment_link


def link_path(app: Flask, session: Session, amount_cents: int = 136937) -> str:
    account = session.scalars(select(Account).where(Account.account_ref == "ACC-100234")).one()
    url = payment_link(
        session,
        account,
        amount_cents=amount_cents,
        base_url="https://collect.example.com",
        secret_key=app.extensions["settings"].secret_key,
        now=utcnow(),
    )
    return url.removeprefix("https://collect.example.com")


def test_valid_link_shows_amount_and_account_and_no_card_form(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    response = client.get(link_path(app, session))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "Payment page placeholder: a payment provider would take $1,369.37 for ACC-100234" in html
    )
    assert "<input" not in html and "<form" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_small_amounts_are_formatted_as_money(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    html = client.get(link_path(app, session, amount_cents=5000)).get_data(as_text=True)
    assert "would take $50.00 for ACC-100234" in html


def test_tampered_link_is_a_clear_404(app: Flask, client: FlaskClient, session: Session) -> None:
    path = link_path(app, session)
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    response = client.get(tampered)
    assert response.status_code == 404
    assert "not valid or has expired" in response.get_data(as_text=True)
    assert "$1,369.37" not in response.get_data(as_text=True)


def test_link_signed_with_another_key_is_404(make_app, session: Session) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    path = link_path(app, session)
    other = make_app(secret_key="a-different-secret-key")
    assert other.test_client().get(path).status_code == 404


def test_expired_link_is_404(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - LINK_VALID_SECONDS - 60)
    path = link_path(app, session)
    monkeypatch.setattr(time, "time", real)
    assert client.get(path).status_code == 404


def test_garbage_token_is_404(client: FlaskClient) -> None:
    assert client.get("/pay/" + "x" * 5000).status_code == 404
