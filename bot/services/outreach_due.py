"""What outreach is due: the kinds, and the payment reminders and missed-payment follow-ups
(definitions: `bot.services.outreach`). Reads only, except `mark_missed`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bot.domain.contact import HoldReason, Purpose
from bot.domain.dates import format_date
from bot.domain.plans import PlanPolicy
from bot.domain.timezones import consumer_zones
from bot.models import Account, Conversation, Installment, Outreach, PaymentPlan, Promise
from bot.services.conversations import local_today
from bot.services.events import EventKind, record_event
from bot.services.payment_status import (
    installment_due_cents,
    installment_paid_cents,
    promise_paid_cents,
)
from bot.wording import render

WELCOME_WITHIN = timedelta(days=30)
MISSED_FOLLOW_UP_DAYS = 14
SURVEY_QUIET = timedelta(minutes=30)
SURVEY_WITHIN = timedelta(days=1)
SURVEY_CAP_RESERVE = 2
ESCALATIONS = frozenset(
    {HoldReason.DISTRESS, HoldReason.ATTORNEY, HoldReason.BANKRUPTCY, HoldReason.DECEASED}
)
RESOLVED = (
    EventKind.PLAN_ACCEPTED,
    EventKind.PROMISE,
    EventKind.HANDOFF_RELEASED,
    EventKind.HANDOFF_CLOSED,
)


class OutreachKind(StrEnum):
    WELCOME = "welcome"
    INSTALLMENT_REMINDER = "installment_reminder"
    PROMISE_REMINDER = "promise_reminder"
    INSTALLMENT_MISSED = "installment_missed"
    PROMISE_MISSED = "promise_missed"
    SURVEY = "survey"


@dataclass(frozen=True)
class Target:
    """One thing a message is about: the `Outreach` row's (kind, target, about_date)."""

    kind: OutreachKind
    key: str  # "installment:12@2026-12-04", "promise:4@...", "account:7", "conversation:<id>"
    about_date: date | None = None


@dataclass
class Candidate:
    """A message due now: what, to whom, why; `skip_reason` set when it will not be queued."""

    targets: tuple[Target, ...]
    account: Account
    text: str
    purpose: Purpose
    expires_at: datetime | None
    why: str
    skip_reason: str | None = None
    conversation: Conversation | None = None  # surveys: the conversation they follow

    @property
    def kind(self) -> OutreachKind:
        return self.targets[0].kind

    @property
    def target(self) -> str:
        return self.targets[0].key

    @property
    def about_date(self) -> date | None:
        return self.targets[0].about_date

    @property
    def address(self) -> str | None:
        return self.conversation.address if self.conversation else self.account.phone


@dataclass(frozen=True)
class Overdue:
    """An installment or promise whose grace days passed unpaid: to be marked missed/broken."""

    kind: str  # "installment" | "promise"
    id: int
    account: Account
    due_on: date
    amount_cents: int


# ----------------------------------------------------------------------------- dates


def _end_of_day(day: date, account: Account) -> datetime:
    """The first instant at which `day` is over in some zone the consumer may be in."""
    zones = consumer_zones(account.state, account.phone)
    return min(
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(z)).astimezone(UTC)
        for z in zones
    )


def _installment_key(row: Installment) -> str:
    return f"installment:{row.id}@{row.due_on.isoformat()}"


def _promise_key(row: Promise) -> str:
    return f"promise:{row.id}@{row.due_on.isoformat()}"


def done_targets(session: Session, targets: Iterable[Target]) -> set[tuple[str, str]]:
    wanted = {(str(t.kind), t.key) for t in targets}
    if not wanted:
        return set()
    found = session.execute(
        select(Outreach.kind, Outreach.target).where(
            Outreach.target.in_(sorted({key for _, key in wanted}))
        )
    )
    return {(kind, target) for kind, target in found} & wanted


# ----------------------------------------------------------------------------- reminders


