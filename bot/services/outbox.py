"""The outbox: outbound messages the system starts (agent replies, late bot replies, reminders)
are `messages` rows with status "queued", sent by a worker through an `SmsSender`.

Guarantees:
- never sent twice: a row is claimed with one guarded UPDATE (queued -> sending) before the
  HTTP call, so two workers cannot both send it; a row left in "sending" by a crash is not
  resent automatically (`stuck_sending` lists it for a person);
- never sent when the contact rules say no: `contact_decision` is asked at the moment of
  sending (an opt-out that happened after the row was queued blocks it; an initiated message
  outside the contact window waits for `not_before`);
- nothing lost on Twilio failures: transient errors put the row back with exponential backoff
  and jitter, until MAX_ATTEMPTS; permanent errors fail the row with the reason kept.

No transaction is open during the HTTP call: claim+check, send, record are separate.
Web-channel rows are not sent here (the web chat polls them).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import utcnow
from bot.domain.contact import Channel, Kind, Purpose
from bot.models import Account, Conversation, Message
from bot.services.consent import contact_decision
from bot.twilio_client import PermanentSendError, SmsSender, TransientSendError

log = logging.getLogger(__name__)

MAX_BODY = 1600  # rule 22
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(minutes=15)
# Twilio's Retry-After is obeyed up to this: a bogus header must not park a message for days
RETRY_AFTER_CAP = timedelta(hours=1)
OPT_OUT_LINE = "Reply STOP to opt out."  # rule 5 (domain.yml utter_opt_out_line)

Sender = Literal["agent", "bot", "system"]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    deferred: int = 0

    def add(self, other: DeliveryReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed + self.blocked + self.deferred


def queue_message(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    sender: Sender,
    initiated: bool,
    purpose: Purpose,
    agent_id: int | None = None,
    now: datetime,
) -> Message:
    """Store an outbound message for the worker (status queued, due now). An initiated SMS
    gets the opt-out instruction when it lacks one (rule 5). The caller commits."""
    if sender not in ("agent", "bot", "system"):
        raise ValueError(f"unknown sender {sender!r}")
    if initiated and conversation.channel == "sms" and "STOP" not in text:
        text = f"{text.rstrip()} {OPT_OUT_LINE}"
    if len(text) > MAX_BODY:
        raise ValueError(f"outbound body is {len(text)} characters, at most {MAX_BODY}")
    message = Message(
        conversation_id=conversation.id,
        direction="out",
        sender=sender,
        channel=conversation.channel,
        text=text,
        status="queued",
        initiated=initiated,
        purpose=Purpose(purpose).value,
        agent_id=agent_id,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 5 s * 2^(attempts-1), capped at
    15 min, times a jitter in [0.5, 1.0] so that workers retrying together spread out."""
    exponent = max(attempts - 1, 0)
    delay = min(BACKOFF_BASE * (2 ** min(exponent, 20)), BACKOFF_CAP)
    return delay * (rng or random).uniform(0.5, 1.0)


def _due(session: Session, now: datetime, batch: int) -> Sequence[int]:
    return session.scalars(
        select(Message.id)
        .where(
            Message.direction == "out",
            Message.channel == "sms",
            Message.status == "queued",
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
        )
        .order_by(Message.next_attempt_at, Message.id)
        .limit(batch)
    ).all()


@dataclass
class _Claimed:
    id: int
    to: str
    body: str
    attempts: int


def _claim_and_check(
    sessions: sessionmaker[Session], message_id: int, now: datetime, report: DeliveryReport
) -> _Claimed | None:
    """Claim the row (queued -> sending) and ask the contact rules, in one short transaction.
    None when another worker has it, or when the rules blocked or deferred it."""
    with sessions.begin() as session:
        claimed = session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.status == "queued",
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            )
            .values(status="sending", attempts=Message.attempts + 1, status_updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        message = session.get(Message, message_id, populate_existing=True)
        assert message is not None
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        if message.expires_at is not None and now >= message.expires_at:
            # A reminder that could not go before its date is dropped, never sent late.
            message.attempts -= 1
            message.status = "canceled"
            message.next_attempt_at = None
            message.error = "expired: the contact rules held it until it no longer applied"
            report.blocked += 1
            log.info("message %s expired before it could be sent", message.id)
            return None
        account = session.get(Account, conversation.account_id) if conversation.account_id else None
        decision = contact_decision(
            session,
            address=conversation.address,
            channel=Channel.SMS,
            kind=Kind.INITIATED if message.initiated else Kind.REPLY,
            purpose=Purpose(message.purpose),
            now=now,
            account=account,
        )
        if decision.allowed:
            return _Claimed(message.id, conversation.address, message.text, message.attempts)
        # Not a send attempt: the count is put back.
        message.attempts -= 1
        message.error = f"contact rules: {decision.reason}"
        if (
            decision.not_before is not None
            and message.expires_at is not None
            and decision.not_before >= message.expires_at
        ):
            message.status = "canceled"
            message.next_attempt_at = None
            message.error = (
                f"expired: the contact rules ({decision.reason}) would hold it until "
                f"{decision.not_before.isoformat()}, after it no longer applied"
            )
            report.blocked += 1
            log.info("message %s dropped: %s", message.id, message.error)
        elif decision.not_before is not None:
            message.status = "queued"
            message.next_attempt_at = decision.not_before
            report.deferred += 1
            log.info("message %s deferred to %s (%s)", message.id, decision.not_before, decision)
        else:
            message.status = "blocked"
            message.next_attempt_at = None
            report.blocked += 1
            log.info("message %s blocked: %s", message.id, decision.reason)
        return None


def _finish(sessions: sessionmaker[Session], message_id: int, **values: object) -> bool:
    """Record the outcome of a send on a row this worker holds in "sending"."""
    with sessions.begin() as session:
        result = session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "sending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _touch_conversation(sessions: sessionmaker[Session], message_id: int, now: datetime) -> None:
    """A message just went out: its conversation is live again, so the debtor's answer to a
    reminder sent long after it was queued continues the same conversation."""
    try:
        with sessions.begin() as session:
            conversation_id = select(Message.conversation_id).where(Message.id == message_id)
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id.scalar_subquery())
                .where(Conversation.last_message_at < now)
                .values(last_message_at=now)
                .execution_options(synchronize_session=False)
            )
    except Exception:  # bookkeeping only: never let it turn a sent message into a retry
        log.exception("outbox: could not touch the conversation of message %s", message_id)


