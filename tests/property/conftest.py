"""Property-based tests of the public edges (hypothesis): any body, any encoding, missing and
repeated fields, huge values. The app runs over the test database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set) with a stub Rasa, so no Rasa is needed; limits are raised so that
the examples reach the code behind them.

Examples share one database per test (the invariants checked after each are global: no
half-written rows, at most one inbound message per MessageSid), and are bounded (`EXAMPLES`
per property, no deadline) so the whole suite stays within a couple of minutes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from bot.config import ROOT, RateLimits
from bot.models import Conversation, Message
from bot.services.accounts_import import import_accounts
from bot.services.users import Role, create_user, issue_token

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "http://localhost"
EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "200"))
UNLIMITED = RateLimits(**{name: "1000000/minute" for name in vars(RateLimits())})

PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),  # CI: the same examples every run
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app and database per test, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


class StubRasa:
    """Answers every message at once; records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        self.sent.append((sender, text))
        return ["Thanks, got it."]

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        pass

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        pass


@dataclass
class Edge:
    app: Flask
    engine: Engine
    rasa: StubRasa
    tokens: dict[str, str]  # role -> a valid bearer token

    def session(self) -> Session:
        return Session(self.engine)

    def half_written(self) -> list[str]:
        """Rows that only make sense with another that is missing."""
        with self.session() as s:
            orphans = s.scalar(
                select(func.count())
                .select_from(Message)
                .outerjoin(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.id.is_(None))
            )
            empty = s.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(~Conversation.id.in_(select(Message.conversation_id)))
            )
            duplicated = s.execute(
                select(Message.provider_sid)
                .where(Message.direction == "in", Message.provider_sid.is_not(None))
                .group_by(Message.provider_sid)
                .having(func.count() > 1)
            ).all()
        problems = []
        if orphans:
            problems.append(f"{orphans} message(s) without their conversation")
        if empty:
            problems.append(f"{empty} conversation(s) without any message")
        if duplicated:
            problems.append(f"MessageSid stored twice: {[d[0] for d in duplicated][:3]}")
        return problems

    def inbound_with_sid(self, sid: str) -> int:
        with self.session() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.direction == "in", Message.provider_sid == sid)
                )
                or 0
            )

    def message_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Message)) or 0


@pytest.fixture
def edge(database_url: str, tmp_path: Path) -> Iterator[Edge]:
    from bot.web import create_app

    engine = create_engine(database_url)
    with Session(engine) as s:
        with (
            (ROOT / "demo" / "placement.csv").open() as placement,
            (ROOT / "demo" / "charges.csv").open() as charges,
        ):
            import_accounts(s, placement, charges, today=date(2026, 11, 23))
        tokens = {}
        for role in (Role.AGENT, Role.COMPLIANCE, Role.ADMIN):
            email = f"property-{role}@test.example"
            create_user(s, email, role, "property-password-123")
            tokens[str(role)] = issue_token(s, email)
        s.commit()
    app = create_app(
        {
            "database_url": database_url,
            "var_dir": tmp_path / "var",
            "rasa_url": "http://127.0.0.1:9",
            "twilio_auth_token": TOKEN,
            "public_base_url": None,
            "environment": "test",
            "rate_limits": UNLIMITED,
        }
    )
    app.config["TESTING"] = True
    rasa = StubRasa()
    app.extensions["gateway"].rasa = rasa
    try:
        yield Edge(app=app, engine=engine, rasa=rasa, tokens=tokens)
    finally:
        engine.dispose()