def reminders(
    session: Session, now: datetime, policy: PlanPolicy, values: Mapping[str, str]
) -> list[Candidate]:
    utc_today = now.astimezone(UTC).date()
    lo, hi = (
        utc_today - timedelta(days=1),
        utc_today + timedelta(days=policy.reminder_days_before + 1),
    )
    found: list[tuple[Target, Account, date, str]] = []
    installments = session.execute(
        select(Installment, PaymentPlan, Account, installment_paid_cents(session))
        .add_columns(installment_due_cents())
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            PaymentPlan.status == "active",
            Installment.status == "scheduled",
            Installment.due_on.between(lo, hi),
        )
        .order_by(Installment.due_on, Installment.id)
    ).all()
    for inst, plan_row, account, paid, due_so_far in installments:
        today = local_today(account, now)
        if paid >= due_so_far or not _remindable(
            inst.due_on, plan_row.created_at, today, account, policy
        ):
            continue
        why = f"installment {inst.seq} of plan {plan_row.id} due {format_date(inst.due_on, today)}"
        target = Target(OutreachKind.INSTALLMENT_REMINDER, _installment_key(inst), inst.due_on)
        found.append((target, account, today, why))
    promises = session.execute(
        select(Promise, Account, promise_paid_cents(session))
        .join(Account, Account.id == Promise.account_id)
        .where(Promise.status == "open", Promise.due_on.between(lo, hi))
        .order_by(Promise.due_on, Promise.id)
    ).all()
    for promise, account, paid in promises:
        today = local_today(account, now)
        if paid >= promise.amount_cents or not _remindable(
            promise.due_on, promise.created_at, today, account, policy
        ):
            continue
        why = f"promise {promise.id} due {format_date(promise.due_on, today)}"
        target = Target(OutreachKind.PROMISE_REMINDER, _promise_key(promise), promise.due_on)
        found.append((target, account, today, why))
    done = done_targets(session, (t for t, *_ in found))
    groups: dict[tuple[int, date], list[tuple[Target, Account, date, str]]] = defaultdict(list)
    for item in found:
        if (str(item[0].kind), item[0].key) not in done:
            groups[(item[1].id, item[0].about_date or item[2])].append(item)
    candidates = []
    for (_, due_on), items in groups.items():
        account, today = items[0][1], items[0][2]
        text = render(
            "utter_outreach_reminder",
            first_name=account.first_name,
            company_name=values["company_name"],
            date=format_date(due_on, today),
        )
        days = (due_on - today).days
        when = "today" if days == 0 else f"in {days} day{'s' if days > 1 else ''}"
        candidates.append(
            Candidate(
                targets=tuple(t for t, *_ in items),
                account=account,
                text=text,
                purpose=Purpose.COLLECTION,
                expires_at=_end_of_day(due_on, account),
                why="; ".join(w for *_, w in items) + f" ({when})",
            )
        )
    return candidates


def _remindable(
    due_on: date, agreed_at: datetime, today: date, account: Account, policy: PlanPolicy
) -> bool:
    return 0 <= (due_on - today).days <= policy.reminder_days_before and (
        local_today(account, agreed_at) < today
    )


# ----------------------------------------------------------------------------- missed


