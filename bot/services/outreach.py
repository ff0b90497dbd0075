"""Outreach: the messages the system starts on its own, found and queued by a scheduler pass.

`plan()` says what is due now and why; `run()` queues it in the outbox. The outbox
(`bot.services.outbox.deliver_due`) asks the contact rules again at the moment of sending, so
a message queued now goes only when the window, the cap, opt-out, cease, holds and preferences
allow, waits for the next allowed moment, or is dropped with the reason kept on the row.

What is due (dates are the debtor's local date, `conversations.local_today`):

- **installment_reminder / promise_reminder**: a `scheduled` installment of an `active` plan, or
  an `open` promise, due within `policy.reminder_days_before` days (0 = today; never past),
  not already paid (`payment_status`), and agreed before today (someone who agreed an hour ago
  needs no reminder). It expires at the end of the due date in the first of the consumer's
  zones to reach it: a reminder is never sent after its date. Several due the same day for
  one account go as one message.
- **installment_missed / promise_missed**: the grace days after the due date
  (`policy.missed_grace_days`) have passed and the payments by the due date do not cover it.
  The installment is marked `missed` (the promise `broken`) with a `payment_missed` event, by
  a guarded update, so two schedulers record it once. One kind follow-up goes ("if your plans
  have changed... we'll find a date or amount that works"), unless a payment made after the
  date covers it by now, or it was due more than `MISSED_FOLLOW_UP_DAYS` (14) ago: turning
  the scheduler on for the first time marks old ones but writes to nobody about them. Several
  at once for one account go as one message.
- **welcome**: an account placed within `WELCOME_WITHIN` (30 days) with a phone, which was
  never written to (no conversation on the account or its number, no outreach). Consent: a
  first-party creditor texting the number its customer gave it for the account (the operating
  model of compliance.md). A third-party collector (`third_party=True`) has no such consent,
  so no welcome is sent (`no_consent`).
- **survey**: an SMS conversation that ended resolved (a plan accepted, a promise made, or an
  agent's handoff released or closed, within `SURVEY_WITHIN`, 1 day) and has been quiet for
  `SURVEY_QUIET` (30 minutes). Queued in that same conversation, which must still be open and
  with the bot (an agent's close ends the conversation, so it gets none: `conversation_closed`).
  Never after a distress, attorney, bankruptcy or deceased handoff or hold (`escalated:...`),
  never to an opted-out number, one per conversation, and never when fewer than
  `SURVEY_CAP_RESERVE` (2) initiated messages remain of the account's rolling cap (sent and
  still queued count): a survey does not take the last slot a reminder may need.

Purpose (`bot.domain.contact.Purpose`): reminders, missed-payment follow-ups and the welcome
are COLLECTION: they are about a payment or start the collection conversation, so any hold
(dispute, validation, bankruptcy, distress, deceased, attorney) stops them, at queue time and
again at send time. The survey is FEEDBACK (it asks about the service, not for money): a
dispute does not stop it, but a distress, bankruptcy or deceased hold does, at send time too;
each pass also withdraws queued surveys whose conversation escalated since (`withdraw_stale`).

Skipped, not queued: a refusal that waiting does not cure (wrong number, opted out, ceased,
attorney, holds, channel preference, no phone, no consent, escalated) and anything that
could not go before it expires. A refusal that only means "not now" (outside the window,
preferred hours, the cap) is queued: the outbox holds it to the right moment. Skips write
nothing, so the next pass looks again (a hold released in time lets the reminder go).

Nothing twice: every message has an `Outreach` row per thing it is about, UNIQUE(kind,
target), inserted with the message in one transaction; an IntegrityError means another pass
did it first. Targets carry the due date ("installment:12@2026-12-04"), so a payment moved to a
new date gets its own reminder, and a queued reminder for the old date is withdrawn.

Only SMS: the web chat has no address to write to. Each message goes into the number's open
SMS conversation, or a new one (status bot, account linked, not verified), so the debtor's
reply continues it through the normal pipeline; while an agent holds the number's
conversation (handoff) or it is about another account, the pass waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain.contact import Channel, Kind
from bot.domain.plans import PlanPolicy
from bot.models import Conversation, Outreach
from bot.services.consent import contact_decision
from bot.services.conversations import new_conversation_id
from bot.services.outbox import queue_message
from bot.services.outreach_accounts import surveys, welcomes, withdraw_stale
from bot.services.outreach_due import (
    Candidate,
    OutreachKind,
    Overdue,
    Target,
    mark_missed,
    missed,
    reminders,
)

__all__ = [
    "Candidate",
    "OutreachKind",
    "Overdue",
    "Report",
    "Target",
    "describe",
    "overdue",
    "plan",
    "run",
]


@dataclass
class Report:
    queued: int = 0
    already_done: int = 0  # another pass queued it first (the unique pair said so)
    conflicts: int = 0  # lost a race on the conversation: the next pass tries again
    marked_missed: int = 0
    withdrawn: int = 0  # queued messages that no longer apply, canceled before sending
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        skipped = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items())) or "none"
        return (
            f"queued {self.queued}, already done {self.already_done}, conflicts "
            f"{self.conflicts}, marked missed {self.marked_missed}, withdrawn "
            f"{self.withdrawn}; skipped: {skipped}"
        )


# ----------------------------------------------------------------------------- planning


def _open_conversation(session: Session, address: str) -> Conversation | None:
    return session.scalar(
        select(Conversation)
        .where(
            Conversation.channel == "sms",
            Conversation.address == address,
            Conversation.status != "closed",
        )
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    )


def _judge(session: Session, candidate: Candidate, now: datetime) -> None:
    """Set `skip_reason` (or extend `why` with when it may go) from the contact rules at now."""
    if candidate.skip_reason is not None:
        return
    address = candidate.address
    if not address:
        candidate.skip_reason = "no_phone"
        return
    if candidate.conversation is None:
        current = _open_conversation(session, address)
        if current is not None and current.account_id != candidate.account.id:
            candidate.skip_reason = "number_shared"  # its open conversation is someone else's
            return
        if current is not None and current.status == "handoff":
            candidate.skip_reason = "handoff_open"  # an agent has the number: wait
            return
    decision = contact_decision(
        session,
        address=address,
        channel=Channel.SMS,
        kind=Kind.INITIATED,
        purpose=candidate.purpose,
        now=now,
        account=candidate.account,
    )
    expires = candidate.expires_at
    if decision.allowed:
        if expires is not None and now >= expires:
            candidate.skip_reason = "expired"
        else:
            candidate.why += "; may go now"
        return
    if decision.not_before is None:
        candidate.skip_reason = str(decision.reason)
    elif expires is not None and decision.not_before >= expires:
        candidate.skip_reason = f"expired:{decision.reason}"
    else:
        candidate.why += (
            f"; waits until {decision.not_before:%Y-%m-%d %H:%M} UTC ({decision.reason})"
        )


def _scan(
    session: Session,
    now: datetime,
    policy: PlanPolicy,
    values: Mapping[str, str],
    third_party: bool,
) -> tuple[list[Candidate], list[Overdue]]:
    follow_ups, to_mark = missed(session, now, policy, values)
    candidates = [
        *welcomes(session, now, values, third_party),
        *reminders(session, now, policy, values),
        *follow_ups,
        *surveys(session, now),
    ]
    for candidate in candidates:
        _judge(session, candidate, now)
    return candidates, to_mark


def plan(
    session: Session,
    now: datetime,
    policy: PlanPolicy,
    values: Mapping[str, str],
    *,
    third_party: bool = False,
) -> list[Candidate]:
    """What is due now and why, each with the reason it will be skipped, if it will."""
    return _scan(session, now, policy, values, third_party)[0]


def overdue(session: Session, now: datetime, policy: PlanPolicy) -> list[Overdue]:
    """Installments and promises a pass at `now` would mark missed/broken."""
    return missed(session, now, policy, {"company_name": ""})[1]


# ----------------------------------------------------------------------------- queueing


class _Busy(Exception):
    """The number's open conversation changed under us: try again on the next pass."""


