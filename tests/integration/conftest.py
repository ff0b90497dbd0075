"""Integration fixtures on top of tests/conftest.py: the Flask app and its CLI runner on the
test database, and the plan policy. Row factories beyond tests/conftest.py are in
tests/integration/factories.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from bot.config import ROOT
from bot.domain.plans import PlanPolicy
from bot.services.policy import load_policy


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    from bot.web import create_app

    return create_app({"database_url": database_url, "var_dir": tmp_path})


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def policy() -> PlanPolicy:
    """The creditor policy the product ships with (bot/policy.yml)."""
    return load_policy(ROOT / "bot" / "policy.yml")
