"""Exactly-once: what the app database recorded against what the benchmark sent.

Every signed SMS sent must be one inbound row (its MessageSid once, none missing, none
extra), answered by one reply set (the outbound rows linked to it, written together), and
what the debtor got in the TwiML must be exactly the replies stored as sent."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench.load import Turn


@dataclass
class Ledger:
    sent: int = 0  # distinct MessageSids sent
    retries: int = 0  # the same MessageSid sent again (Twilio's retry)
    retries_answered_alike: int = 0
    inbound_rows: int = 0
    missing: int = 0  # sent, not stored
    extra: int = 0  # stored, never sent
    duplicated: int = 0  # a MessageSid stored more than once
    unanswered: int = 0  # stored, no reply row linked to it
    reply_sets_duplicated: int = 0  # replies to one message written more than once
    late: int = 0  # answered after the deadline: replies queued for the outbox
    twiml_mismatch: int = 0  # the TwiML answer differs from the replies stored as sent
    not_processed: int = 0  # inbound rows whose turn never finished
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.missing
            or self.extra
            or self.duplicated
            or self.unanswered
            or self.reply_sets_duplicated
            or self.twiml_mismatch
            or self.not_processed
            or self.retries != self.retries_answered_alike
        )


def check(database_url: str, turns: list[Turn], *, settle: float = 30.0) -> Ledger:
    """Compare the turns sent through the gateway with the database, waiting up to `settle`
    seconds for replies that went late to be written."""
    from bot.models import Conversation, Message

    ledger = Ledger()
    by_sid = {t.sid: t for t in turns if t.sid}
    ledger.sent = len(by_sid)
    ledger.retries = sum(t.retry_matched is not None for t in turns)
    ledger.retries_answered_alike = sum(bool(t.retry_matched) for t in turns)
    phones = sorted({t.conversation for t in turns})
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + settle
        while True:
            with Session(engine) as session:
                inbound = session.execute(
                    select(Message.id, Message.provider_sid, Message.status)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.direction == "in", Conversation.address.in_(phones))
                ).all()
                ids = [row.id for row in inbound]
                replies = session.execute(
                    select(Message.reply_to_id, Message.text, Message.status, Message.created_at)
                    .where(Message.direction == "out", Message.reply_to_id.in_(ids))
                    .order_by(Message.id)
                ).all()
            answered = {r.reply_to_id for r in replies}
            if all(i in answered for i in ids) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        engine.dispose()

    ledger.inbound_rows = len(inbound)
    stored = Counter(row.provider_sid for row in inbound)
    ledger.duplicated = sum(n - 1 for n in stored.values() if n > 1)
    ledger.missing = sum(1 for sid in by_sid if sid not in stored)
    ledger.extra = sum(1 for sid in stored if sid not in by_sid)
    ledger.not_processed = sum(row.status != "processed" for row in inbound)
    per_message: dict[int, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in replies:
        per_message[r.reply_to_id].append(r)
    for row in inbound:
        rows = per_message.get(row.id, [])
        turn = by_sid.get(row.provider_sid)
        if not rows:
            ledger.unanswered += 1
            ledger.problems.append(f"unanswered: {row.provider_sid} {turn.text if turn else ''}")
            continue
        if len({r.created_at for r in rows}) > 1:
            ledger.reply_sets_duplicated += 1
            ledger.problems.append(f"two reply sets for {row.provider_sid}")
        if any(r.status == "queued" or r.status == "failed" for r in rows):
            ledger.late += 1
        if turn is not None and turn.ok and turn.bodies:
            sent_now = [r.text for r in rows if r.status in ("sent", "delivered")]
            if sent_now != turn.bodies:
                ledger.twiml_mismatch += 1
                ledger.problems.append(
                    f"TwiML for {row.provider_sid} was {turn.bodies!r}, stored {sent_now!r}"
                )
    return ledger
