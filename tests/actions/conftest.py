"""Action tests (the RasaHQ/financial-demo pattern): a real `rasa_sdk.Tracker` for a real
conversation in the test database, the action run through `CollectingDispatcher`, and the
exact events and response names asserted.

Rows a test needs are committed before the action runs (the action opens its own session,
as on the action server) and the test session is expired afterwards so it reads what the
action wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import common
from bot.db import utcnow
from bot.models import Account, Conversation
from bot.services.accounts_import import import_accounts
from bot.services.conversations import local_today
from tests.conftest import make_conversation

ROOT = Path(__file__).resolve().parents[2]
DEMO_PHONE = "+12065550134"  # ACC-100234 in demo/placement.csv


def slot(name: str, value: Any) -> dict[str, Any]:
    """The dict form of `SlotSet(name, value)` (without its timestamp)."""
    return {"event": "slot", "name": name, "value": value}


def user_event(intent: str, text: str = "") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def bot_event(text: str = "") -> dict[str, Any]:
    return {"event": "bot", "text": text}


#: What an action returns first, and what a gated action adds once verified.
NEXT_NONE = slot("followup", None)
GATE_CLEARED = [NEXT_NONE, slot("pending_action", None), slot("pending_request", None)]
PAUSED = [
    {"event": "active_loop", "name": None},
    slot("requested_slot", None),
    {"event": "pause"},
]


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    with open(ROOT / "domain.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(autouse=True)
def action_settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The actions' cached settings pointed at this test's database (and fixed wording)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("COLLECTOR_TYPE", "first_party")
    monkeypatch.setenv("SUPPORT_PHONE", "(800) 555-0199")
    monkeypatch.delenv("POLICY_FILE", raising=False)
    common.settings.cache_clear()
    yield
    common.settings.cache_clear()


@pytest.fixture
def demo_account(session: Session) -> Account:
    """ACC-100234 and its charges, imported from demo/*.csv (balance $1,369.37)."""
    with (
        open(ROOT / "demo" / "placement.csv", encoding="utf-8") as placement,
        open(ROOT / "demo" / "charges.csv", encoding="utf-8") as charges,
    ):
        import_accounts(session, placement, charges, today=local_today(None, utcnow()))
    session.commit()
    return session.scalars(select(Account).where(Account.account_ref == "ACC-100234")).one()


@pytest.fixture
def conversation(session: Session, demo_account: Account) -> Conversation:
    """An SMS conversation from the demo account's phone, not yet verified."""
    conversation = make_conversation(session, demo_account)
    session.commit()
    return conversation


@pytest.fixture
def verified(session: Session, conversation: Conversation) -> Conversation:
    conversation.verified_at = utcnow()
    session.commit()
    return conversation


@pytest.fixture
def debtor_today(demo_account: Account) -> Any:
    """The debtor's local date, which is what the actions mean by today."""
    return local_today(demo_account, utcnow())


@pytest.fixture
def make_tracker(domain: dict[str, Any]) -> Callable[..., Tracker]:
    def build(
        conversation: Conversation,
        *,
        text: str = "",
        intent: str = "inform",
        entities: list[dict[str, Any]] | None = None,
        slots: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
        active_loop: str | None = None,
        latest_action_name: str = "action_listen",
        address: str | None = None,
    ) -> Tracker:
        latest_message = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
            "metadata": {"channel": "sms", "address": address or conversation.address},
        }
        all_slots = {name: None for name in domain.get("slots", {})}
        all_slots.update(slots or {})
        if events is None:
            events = [{"event": "action", "name": "action_listen"}, user_event(intent, text)]
        return Tracker(
            sender_id=conversation.id,
            slots=all_slots,
            latest_message=latest_message,
            events=list(events),
            paused=False,
            followup_action=None,
            active_loop={"name": active_loop} if active_loop else {},
            latest_action_name=latest_action_name,
        )

    return build


Run = Callable[[Action, Tracker], tuple[list[dict[str, Any]], CollectingDispatcher]]


@pytest.fixture
def run_action(session: Session, domain: dict[str, Any]) -> Run:
    """Run an action as the action server would; its events without timestamps."""

    def run(action: Action, tracker: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
        session.commit()  # release the test's own transaction before the action writes
        dispatcher = CollectingDispatcher()
        # In a thread of its own: the browser tests' Playwright keeps an event loop running
        # in the main thread for the rest of the session, and asyncio.run refuses to nest.
        with ThreadPoolExecutor(max_workers=1) as pool:
            events = pool.submit(asyncio.run, action.run(dispatcher, tracker, domain)).result()
        session.expire_all()
        return [{k: v for k, v in e.items() if k != "timestamp"} for e in events], dispatcher

    return run
