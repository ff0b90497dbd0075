"""The outbox worker on a real database (SQLite; PostgreSQL too with TEST_DATABASE_URL): claims,
contact rules at the moment of sending, retries with backoff, give-up, never twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli_outbox import outbox_cli
from bot.db import init_engine
from bot.domain.contact import Channel, Purpose
from bot.models import Conversation, Message
from bot.services import outbox
from bot.services.consent import ConsentAction, record_consent
from bot.services.outbox import (
    MAX_ATTEMPTS,
    RETRY_AFTER_CAP,
    backoff,
    deliver_due,
    queue_message,
    run_worker,
    stuck_sending,
)
from bot.twilio_client import LogSender, PermanentSendError, TransientSendError
from tests.conftest import make_account, make_conversation

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # 10:30 in Seattle: inside the window
NIGHT = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 21:00 in Seattle: outside it
NEXT_MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 08:00 in Seattle


class RecordingSender:
    """Records every send; `script` decides each call's fate (a sid, or an exception)."""

    def __init__(self, script: Callable[[int], object] | None = None, delay: float = 0.0):
        self.calls: list[tuple[str, str, str | None]] = []
        self.script = script
        self.delay = delay
        self.lock = threading.Lock()

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        with self.lock:
            self.calls.append((to, body, status_callback))
            n = len(self.calls)
        if self.delay:
            time.sleep(self.delay)
        result = self.script(n) if self.script else None
        if isinstance(result, BaseException):
            raise result
        return f"SM{n:032x}"


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(database_url), expire_on_commit=False)


@pytest.fixture
def conversation(session: Session) -> Conversation:
    account = make_account(session)
    conv = make_conversation(session, account)
    session.commit()
    return conv


def _queue(
    session: Session,
    conv: Conversation,
    text: str = "An agent here: your plan is set up.",
    *,
    initiated: bool = False,
    purpose: Purpose = Purpose.GENERAL,
    sender: str = "agent",
    now: datetime = NOW,
) -> int:
    msg = queue_message(
        session, conv, text, sender=sender, initiated=initiated, purpose=purpose, now=now
    )  # type: ignore[arg-type]
    session.commit()
    return msg.id


def _row(sessions: sessionmaker[Session], message_id: int) -> Message:
    with sessions() as s:
        row = s.get(Message, message_id)
        assert row is not None
        return row


