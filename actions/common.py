"""What every action shares: one session per run, the conversation and account behind the
tracker, the verification gate, and the debtor's local date."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.flows import then
from bot.config import Settings, load_settings
from bot.db import session_scope, utcnow
from bot.domain.dates import format_date
from bot.domain.money import format_money
from bot.domain.plans import PlanPolicy
from bot.domain.verification import is_current
from bot.models import Account, Conversation
from bot.services.conversations import account_for_phone, get_or_start, local_today
from bot.services.errors import OnHold
from bot.services.plans import ensure_collectible
from bot.services.policy import load_policy


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()


def policy() -> PlanPolicy:
    return load_policy(settings().policy_file)


@dataclass
class Turn:
    """One action run: the open session and what the action needs to know."""

    session: Session
    dispatcher: CollectingDispatcher
    tracker: Tracker
    conversation: Conversation
    account: Account | None
    now: datetime
    today: date
    #: The request this action serves, when it was asked before verification and runs now.
    deferred: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """What the person asked: the latest message, or the one that waited for verification."""
        if self.deferred is not None:
            return str(self.deferred.get("text") or "")
        return self.tracker.latest_message.get("text") or ""

    @property
    def verified(self) -> bool:
        return self.account is not None and is_current(self.conversation.verified_at, self.now)

    def say(self, response: str, **values: Any) -> None:
        self.dispatcher.utter_message(response=response, **values)

    def entity(self, name: str) -> str | None:
        if self.deferred is not None:
            value = (self.deferred.get("entities") or {}).get(name)
        else:
            value = next(self.tracker.get_latest_entity_values(name), None)
        return str(value) if value is not None else None


def open_conversation(session: Session, tracker: Tracker, now: datetime) -> Conversation:
    """The conversation behind the tracker. The gateway creates it first and passes the
    channel and address as message metadata; a tracker talking to Rasa directly gets one."""
    metadata = tracker.get_slot("session_started_metadata") or {}
    metadata = {**metadata, **(tracker.latest_message.get("metadata") or {})}
    channel = str(metadata.get("channel") or "web")
    address = str(metadata.get("address") or tracker.sender_id)
    account = account_for_phone(session, address) if channel == "sms" else None
    return get_or_start(
        session, tracker.sender_id, channel=channel, address=address, now=now, account=account
    )


def open_turn(session: Session, dispatcher: CollectingDispatcher, tracker: Tracker) -> Turn:
    """The Turn for one action run, in an open session."""
    now = utcnow()
    conversation = open_conversation(session, tracker, now)
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return Turn(
        session=session,
        dispatcher=dispatcher,
        tracker=tracker,
        conversation=conversation,
        account=account,
        now=now,
        today=local_today(account, now),
    )


class BotAction(Action, ABC):
    """Base of our actions: the database work in one transaction. Subclasses set `name()` and
    implement `act`; with `requires_verification` an unverified person is asked to verify
    first and the action runs afterwards.

    The work runs on the action server's event loop, not in a thread: it is a few
    milliseconds of Python and SQL that the GIL would serialize anyway, and a thread costs
    every call two hand-offs (to the thread and back), each a wait for a core when the
    machine is busy. One action server process runs one action at a time; more processes
    (ACTION_SERVER_SANIC_WORKERS, or more servers behind a balancer) run more."""

    requires_verification = False
    #: It asks for money (payment link, plan, promise, settlement): refused while on hold.
    collects = False

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with session_scope(settings().database_url) as session:
            turn = open_turn(session, dispatcher, tracker)
            # Every action says what comes next; by default, nothing (wait for the person).
            events: list[EventType] = [then(None)]
            if self.requires_verification:
                if not turn.verified:
                    return [*events, *ask_to_verify(turn, pending=self.name())]
                if tracker.get_slot("pending_action") == self.name():
                    turn.deferred = tracker.get_slot("pending_request") or {}
                events += [SlotSet("pending_action", None), SlotSet("pending_request", None)]
            try:
                if self.collects:
                    assert turn.account is not None
                    ensure_collectible(turn.session, turn.account)
                return [*events, *self.act(turn)]
            except OnHold:  # a dispute, bankruptcy, attorney... pauses collection (rule 14-16)
                turn.say("utter_on_hold")
                return events

    @abstractmethod
    def act(self, turn: Turn) -> list[EventType]: ...


def ask_to_verify(turn: Turn, *, pending: str | None, explain: bool = True) -> list[EventType]:
    """The gate of compliance rule 1: nothing about a debt before verification. Starts the
    verification form; `pending` runs once it succeeds."""
    if turn.conversation.verification_locked:
        turn.say("utter_verification_locked", support_phone=settings().support_phone)
        return []
    if explain:
        turn.say("utter_verify_first")
    request = {
        "text": turn.text,
        "entities": {
            e["entity"]: e.get("value") for e in turn.tracker.latest_message.get("entities") or []
        },
    }
    return [
        SlotSet("pending_action", pending),
        SlotSet("pending_request", request),
        then("verify_form"),
    ]


def describe_limit(limit: Any, today: date) -> str:
    """A policy limit as a reply shows it: a date, an amount (cents), or as it is."""
    if isinstance(limit, date):
        return format_date(limit, today)
    if isinstance(limit, int) and not isinstance(limit, bool):
        return format_money(limit) if limit >= 100 else str(limit)
    return str(limit)