def missed(
    session: Session, now: datetime, policy: PlanPolicy, values: Mapping[str, str]
) -> tuple[list[Candidate], list[Overdue]]:
    """(follow-ups due, installments and promises to mark missed/broken)."""
    utc_today = now.astimezone(UTC).date()
    latest_due = utc_today + timedelta(days=1) - timedelta(days=policy.missed_grace_days)
    recent = utc_today - timedelta(days=MISSED_FOLLOW_UP_DAYS + 1)
    all_paid = utc_today + timedelta(days=1)  # payments recorded by now, late ones included
    overdue: list[Overdue] = []
    follow: list[tuple[Target, Account, date, str]] = []

    def consider(
        kind: str, row: Installment | Promise, account: Account, marked: bool, short: bool,
        late_short: bool, what: str, target: Target,
    ) -> None:  # fmt: skip
        today = local_today(account, now)
        if (today - row.due_on).days <= policy.missed_grace_days or not short:
            return
        if not marked:
            overdue.append(Overdue(kind, row.id, account, row.due_on, row.amount_cents))
        if late_short and (today - row.due_on).days <= MISSED_FOLLOW_UP_DAYS:
            follow.append((target, account, today, f"{what} was due {format_date(row.due_on)}"))

    installments = session.execute(
        select(Installment, PaymentPlan, Account)
        .add_columns(
            installment_paid_cents(session),
            installment_paid_cents(session, through=all_paid),
            installment_due_cents(),
        )
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .join(Account, Account.id == PaymentPlan.account_id)
        .where(
            PaymentPlan.status == "active",
            Installment.due_on < latest_due,
            or_(
                Installment.status == "scheduled",
                and_(Installment.status == "missed", Installment.due_on >= recent),
            ),
        )
        .order_by(Installment.due_on, Installment.id)
    ).all()
    for inst, plan_row, account, paid, paid_now, due_so_far in installments:
        consider(
            "installment", inst, account, inst.status == "missed", paid < due_so_far,
            paid_now < due_so_far, f"installment {inst.seq} of plan {plan_row.id}",
            Target(OutreachKind.INSTALLMENT_MISSED, _installment_key(inst), inst.due_on),
        )  # fmt: skip
    promises = session.execute(
        select(Promise, Account)
        .add_columns(promise_paid_cents(session), promise_paid_cents(session, through=all_paid))
        .join(Account, Account.id == Promise.account_id)
        .where(
            Promise.due_on < latest_due,
            or_(
                Promise.status == "open",
                and_(Promise.status == "broken", Promise.due_on >= recent),
            ),
        )
        .order_by(Promise.due_on, Promise.id)
    ).all()
    for promise, account, paid, paid_now in promises:
        consider(
            "promise", promise, account, promise.status == "broken",
            paid < promise.amount_cents, paid_now < promise.amount_cents, f"promise {promise.id}",
            Target(OutreachKind.PROMISE_MISSED, _promise_key(promise), promise.due_on),
        )  # fmt: skip
    done = done_targets(session, (t for t, *_ in follow))
    groups: dict[int, list[tuple[Target, Account, date, str]]] = defaultdict(list)
    for item in follow:
        if (str(item[0].kind), item[0].key) not in done:
            groups[item[1].id].append(item)
    candidates = []
    for items in groups.values():
        account = items[0][1]
        last_due = max(t.about_date for t, *_ in items if t.about_date is not None)
        candidates.append(
            Candidate(
                targets=tuple(t for t, *_ in items),
                account=account,
                text=render(
                    "utter_outreach_missed",
                    first_name=account.first_name,
                    company_name=values["company_name"],
                ),
                purpose=Purpose.COLLECTION,
                expires_at=_end_of_day(last_due + timedelta(days=MISSED_FOLLOW_UP_DAYS), account),
                why="; ".join(w for *_, w in items) + " and is not paid",
            )
        )
    return candidates, overdue


def mark_missed(session: Session, items: Iterable[Overdue], *, now: datetime) -> int:
    """Mark each installment `missed` (promise `broken`) and record a `payment_missed` event.
    Guarded: only a row still `scheduled`/`open` at the same date changes, so of two passes
    one records it. Returns how many changed; the caller commits."""
    changed = 0
    for item in items:
        new = "missed" if item.kind == "installment" else "broken"
        if item.kind == "installment":
            guarded = update(Installment).where(
                Installment.id == item.id,
                Installment.status == "scheduled",
                Installment.due_on == item.due_on,
            )
        else:
            guarded = update(Promise).where(
                Promise.id == item.id, Promise.status == "open", Promise.due_on == item.due_on
            )
        result = session.execute(
            guarded.values(status=new).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        # The UPDATE did it; keep an already loaded object in step.
        loaded: Installment | Promise | None = (
            session.get(Installment, item.id)
            if item.kind == "installment"
            else session.get(Promise, item.id)
        )
        if loaded is not None:
            loaded.status = new
        record_event(
            session,
            EventKind.PAYMENT_MISSED,
            actor="system",
            account_id=item.account.id,
            data={
                "kind": item.kind,
                f"{item.kind}_id": item.id,
                "due_on": item.due_on.isoformat(),
                "amount_cents": item.amount_cents,
                "status": new,
            },
            at=now,
        )
        changed += 1
    return changed
