"""Time travel: the scheduler and the outbox driven by a frozen clock (explicit `now` values),
every 15 minutes for 10 days, with consumers in Seattle, New York-with-a-Texas-address,
Hawaii, Arizona and Massachusetts, across the US daylight-saving changes and a weekend.

Whatever is due, every message that goes out goes inside 08:00-21:00 in every zone the
consumer may be in (rule 12), after 17:00 or at the weekend for one who asked "not at work"
(rule 11), within the rolling cap (rule 13), once, and never after the date it is about; and
a hold or an opt-out that comes after a message was queued stops it (rules 9-10, 14-16)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import init_engine
from bot.domain.contact import Channel, ContactPolicy, HoldReason
from bot.domain.plans import PlanPolicy
from bot.domain.timezones import consumer_zones
from bot.models import Account, Message
from bot.services import outreach
from bot.services.cases import hold_for_escalation
from bot.services.consent import ConsentAction, record_consent, set_preference
from bot.services.holds import place_hold
from bot.services.outbox import deliver_due
from tests.integration.factories import make_payment
from tests.integration.outreach_factories import (
    VALUES,
    ClockedSender,
    debtor,
    make_plan,
    make_promise,
    outreach_messages,
    resolved_conversation,
)

pytestmark = pytest.mark.integration

STEP = timedelta(minutes=15)
DAYS = 10
CAP = ContactPolicy()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(database_url), expire_on_commit=False)


@dataclass(frozen=True)
class Person:
    key: str
    phone: str
    state: str
    address_zone: str
    phone_zone: str
    not_at_work: bool = False
    survey_only: bool = False  # no plan: just a conversation that ends well one evening


PEOPLE = (
    Person("seattle", "+12065550101", "WA", "America/Los_Angeles", "America/Los_Angeles"),
    Person("ny_phone_tx_address", "+12125550102", "TX", "America/Chicago", "America/New_York"),
    Person("hawaii", "+18085550103", "HI", "Pacific/Honolulu", "Pacific/Honolulu"),
    Person("arizona", "+16025550104", "AZ", "America/Phoenix", "America/Phoenix"),
    Person("massachusetts", "+16175550105", "MA", "America/New_York", "America/New_York"),
    Person("not_at_work", "+12065550106", "WA", *("America/Los_Angeles",) * 2, not_at_work=True),
    Person("surveyed", "+12065550107", "WA", *("America/Los_Angeles",) * 2, survey_only=True),
)


def _local(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _simulate(
    sessions: sessionmaker[Session],
    policy: PlanPolicy,
    start: datetime,
    *,
    days: int = DAYS,
    happenings: list[tuple[datetime, Callable[[Session], None]]] | None = None,
) -> ClockedSender:
    """Every STEP: what happens in the world by then, one scheduler pass (its own session, as
    the CLI does), one outbox pass."""
    clock = Clock(start)
    sender = ClockedSender(clock)
    pending = sorted(happenings or [], key=lambda h: h[0])
    for step in range(int(timedelta(days=days) / STEP)):
        clock.now = start + step * STEP
        while pending and pending[0][0] <= clock.now:
            _, happen = pending.pop(0)
            with sessions() as s:
                happen(s)
                s.commit()
        with sessions() as s:
            outreach.run(s, clock.now, policy, VALUES)
        deliver_due(sessions, sender, now=clock.now, batch=100)
    return sender


def _populate(session: Session, start: datetime) -> tuple[dict[str, Account], list]:
    """Day 0 is a Tuesday; days 4-5 the weekend, and the clocks change on day 5 (Sunday).

    Each person is newly placed (a welcome is due at once), has a plan with installments on
    day 2 (never paid: a reminder, then a follow-up on Sunday) and day 9 (a reminder from day
    6), and a promise for day 8 (a reminder from day 5; paid on the day). With the welcome and
    the day-2 reminder sent on day 0, the cap (3 in 7 days; 2 in Massachusetts) holds the rest
    until day 7 and drops what it holds past its date. The "surveyed" person ends a
    conversation well at 20:50 on day 2: the survey waits for 08:00."""
    accounts: dict[str, Account] = {}
    happenings: list[tuple[datetime, Callable[[Session], None]]] = []
    day0 = start.astimezone(ZoneInfo("America/Los_Angeles")).date()
    for n, person in enumerate(PEOPLE):
        account = debtor(
            session,
            person.phone,
            person.state,
            person.address_zone,
            account_ref=f"ACC-TT{n}",
            phone_zones=person.phone_zone,
            placed_at=start - timedelta(days=60 if person.survey_only else 1),
        )
        accounts[person.key] = account
        if person.not_at_work:
            set_preference(session, account, actor="debtor", avoid_work_hours=True)
        if person.survey_only:
            evening = _local(day0 + timedelta(days=2), 20, 50, person.address_zone)
            happenings.append((evening, _resolver(account.id, evening)))
            continue
        dues = [day0 + timedelta(days=2), day0 + timedelta(days=9)]
        make_plan(session, account, dues, created_at=start - timedelta(days=2))
        promised = day0 + timedelta(days=8)
        make_promise(session, account, promised, created_at=start - timedelta(days=1), cents=5000)
        happenings.append(
            (_local(promised, 12, 0, person.address_zone), _payer(account.id, promised))
        )
    session.commit()
    return accounts, happenings


def _payer(account_id: int, paid_on: date) -> Callable[[Session], None]:
    def pay(session: Session) -> None:
        account = session.get(Account, account_id)
        assert account is not None
        make_payment(session, account, 5000, paid_on)

    return pay


def _resolver(account_id: int, at: datetime) -> Callable[[Session], None]:
    def resolve(session: Session) -> None:
        account = session.get(Account, account_id)
        assert account is not None
        resolved_conversation(session, account, resolved_at=at)

    return resolve


SCENARIOS = {
    # Tue 2026-10-27 to Fri 2026-11-06: the weekend of Oct 31, and the fall-back on Sun Nov 1.
    "fall_back": datetime(2026, 10, 27, 7, 0, tzinfo=UTC),
    # Tue 2027-03-09 to Fri 2027-03-19: the weekend of Mar 13, and the spring-forward on Mar 14.
    "spring_forward": datetime(2027, 3, 9, 8, 0, tzinfo=UTC),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ten_days_every_send_inside_every_window_under_the_cap_once_and_on_time(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy, scenario: str
) -> None:
    start = SCENARIOS[scenario]
    accounts, happenings = _populate(session, start)
    sender = _simulate(sessions, policy, start, happenings=happenings)

    by_phone = {a.phone: a for a in accounts.values()}
    sends: dict[int, list[datetime]] = defaultdict(list)
    for at, to, _ in sender.calls:
        account = by_phone[to]
        sends[account.id].append(at)
        for zone in consumer_zones(account.state, account.phone):
            local = at.astimezone(ZoneInfo(zone))
            assert time(8) <= local.time() < time(21), (scenario, account.state, zone, local)
        if account.account_ref == accounts["not_at_work"].account_ref:
            local = at.astimezone(ZoneInfo("America/Los_Angeles"))
            assert local.weekday() >= 5 or not time(9) <= local.time() < time(17), local

    for account in accounts.values():  # the rolling cap, over every 7-day stretch
        times = sorted(sends[account.id])
        cap = CAP.cap_for(account.state)
        assert times, f"{account.state}: nothing was sent at all"
        for i, sent in enumerate(times):
            within = [t for t in times[: i + 1] if t > sent - timedelta(days=CAP.cap_days)]
            assert len(within) <= cap, (account.state, [t.isoformat() for t in within])

    with sessions() as s:
        sent_rows = s.scalars(select(Message).where(Message.status == "sent")).all()
        assert len(sent_rows) == len(sender.calls)  # nothing went twice
        for message in sent_rows:
            assert message.sent_at is not None
            if message.expires_at is not None:
                assert message.sent_at < message.expires_at, message.text  # never late
        rows = outreach_messages(s)
        kinds = {o.kind for o, m in rows if m.status == "sent"}
        held = [m for _, m in rows if m.status == "queued"]
        dropped = [m for _, m in rows if m.status == "canceled"]
    assert kinds >= {
        "welcome",
        "installment_reminder",
        "promise_reminder",
        "installment_missed",
        "survey",
    }, kinds
    weekend = [
        (at, to)
        for at, to, _ in sender.calls
        if at.astimezone(ZoneInfo(by_phone[to].zones[0])).weekday() >= 5
    ]
    assert weekend, "the weekend was crossed without a send"
    # The cap did bite: what it held past its date was dropped with the reason, never late.
    assert any("frequency_cap" in (m.error or "") for m in dropped), [m.error for m in dropped]
    assert all("no longer applied" in (m.error or "") for m in dropped)
    assert held == [] or all(m.expires_at is None or m.expires_at > start for m in held)


def test_on_the_fall_back_day_the_window_opens_at_eight_standard_time(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    """Queued at midnight PDT on Sun Nov 1 (01:00-02:00 happens twice in Seattle): it goes at
    08:00 PST, which is 16:00 UTC, not at 08:00 PDT (15:00 UTC)."""
    account = debtor(session, "+12065550201", "WA", "America/Los_Angeles")
    make_promise(
        session, account, date(2026, 11, 2), created_at=datetime(2026, 10, 30, 18, tzinfo=UTC)
    )
    session.commit()
    start = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 00:00 PDT on Sun Nov 1
    sender = _simulate(sessions, policy, start, days=1)
    assert [t for t, _, _ in sender.calls] == [datetime(2026, 11, 1, 16, 0, tzinfo=UTC)]


def test_on_the_spring_forward_day_each_zone_opens_at_its_own_eight(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    """Sun Mar 14 2027 springs forward at 02:00: 08:00 PDT is 15:00 UTC; Hawaii (no DST) is
    still 18:00 UTC for 08:00 and Arizona 15:00 UTC (Phoenix) but the Navajo Nation (Denver)
    already at 14:00 UTC, so the both-zones answer is 15:00."""
    seattle = debtor(session, "+12065550202", "WA", "America/Los_Angeles")
    hawaii = debtor(session, "+18085550203", "HI", "Pacific/Honolulu")
    arizona = debtor(session, "+16025550204", "AZ", "America/Phoenix")
    for account in (seattle, hawaii, arizona):
        make_promise(
            session, account, date(2027, 3, 15), created_at=datetime(2027, 3, 12, 20, tzinfo=UTC)
        )
    session.commit()
    start = datetime(2027, 3, 14, 8, 0, tzinfo=UTC)  # midnight PST
    sender = _simulate(sessions, policy, start, days=1)
    first = {to: t for t, to, _ in reversed(sender.calls)}
    assert first == {
        seattle.phone: datetime(2027, 3, 14, 15, 0, tzinfo=UTC),
        hawaii.phone: datetime(2027, 3, 14, 18, 0, tzinfo=UTC),
        arizona.phone: datetime(2027, 3, 14, 15, 0, tzinfo=UTC),
    }


# ----------------------------------------------------------------------------- after queueing


def _night_reminder(session: Session) -> tuple[Account, datetime]:
    """A promise reminder queued at 23:00 in Seattle: it waits for 08:00."""
    account = debtor(session, "+12065550301", "WA", "America/Los_Angeles")
    make_promise(
        session, account, date(2026, 11, 25), created_at=datetime(2026, 11, 20, 18, tzinfo=UTC)
    )
    session.commit()
    return account, datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 23:00 on Mon Nov 23


def _hold(reason: HoldReason) -> Callable[[Session, Account], None]:
    def act(session: Session, account: Account) -> None:
        if reason is HoldReason.DISPUTE:
            place_hold(session, account, reason, actor="bot")
        else:
            hold_for_escalation(session, account, reason, actor="safety_net")

    return act


def _consent(action: ConsentAction) -> Callable[[Session, Account], None]:
    def act(session: Session, account: Account) -> None:
        record_consent(
            session, account.phone or "", Channel.SMS, action, source="keyword",
            account_id=account.id, now=datetime(2026, 11, 24, 10, tzinfo=UTC),
        )  # fmt: skip

    return act


@pytest.mark.parametrize(
    ("act", "reason"),
    [
        (_hold(HoldReason.DISPUTE), "hold:dispute"),
        (_hold(HoldReason.BANKRUPTCY), "hold:bankruptcy"),
        (_hold(HoldReason.DISTRESS), "hold:distress"),
        (_hold(HoldReason.DECEASED), "hold:deceased"),
        (_hold(HoldReason.ATTORNEY), "attorney"),
        (_consent(ConsentAction.OPT_OUT), "opted_out"),
        (_consent(ConsentAction.CEASE), "ceased"),
        (_consent(ConsentAction.WRONG_NUMBER), "wrong_number"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_hold_or_opt_out_after_queueing_stops_the_message(
    session: Session,
    sessions: sessionmaker[Session],
    policy: PlanPolicy,
    act: Callable[[Session, Account], None],
    reason: str,
) -> None:
    account, night = _night_reminder(session)
    with sessions() as s:
        assert outreach.run(s, night, policy, VALUES).queued == 1
    sender = ClockedSender(lambda: night)
    deliver_due(sessions, sender, now=night)  # outside the window: it waits
    with sessions() as s:
        queued = s.get(Account, account.id)
        assert queued is not None
        act(s, queued)
        s.commit()
    for hour in range(1, 14):  # through the morning
        now = night + timedelta(hours=hour)
        with sessions() as s:
            outreach.run(s, now, policy, VALUES)
        deliver_due(sessions, sender, now=now)
    assert sender.calls == []
    with sessions() as s:
        [(_, message)] = outreach_messages(s)
        assert message.status == "blocked"
        assert message.error == f"contact rules: {reason}"


def test_without_a_hold_the_same_reminder_goes_at_eight(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    _, night = _night_reminder(session)
    sender = _simulate(sessions, policy, night, days=1)
    assert [t for t, _, _ in sender.calls] == [datetime(2026, 11, 24, 16, 0, tzinfo=UTC)]


def test_a_reminder_the_outbox_could_not_send_before_its_date_ended_is_dropped(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    """Queued at 20:45 on its date; the worker was down until 21:10: dropped, with why."""
    account = debtor(session, "+12065550302", "WA", "America/Los_Angeles")
    make_promise(
        session, account, date(2026, 11, 24), created_at=datetime(2026, 11, 20, 18, tzinfo=UTC)
    )
    session.commit()
    queued_at = datetime(2026, 11, 25, 4, 45, tzinfo=UTC)  # 20:45 on Tue Nov 24
    with sessions() as s:
        assert outreach.run(s, queued_at, policy, VALUES).queued == 1
    sender = ClockedSender(lambda: queued_at)
    for minutes in (25, 600, 800):
        deliver_due(sessions, sender, now=queued_at + timedelta(minutes=minutes))
    assert sender.calls == []
    with sessions() as s:
        [(_, message)] = outreach_messages(s)
        assert message.status == "canceled" and "no longer applied" in (message.error or "")


def test_the_cap_defers_outreach_to_when_a_slot_frees_up_and_drops_what_it_outlives(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    """Massachusetts: 2 in 7 days. Due at once on Mon Nov 23: a welcome, reminders for the
    25th and the 26th, and a follow-up for the 17th. Two go at 08:00; the reminder for the 25th
    cannot get a slot before its date ends (dropped, with why); the rest go once the first
    two are 7 days old, two at a time."""
    account = debtor(
        session,
        "+16175550303",
        "MA",
        "America/New_York",
        placed_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    make_promise(
        session, account, date(2026, 11, 17), created_at=datetime(2026, 11, 10, 18, tzinfo=UTC)
    )
    make_promise(
        session, account, date(2026, 11, 25), created_at=datetime(2026, 11, 20, 18, tzinfo=UTC)
    )
    make_plan(session, account, [date(2026, 11, 26)], created_at=datetime(2026, 11, 10, tzinfo=UTC))
    session.commit()
    start = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # midnight in New York, Mon Nov 23
    sender = _simulate(sessions, policy, start, days=8)
    times = [t for t, _, _ in sender.calls]
    opened, freed = (
        datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 13, 0, tzinfo=UTC),
    )
    assert times[:2] == [opened, opened]  # 08:00 EST
    assert all(t == opened or t >= freed for t in times), times
    assert len([t for t in times if t >= freed]) == 2
    with sessions() as s:
        dropped = [(o, m) for o, m in outreach_messages(s) if m.status == "canceled"]
    assert [o.about_date for o, _ in dropped] == [date(2026, 11, 25)]
    assert "frequency_cap" in (dropped[0][1].error or "")
