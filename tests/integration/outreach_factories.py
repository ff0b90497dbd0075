"""Rows and a clocked sender for the outreach scheduler tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Account, Conversation, Installment, Message, Outreach, PaymentPlan, Promise
from bot.services.events import EventKind, record_event
from tests.conftest import make_account, make_conversation

VALUES = {"company_name": "Evergreen Health Billing", "support_phone": "(800) 555-0199"}


class ClockedSender:
    """Records every send with the simulated time it happened at."""

    def __init__(self, clock: Callable[[], datetime]):
        self.clock = clock
        self.calls: list[tuple[datetime, str, str]] = []
        self.lock = threading.Lock()

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        with self.lock:
            self.calls.append((self.clock(), to, body))
            return f"SM{len(self.calls):032x}"


_refs = iter(range(200000, 300000))
LONG_AGO = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # placed long before any test's clock


def debtor(
    session: Session, phone: str | None, state: str, zones: str, **overrides: Any
) -> Account:
    """An account with a unique reference; `zones` for both the address and the phone."""
    values: dict[str, Any] = {
        "account_ref": f"ACC-{next(_refs)}",
        "phone": phone,
        "state": state,
        "address_zones": zones,
        "phone_zones": zones,
        "placed_at": LONG_AGO,
    }
    values.update(overrides)
    return make_account(session, **values)


def make_plan(
    session: Session,
    account: Account,
    dues: Sequence[date],
    *,
    created_at: datetime,
    cents: int = 5000,
    conversation_id: str | None = None,
) -> PaymentPlan:
    plan = PaymentPlan(
        account_id=account.id,
        conversation_id=conversation_id,
        option_key="custom",
        kind="installments",
        frequency="weekly",
        balance_cents=cents * len(dues),
        total_cents=cents * len(dues),
        created_by="bot",
        created_at=created_at,
        installments=[
            Installment(seq=i, due_on=due, amount_cents=cents)
            for i, due in enumerate(dues, start=1)
        ],
    )
    session.add(plan)
    session.flush()
    return plan


def make_promise(
    session: Session,
    account: Account,
    due_on: date,
    *,
    created_at: datetime,
    cents: int = 10000,
    conversation_id: str | None = None,
) -> Promise:
    promise = Promise(
        account_id=account.id,
        conversation_id=conversation_id,
        amount_cents=cents,
        due_on=due_on,
        created_by="bot",
        created_at=created_at,
    )
    session.add(promise)
    session.flush()
    return promise


def resolved_conversation(
    session: Session,
    account: Account,
    *,
    resolved_at: datetime,
    kind: EventKind = EventKind.PLAN_ACCEPTED,
    **overrides: Any,
) -> Conversation:
    """An SMS conversation that ended with `kind` at `resolved_at` (its last message then)."""
    conversation = make_conversation(
        session,
        account,
        started_at=resolved_at - timedelta(minutes=10),
        last_message_at=resolved_at,
        **overrides,
    )
    record_event(
        session,
        kind,
        actor="bot",
        conversation_id=conversation.id,
        account_id=account.id,
        at=resolved_at,
    )
    return conversation


def outreach_messages(session: Session) -> list[tuple[Outreach, Message]]:
    return [
        (o, m)
        for o, m in session.execute(
            select(Outreach, Message)
            .join(Message, Message.id == Outreach.message_id)
            .order_by(Outreach.id)
        )
    ]