def test_sends_each_queued_sms_once(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    ids = [_queue(session, conversation, f"message {i}") for i in range(3)]
    sender = RecordingSender()
    report = deliver_due(sessions, sender, now=NOW, status_callback_url="https://x.test/cb")
    assert (report.sent, report.retried, report.failed) == (3, 0, 0)
    assert [c[1] for c in sender.calls] == ["message 0", "message 1", "message 2"]
    assert {c[0] for c in sender.calls} == {conversation.address}
    assert {c[2] for c in sender.calls} == {"https://x.test/cb"}
    for n, message_id in enumerate(ids, start=1):
        row = _row(sessions, message_id)
        assert row.status == "sent"
        assert row.provider_sid == f"SM{n:032x}"
        assert row.sent_at == NOW
        assert row.attempts == 1
    again = deliver_due(sessions, sender, now=NOW + timedelta(hours=1))
    assert again.total == 0
    assert len(sender.calls) == 3


def test_not_due_rows_wait(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation, now=NOW + timedelta(minutes=5))
    sender = RecordingSender()
    assert deliver_due(sessions, sender, now=NOW).total == 0
    assert _row(sessions, message_id).status == "queued"
    assert deliver_due(sessions, sender, now=NOW + timedelta(minutes=5)).sent == 1


def test_a_second_worker_during_the_http_call_finds_nothing(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    """While worker A is inside the HTTP call, the row is already claimed and no transaction
    is held open (on SQLite worker B could not even write otherwise)."""
    message_id = _queue(session, conversation)
    inner = RecordingSender()
    seen: list[outbox.DeliveryReport] = []

    def during_send(_n: int) -> None:
        assert _row(sessions, message_id).status == "sending"
        seen.append(deliver_due(sessions, inner, now=NOW))
        # B can write while A is "on the wire": queue and send another message.
        with sessions.begin() as s:
            conv = s.get(Conversation, conversation.id)
            assert conv is not None
            queue_message(
                s, conv, "other", sender="bot", initiated=False, purpose=Purpose.GENERAL, now=NOW
            )
        seen.append(deliver_due(sessions, inner, now=NOW))

    outer = RecordingSender(script=during_send)
    report = deliver_due(sessions, outer, now=NOW)
    assert report.sent == 1
    assert seen[0].total == 0  # B did not get A's row
    assert seen[1].sent == 1 and [c[1] for c in inner.calls] == ["other"]
    assert _row(sessions, message_id).status == "sent"


def test_two_workers_in_threads_never_send_a_row_twice(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    ids = [_queue(session, conversation, f"m{i}") for i in range(12)]
    sender = RecordingSender(delay=0.005)
    barrier = threading.Barrier(3)
    reports: list[outbox.DeliveryReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            reports.append(deliver_due(sessions, sender, now=NOW, batch=50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    bodies = Counter(c[1] for c in sender.calls)
    assert bodies == Counter(f"m{i}" for i in range(12))  # each exactly once
    assert sum(r.sent for r in reports) == 12
    assert {_row(sessions, i).status for i in ids} == {"sent"}


def test_transient_failure_is_retried_with_backoff(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation)
    fail_once = RecordingSender(
        script=lambda n: TransientSendError("twilio 500", status=500) if n == 1 else None
    )
    report = deliver_due(sessions, fail_once, now=NOW, rng=random.Random(1))
    assert report.retried == 1
    row = _row(sessions, message_id)
    assert (row.status, row.attempts, row.provider_sid) == ("queued", 1, None)
    assert row.error == "twilio 500"
    assert row.next_attempt_at is not None
    assert NOW + timedelta(seconds=2.5) <= row.next_attempt_at <= NOW + timedelta(seconds=5)
    # Not before its time ...
    assert deliver_due(sessions, fail_once, now=NOW + timedelta(seconds=2)).total == 0
    # ... then once.
    later = row.next_attempt_at
    assert deliver_due(sessions, fail_once, now=later).sent == 1
    row = _row(sessions, message_id)
    assert (row.status, row.attempts, row.error) == ("sent", 2, None)
    assert len(fail_once.calls) == 2


def test_a_huge_retry_after_is_capped_at_an_hour(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    """A bogus Retry-After parks the message for an hour at most, and breaks nothing."""
    message_id = _queue(session, conversation)

    def refuse(n: int) -> TransientSendError | None:
        error = TransientSendError("twilio 429", status=429)
        error.retry_after = 1e15  # more seconds than a timedelta can hold
        return error if n == 1 else None

    report = deliver_due(sessions, RecordingSender(script=refuse), now=NOW)
    assert report.retried == 1
    assert _row(sessions, message_id).next_attempt_at == NOW + RETRY_AFTER_CAP


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempts in range(1, 12):
        nominal = min(5 * 2 ** (attempts - 1), 900)
        delay = backoff(attempts, rng).total_seconds()
        assert nominal * 0.5 <= delay <= nominal
    assert backoff(50, rng) <= timedelta(minutes=15)
    delays = {backoff(3, rng) for _ in range(20)}
    assert len(delays) > 1  # jitter


def test_gives_up_after_max_attempts(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation)
    always = RecordingSender(script=lambda n: TransientSendError(f"timeout {n}"))
    now = NOW
    for _ in range(MAX_ATTEMPTS + 3):
        deliver_due(sessions, always, now=now)
        now += timedelta(hours=1)
    row = _row(sessions, message_id)
    assert len(always.calls) == MAX_ATTEMPTS == 8
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.error == f"gave up: timeout {MAX_ATTEMPTS}"


def test_permanent_failure_is_not_retried(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation)
    invalid = RecordingSender(
        script=lambda n: PermanentSendError("twilio 400 code 21211: invalid To", status=400)
    )
    assert deliver_due(sessions, invalid, now=NOW).failed == 1
    assert deliver_due(sessions, invalid, now=NOW + timedelta(days=1)).total == 0
    row = _row(sessions, message_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "21211" in (row.error or "")
    assert len(invalid.calls) == 1


def test_opt_out_after_queueing_blocks_the_message(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    agent_reply = _queue(session, conversation, "Agent: here is your balance")
    confirmation = _queue(
        session,
        conversation,
        "You're opted out. No more texts.",
        sender="bot",
        purpose=Purpose.COMPLIANCE,
    )
    record_consent(
        session,
        conversation.address,
        Channel.SMS,
        ConsentAction.OPT_OUT,
        source="keyword",
        account_id=conversation.account_id,
        now=NOW,
    )
    session.commit()
    sender = RecordingSender()
    report = deliver_due(sessions, sender, now=NOW)
    assert (report.blocked, report.sent) == (1, 1)
    blocked = _row(sessions, agent_reply)
    assert (blocked.status, blocked.error, blocked.attempts) == (
        "blocked",
        "contact rules: opted_out",
        0,
    )
    assert blocked.provider_sid is None and blocked.sent_at is None
    # The one opt-out confirmation (a compliance reply) still goes (rule 10).
    assert _row(sessions, confirmation).status == "sent"
    assert [c[1] for c in sender.calls] == ["You're opted out. No more texts."]
    assert deliver_due(sessions, sender, now=NOW + timedelta(days=1)).total == 0


def test_initiated_message_outside_the_window_waits_for_not_before(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    reminder = _queue(
        session,
        conversation,
        "Your payment of $50 is due Friday.",
        sender="system",
        initiated=True,
        purpose=Purpose.COLLECTION,
        now=NIGHT,
    )
    reply = _queue(session, conversation, "Thanks, noted.", now=NIGHT)
    sender = RecordingSender()
    report = deliver_due(sessions, sender, now=NIGHT)
    assert (report.deferred, report.sent) == (1, 1)  # the reply is exempt (rule 12)
    row = _row(sessions, reminder)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 0, NEXT_MORNING)
    assert row.error == "contact rules: outside_window"
    assert _row(sessions, reply).status == "sent"
    assert deliver_due(sessions, sender, now=NEXT_MORNING - timedelta(seconds=1)).total == 0
    assert deliver_due(sessions, sender, now=NEXT_MORNING).sent == 1
    row = _row(sessions, reminder)
    assert (row.status, row.sent_at, row.attempts) == ("sent", NEXT_MORNING, 1)
    assert sender.calls[-1][1] == "Your payment of $50 is due Friday. Reply STOP to opt out."


def test_web_rows_are_left_for_the_web_chat(
    session: Session, sessions: sessionmaker[Session]
) -> None:
    account = make_account(session)
    web = make_conversation(session, account, channel="web", address="websession-1")
    session.commit()
    message_id = _queue(session, web, "An agent replied")
    sender = RecordingSender()
    assert deliver_due(sessions, sender, now=NOW + timedelta(days=1)).total == 0
    assert sender.calls == []
    row = _row(sessions, message_id)
    assert (row.status, row.attempts, row.channel) == ("queued", 0, "web")


def test_a_crash_during_sending_is_never_resent_and_is_listed(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation)

    class Crash(BaseException):
        pass

    crashing = RecordingSender(script=lambda n: Crash())
    with pytest.raises(Crash):
        deliver_due(sessions, crashing, now=NOW)
    assert _row(sessions, message_id).status == "sending"
    sender = RecordingSender()
    assert deliver_due(sessions, sender, now=NOW + timedelta(days=1)).total == 0
    assert sender.calls == []
    assert [m.id for m in stuck_sending(session, NOW + timedelta(minutes=1))] == [message_id]
    assert stuck_sending(session, NOW - timedelta(minutes=1)) == []


def test_a_duplicate_provider_sid_still_records_the_send(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    first, second = _queue(session, conversation, "a"), _queue(session, conversation, "b")

    class SameSid(RecordingSender):
        def send(self, to: str, body: str, status_callback: str | None) -> str:
            super().send(to, body, status_callback)
            return "SM" + "a" * 32

    assert deliver_due(sessions, SameSid(), now=NOW).sent == 2
    assert _row(sessions, first).provider_sid == "SM" + "a" * 32
    row = _row(sessions, second)
    assert (row.status, row.provider_sid) == ("sent", None)
    assert "already recorded" in (row.error or "")


def test_queue_message_rules(session: Session, conversation: Conversation) -> None:
    reminder = queue_message(
        session,
        conversation,
        "Reminder: payment due.",
        sender="system",
        initiated=True,
        purpose=Purpose.COLLECTION,
        now=NOW,
    )
    assert reminder.text.endswith("Reply STOP to opt out.")
    assert (reminder.status, reminder.next_attempt_at, reminder.direction) == ("queued", NOW, "out")
    reply = queue_message(
        session,
        conversation,
        "ok",
        sender="agent",
        initiated=False,
        purpose=Purpose.GENERAL,
        now=NOW,
    )
    assert reply.text == "ok"
    with pytest.raises(ValueError):
        queue_message(
            session,
            conversation,
            "x" * 1601,
            sender="agent",
            initiated=False,
            purpose=Purpose.GENERAL,
            now=NOW,
        )
    with pytest.raises(ValueError):
        queue_message(
            session, conversation, "x", sender="debtor", initiated=False, purpose="general", now=NOW
        )  # type: ignore[arg-type]


def test_run_worker_once_with_the_log_sender(
    session: Session,
    sessions: sessionmaker[Session],
    conversation: Conversation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    message_id = _queue(session, conversation, "logged, not sent")
    sender = LogSender()
    with caplog.at_level("INFO", logger="bot.twilio_client"):
        report = run_worker(sessions, sender, once=True, clock=lambda: NOW)
    assert report.sent == 1
    row = _row(sessions, message_id)
    assert row.status == "sent" and (row.provider_sid or "").startswith("LOG")
    assert "logged, not sent" in caplog.text


def test_run_worker_stops_when_told(sessions: sessionmaker[Session]) -> None:
    stop = threading.Event()
    result: list[outbox.DeliveryReport] = []
    t = threading.Thread(
        target=lambda: result.append(
            run_worker(sessions, LogSender(), poll_interval=0.05, stop=stop)
        )
    )
    t.start()
    time.sleep(0.2)
    stop.set()
    t.join(5)
    assert not t.is_alive() and result


def test_cli_run_once_and_stuck(
    app: Flask, session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation, "from the cli", now=datetime(2020, 1, 1, tzinfo=UTC))
    runner = app.test_cli_runner()
    result = runner.invoke(outbox_cli, ["run", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1," in result.output
    assert _row(sessions, message_id).status == "sent"
    stuck = runner.invoke(outbox_cli, ["stuck"])
    assert stuck.exit_code == 0 and "0 stuck message(s)" in stuck.output
    with sessions.begin() as s:
        s.execute(select(Message).where(Message.id == message_id)).scalar_one().status = "sending"
    stuck = runner.invoke(outbox_cli, ["stuck", "--minutes", "0"])
    assert f"{message_id}\tconversation" in stuck.output


def test_a_reminder_held_past_its_expiry_is_dropped_with_a_reason_never_sent_late(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    """Queued at night, held by the window until 08:00; it expired at 07:00: dropped."""
    message_id = _queue(session, conversation, "A reminder", initiated=True, now=NIGHT)
    row = session.get(Message, message_id)
    assert row is not None
    row.expires_at = NEXT_MORNING - timedelta(hours=1)
    session.commit()
    sender = RecordingSender()

    deliver_due(sessions, sender, now=NIGHT)  # outside the window: held, not re-queued
    held = _row(sessions, message_id)
    assert held.status == "canceled" and "after it no longer applied" in (held.error or "")
    deliver_due(sessions, sender, now=NEXT_MORNING)
    assert sender.calls == []


def test_an_unexpired_reminder_held_by_the_window_goes_at_the_next_allowed_moment(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    message_id = _queue(session, conversation, "A reminder", initiated=True, now=NIGHT)
    row = session.get(Message, message_id)
    assert row is not None
    row.expires_at = NEXT_MORNING + timedelta(days=2)
    session.commit()
    sender = RecordingSender()
    deliver_due(sessions, sender, now=NIGHT)
    assert _row(sessions, message_id).status == "queued"
    deliver_due(sessions, sender, now=NEXT_MORNING)
    assert _row(sessions, message_id).status == "sent" and len(sender.calls) == 1


def test_sending_makes_the_conversation_live_again(
    session: Session, sessions: sessionmaker[Session], conversation: Conversation
) -> None:
    """A reminder sent long after the last message: the debtor's answer continues it."""
    conversation.last_message_at = NOW - timedelta(days=5)
    session.commit()
    _queue(session, conversation, "A reminder", initiated=True, now=NOW)
    deliver_due(sessions, RecordingSender(), now=NOW)
    with sessions() as s:
        fresh = s.get(Conversation, conversation.id)
        assert fresh is not None and fresh.last_message_at == NOW
