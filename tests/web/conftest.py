"""Web fixtures on top of tests/conftest.py: the Flask app over the test database with the demo
accounts loaded, and its test client. Rasa is pointed at a closed port (9), so the gateway takes
its "Rasa unavailable" path and answers with the holding reply."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.services.accounts_import import import_accounts

CLOSED_RASA = "http://127.0.0.1:9"


def register_web_blueprints(app: Flask) -> Flask:
    """Until bot/web/__init__.py registers them itself: chat and pay always, dev only in
    development. A no-op for blueprints already registered."""
    from bot.web import chat, dev, pay

    for blueprint in (chat.bp, pay.bp):
        if blueprint.name not in app.blueprints:
            app.register_blueprint(blueprint)
    if app.extensions["settings"].environment == "development" and "dev" not in app.blueprints:
        app.register_blueprint(dev.bp)
    return app


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

        config = {"database_url": database_url, "var_dir": tmp_path, "rasa_url": CLOSED_RASA}
        app = create_app({**config, **overrides})
        app.config["TESTING"] = True
        return register_web_blueprints(app)

    return make


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