def _conversation_for(session: Session, candidate: Candidate, now: datetime) -> Conversation:
    if candidate.conversation is not None:
        if candidate.conversation.status != "bot":
            raise _Busy
        return candidate.conversation
    account = candidate.account
    assert account.phone is not None  # _judge skipped the ones without
    current = _open_conversation(session, account.phone)
    if current is not None:
        if current.account_id != account.id or current.status != "bot":
            raise _Busy
        return current
    conversation = Conversation(
        id=new_conversation_id(),
        channel="sms",
        address=account.phone,
        account_id=account.id,
        status="bot",
        started_at=now,
        last_message_at=now,
    )
    session.add(conversation)
    session.flush()  # the open-conversation index may say another pass got there first
    return conversation


def _queue(session: Session, candidate: Candidate, now: datetime) -> str:
    """Queue one candidate with its Outreach rows, in one transaction (committed).
    Returns "queued", "already_done" or "conflict"."""
    try:
        conversation = _conversation_for(session, candidate, now)
        message = queue_message(
            session,
            conversation,
            candidate.text,
            sender="system",
            initiated=True,
            purpose=candidate.purpose,
            now=now,
        )
        message.expires_at = candidate.expires_at
        for target in candidate.targets:
            session.add(
                Outreach(
                    kind=str(target.kind),
                    target=target.key,
                    account_id=candidate.account.id,
                    conversation_id=conversation.id,
                    message_id=message.id,
                    about_date=target.about_date,
                    created_at=now,
                )
            )
        session.flush()
        session.commit()
        return "queued"
    except (IntegrityError, _Busy):
        session.rollback()
    pairs = [
        and_(Outreach.kind == str(t.kind), Outreach.target == t.key) for t in candidate.targets
    ]
    if session.scalar(select(Outreach.id).where(or_(*pairs)).limit(1)) is not None:
        return "already_done"
    return "conflict"


def run(
    session: Session,
    now: datetime,
    policy: PlanPolicy,
    values: Mapping[str, str],
    *,
    third_party: bool = False,
) -> Report:
    """One scheduler pass: withdraw queued outreach that no longer applies, mark what was
    missed, and queue what is due. Commits as it goes (one transaction per message)."""
    report = Report()
    report.withdrawn = withdraw_stale(session, now=now)
    session.commit()
    candidates, overdue_items = _scan(session, now, policy, values, third_party)
    report.marked_missed = mark_missed(session, overdue_items, now=now)
    session.commit()
    for candidate in candidates:
        if candidate.skip_reason is not None:
            report.skipped[candidate.skip_reason] += 1
            continue
        outcome = _queue(session, candidate, now)
        if outcome == "queued":
            report.queued += 1
        elif outcome == "already_done":
            report.already_done += 1
        else:
            report.conflicts += 1
    return report


def describe(candidate: Candidate) -> str:
    """One line for the dry run."""
    ref = candidate.account.account_ref
    kinds = "+".join(dict.fromkeys(str(t.kind) for t in candidate.targets))
    if candidate.skip_reason is not None:
        return f"skip {kinds} {ref}: {candidate.skip_reason} ({candidate.why})"
    address = candidate.address or ""
    return f"would send {kinds} to {ref} ({address[:5]}…): {candidate.why}"
