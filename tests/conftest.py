"""Shared fixtures: a migrated database per test (SQLite always; PostgreSQL too when
TEST_DATABASE_URL points at one), a session, and factories for the rows tests need."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import upgrade_database
from bot.db import create_app_engine
from bot.models import Account, Base, Conversation

# tests/nlu exercise the Rasa-side component and run in .venv-rasa (make test does that).
collect_ignore = [] if importlib.util.find_spec("rasa") else ["nlu"]

# Agents are always in unless a test says otherwise: what a handoff promises must not depend
# on the hour the suite runs (tests/unit/test_team_hours.py sets its own hours).
os.environ["TEAM_HOURS"] = "always"

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database brought to the latest schema by the real Alembic migrations, once."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade_database(f"sqlite:///{path}")
        return ("sqlite", path)
    _reset_postgres(PG_URL)
    return ("postgresql", PG_URL)


@pytest.fixture
def database_url(migrated_template: tuple[str, Any], tmp_path: Path) -> Iterator[str]:
    kind, source = migrated_template
    if kind == "sqlite":
        target = tmp_path / "app.db"
        shutil.copy(source, target)
        yield f"sqlite:///{target}"
        return
    yield source
    # Empty every table after the test (DELETE is far quicker than TRUNCATE on tiny tables).
    engine = create_engine(source)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = create_app_engine(database_url)
    with sessionmaker(bind=engine, expire_on_commit=False)() as s:
        yield s
    engine.dispose()


TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture
def now() -> datetime:
    return NOW


def make_account(session: Session, **overrides: Any) -> Account:
    values: dict[str, Any] = {
        "account_ref": "ACC-100234",
        "creditor": "Evergreen Health",
        "first_name": "Maria",
        "last_name": "Lopez",
        "phone": "+12065550134",
        "email": "maria@example.com",
        "date_of_birth": date(1984, 3, 12),
        "ssn_last4": "6789",
        "zip": "98103",
        "state": "WA",
        "principal_cents": 120000,
        "interest_cents": 10437,
        "fees_cents": 6500,
        "delinquent_since": date(2026, 2, 1),
        "address_zones": "America/Los_Angeles",
        "phone_zones": "America/Los_Angeles",
    }
    values.update(overrides)
    account = Account(**values)
    session.add(account)
    session.flush()
    return account


def make_conversation(
    session: Session, account: Account | None = None, **overrides: Any
) -> Conversation:
    values: dict[str, Any] = {
        "id": os.urandom(16).hex(),
        "channel": "sms",
        "address": account.phone if account and account.phone else "+12065550134",
        "account_id": account.id if account else None,
    }
    values.update(overrides)
    if values.get("status", "bot") != "closed":  # one open conversation per address
        session.execute(
            update(Conversation)
            .where(
                Conversation.channel == values["channel"],
                Conversation.address == values["address"],
                Conversation.status != "closed",
            )
            .values(status="closed")
        )
    conversation = Conversation(**values)
    session.add(conversation)
    session.flush()
    return conversation


@pytest.fixture
def account(session: Session) -> Account:
    return make_account(session)