def _deliver_one(
    sessions: sessionmaker[Session],
    sender: SmsSender,
    message_id: int,
    now: datetime,
    status_callback_url: str | None,
    rng: random.Random | None,
    report: DeliveryReport,
) -> None:
    claimed = _claim_and_check(sessions, message_id, now, report)
    if claimed is None:
        return
    try:
        sid = sender.send(claimed.to, claimed.body, status_callback_url)
    except TransientSendError as exc:
        if claimed.attempts >= MAX_ATTEMPTS:
            _finish(sessions, message_id, status="failed", error=f"gave up: {exc}"[:1000])
            report.failed += 1
            log.error("message %s failed after %s attempts: %s", message_id, claimed.attempts, exc)
        else:
            retry_at = now + backoff(claimed.attempts, rng)
            if exc.retry_after is not None:  # Twilio said how long to wait: at least that
                # capped in seconds first: a huge header would overflow a timedelta
                asked = timedelta(seconds=min(exc.retry_after, RETRY_AFTER_CAP.total_seconds()))
                retry_at = max(retry_at, now + asked)
            _finish(
                sessions,
                message_id,
                status="queued",
                next_attempt_at=retry_at,
                error=str(exc)[:1000],
            )
            report.retried += 1
            log.warning("message %s: %s; retry at %s", message_id, exc, retry_at)
        return
    except PermanentSendError as exc:
        _finish(sessions, message_id, status="failed", error=str(exc)[:1000])
        report.failed += 1
        log.error("message %s failed: %s", message_id, exc)
        return
    # Sent. Whatever happens now, the row must not go back to "queued".
    _touch_conversation(sessions, message_id, now)
    try:
        _finish(sessions, message_id, status="sent", provider_sid=sid, sent_at=now, error=None)
    except IntegrityError:
        # The provider answered with a sid already stored on another row (a mock does that).
        # The message did go out: record it as sent, keep the sid in the error for a person.
        _finish(
            sessions,
            message_id,
            status="sent",
            sent_at=now,
            error=f"provider sid {sid} already recorded on another message",
        )
    report.sent += 1


def deliver_due(
    sessions: sessionmaker[Session],
    sender: SmsSender,
    *,
    now: datetime,
    batch: int = 20,
    status_callback_url: str | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send the queued SMS rows due at `now` (at most `batch`)."""
    report = DeliveryReport()
    with sessions() as session:
        due = _due(session, now, batch)
    for message_id in due:
        try:
            _deliver_one(sessions, sender, message_id, now, status_callback_url, rng, report)
        except Exception:  # one bad row (or a database hiccup) does not stop the others
            log.exception("outbox: message %s could not be processed", message_id)
    return report


def stuck_sending(session: Session, older_than: datetime | timedelta) -> list[Message]:
    """Rows left in "sending" (a worker died between the claim and recording the result):
    they may or may not have gone out, so a person decides. `older_than`: a cutoff instant,
    or an age measured back from now."""
    cutoff = utcnow() - older_than if isinstance(older_than, timedelta) else older_than
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.direction == "out",
                Message.status == "sending",
                or_(Message.status_updated_at.is_(None), Message.status_updated_at < cutoff),
            )
            .order_by(Message.id)
        )
    )


def run_worker(
    sessions: sessionmaker[Session],
    sender: SmsSender,
    *,
    once: bool = False,
    poll_interval: float = 1.0,
    batch: int = 20,
    status_callback_url: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    stop: threading.Event | None = None,
    before_pass: Callable[[datetime], object] | None = None,
) -> DeliveryReport:
    """Poll the outbox until SIGTERM/SIGINT (or `stop` is set); `once`: one pass only.
    `before_pass(now)` runs first on each pass (the gateway answers turns that died)."""
    stop = stop or threading.Event()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[int(signum)] = signal.signal(signum, lambda *_: stop.set())
    total = DeliveryReport()
    try:
        while not stop.is_set():
            try:
                if before_pass is not None:
                    before_pass(clock())
                report = deliver_due(
                    sessions,
                    sender,
                    now=clock(),
                    batch=batch,
                    status_callback_url=status_callback_url,
                )
            except Exception:  # the database went away, say: log and try again later
                log.exception("outbox pass failed")
                report = DeliveryReport()
            total.add(report)
            if once:
                break
            if report.total < batch:  # a full batch: more may be due, go again at once
                stop.wait(poll_interval)
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)  # type: ignore[arg-type]
    return total
