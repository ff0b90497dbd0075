"""The outreach scheduler on a real database (SQLite; PostgreSQL too with TEST_DATABASE_URL):
each kind queued once, skips with their reasons, missed payments marked and followed up kindly,
surveys only after resolved and calm conversations, the dry run and the CLI."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli_outreach
from bot.cli_outreach import outreach_cli
from bot.db import init_engine, utcnow
from bot.domain.contact import Channel, HoldReason
from bot.domain.disclosure import debt_details, threats
from bot.domain.plans import PlanPolicy
from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    Installment,
    Message,
    Outreach,
)
from bot.services import outreach
from bot.services.cases import hold_for_escalation
from bot.services.consent import ConsentAction, record_consent
from bot.services.events import EventKind
from bot.services.handoff import HandoffReason, request_handoff
from bot.services.holds import place_hold
from bot.services.outbox import OPT_OUT_LINE, deliver_due
from bot.services.outreach import OutreachKind
from tests.conftest import make_conversation
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

NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # Monday, 10:30 in Seattle
TODAY = date(2026, 11, 23)
SEATTLE = "America/Los_Angeles"
DAY = timedelta(days=1)


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(database_url), expire_on_commit=False)


def _seattle(session: Session, n: int, **overrides: object) -> Account:
    return debtor(session, f"+1206555{n:04d}", "WA", SEATTLE, **overrides)


def _one_of_each(session: Session) -> dict[OutreachKind, Account]:
    """One account with each kind of outreach due at NOW."""
    welcome = _seattle(session, 1, placed_at=NOW - timedelta(days=2))
    reminder = _seattle(session, 2)
    make_plan(
        session, reminder, [date(2026, 11, 25), date(2026, 12, 25)], created_at=NOW - timedelta(5)
    )
    promised = _seattle(session, 3)
    make_promise(session, promised, date(2026, 11, 26), created_at=NOW - timedelta(days=3))
    late = _seattle(session, 4)
    make_plan(session, late, [date(2026, 11, 20)], created_at=NOW - timedelta(days=20))
    broken = _seattle(session, 5)
    make_promise(session, broken, date(2026, 11, 19), created_at=NOW - timedelta(days=10))
    surveyed = _seattle(session, 6)
    resolved_conversation(session, surveyed, resolved_at=NOW - timedelta(minutes=45))
    session.commit()
    return {
        OutreachKind.WELCOME: welcome,
        OutreachKind.INSTALLMENT_REMINDER: reminder,
        OutreachKind.PROMISE_REMINDER: promised,
        OutreachKind.INSTALLMENT_MISSED: late,
        OutreachKind.PROMISE_MISSED: broken,
        OutreachKind.SURVEY: surveyed,
    }


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# ----------------------------------------------------------------------------- once only


def test_each_kind_is_queued_once_and_a_second_run_queues_nothing(
    session: Session, policy: PlanPolicy
) -> None:
    accounts = _one_of_each(session)
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.queued, report.conflicts, dict(report.skipped)) == (6, 0, {})
    assert report.marked_missed == 2
    rows = outreach_messages(session)
    assert {OutreachKind(o.kind): o.account_id for o, _ in rows} == {
        kind: account.id for kind, account in accounts.items()
    }
    for o, message in rows:
        assert (message.status, message.initiated, message.sender) == ("queued", True, "system")
        assert message.channel == "sms" and message.text.endswith(OPT_OUT_LINE)
        expected = "feedback" if o.kind == OutreachKind.SURVEY else "collection"
        assert message.purpose == expected, o.kind

    again = outreach.run(session, NOW + timedelta(minutes=5), policy, VALUES)
    assert (again.queued, again.marked_missed) == (0, 0)
    assert _count(session, Outreach) == 6 and _count(session, Message) == 6


def test_two_schedulers_racing_queue_each_thing_once(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    _one_of_each(session)
    barrier = threading.Barrier(2)
    reports: list[outreach.Report] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            with sessions() as own:
                barrier.wait()
                reports.append(outreach.run(own, NOW, policy, VALUES))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r.queued for r in reports) == 6
    session.expire_all()
    assert _count(session, Outreach) == 6 and _count(session, Message) == 6
    missed_events = session.scalar(
        select(func.count()).where(ConversationEvent.kind == EventKind.PAYMENT_MISSED.value)
    )
    assert missed_events == 2  # the guarded update: marked once


def test_the_outbox_sends_each_outreach_message_once(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    _one_of_each(session)
    outreach.run(session, NOW, policy, VALUES)
    sender = ClockedSender(lambda: NOW)
    deliver_due(sessions, sender, now=NOW, batch=50)
    outreach.run(session, NOW + timedelta(minutes=15), policy, VALUES)
    deliver_due(sessions, sender, now=NOW + timedelta(minutes=15), batch=50)
    assert len(sender.calls) == 6
    assert len({to for _, to, _ in sender.calls}) == 6


# ----------------------------------------------------------------------------- wording


def test_every_outreach_text_is_kind_and_reveals_no_debt_detail(
    session: Session, policy: PlanPolicy
) -> None:
    accounts = _one_of_each(session)
    outreach.run(session, NOW, policy, VALUES)
    by_id = {a.id: a for a in accounts.values()}
    rows = outreach_messages(session)
    assert len(rows) == 6
    for o, message in rows:
        account = by_id[o.account_id]
        assert threats(message.text) == (), message.text
        found = debt_details(
            message.text,
            creditor=account.creditor,
            account_ref=account.account_ref,
            company_name=VALUES["company_name"],
        )
        assert found == (), message.text
        assert len(message.text) <= 320  # two segments (rule 22)


def test_the_missed_payment_follow_up_offers_to_adjust(
    session: Session, policy: PlanPolicy
) -> None:
    _one_of_each(session)
    outreach.run(session, NOW, policy, VALUES)
    texts = {o.kind: m.text for o, m in outreach_messages(session)}
    for kind in (OutreachKind.INSTALLMENT_MISSED, OutreachKind.PROMISE_MISSED):
        assert "that's OK" in texts[kind] and "works for you" in texts[kind]


# ----------------------------------------------------------------------------- skips


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("opt_out", "opted_out"),
        ("wrong_number", "wrong_number"),
        ("cease", "ceased"),
        ("dispute_hold", "hold:dispute"),
        ("attorney_hold", "attorney"),
        ("no_phone", "no_phone"),
        ("email_only", "channel_preference"),
    ],
)
def test_a_welcome_that_may_never_go_is_skipped_with_its_reason(
    session: Session, policy: PlanPolicy, setup: str, reason: str
) -> None:
    account = _seattle(session, 10, placed_at=NOW - timedelta(days=1))
    phone = account.phone or ""
    if setup == "opt_out":
        record_consent(session, phone, Channel.SMS, ConsentAction.OPT_OUT, source="keyword")
    elif setup in ("wrong_number", "cease"):
        action = ConsentAction.WRONG_NUMBER if setup == "wrong_number" else ConsentAction.CEASE
        record_consent(session, phone, Channel.SMS, action, source="bot", account_id=account.id)
    elif setup == "dispute_hold":
        place_hold(session, account, HoldReason.DISPUTE, actor="bot")
    elif setup == "attorney_hold":
        hold_for_escalation(session, account, HoldReason.ATTORNEY, actor="bot")
    elif setup == "no_phone":
        account.phone = None
    else:
        from bot.services.consent import set_preference

        set_preference(session, account, actor="debtor", channels=frozenset({Channel.EMAIL}))
    session.commit()

    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert (candidate.kind, candidate.skip_reason) == (OutreachKind.WELCOME, reason)
    assert outreach.describe(candidate).startswith(f"skip welcome {account.account_ref}: {reason}")
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.queued, dict(report.skipped)) == (0, {reason: 1})
    assert _count(session, Message) == 0 and _count(session, Outreach) == 0


def test_a_third_party_collector_sends_no_welcome(session: Session, policy: PlanPolicy) -> None:
    _seattle(session, 11, placed_at=NOW - timedelta(days=1))
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES, third_party=True)
    assert candidate.skip_reason == "no_consent"


def test_welcome_only_for_recent_accounts_never_written_to(
    session: Session, policy: PlanPolicy
) -> None:
    _seattle(session, 12, placed_at=NOW - timedelta(days=31))  # too long ago
    talked = _seattle(session, 13, placed_at=NOW - timedelta(days=1))
    make_conversation(session, talked, status="closed")
    texted = _seattle(session, 14, placed_at=NOW - timedelta(days=1))
    make_conversation(session, None, address=texted.phone, status="closed")
    session.commit()
    assert outreach.plan(session, NOW, policy, VALUES) == []


def test_a_reminder_under_a_hold_is_skipped_and_goes_once_the_hold_is_released(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 15)
    make_plan(session, account, [date(2026, 11, 25)], created_at=NOW - timedelta(days=5))
    hold = place_hold(session, account, HoldReason.DISPUTE, actor="bot")
    session.commit()
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.queued, dict(report.skipped)) == (0, {"hold:dispute": 1})
    hold.released_at = NOW
    session.commit()
    assert outreach.run(session, NOW + timedelta(hours=1), policy, VALUES).queued == 1


def test_not_now_is_queued_for_the_outbox_to_hold(session: Session, policy: PlanPolicy) -> None:
    account = _seattle(session, 16)
    make_plan(session, account, [date(2026, 11, 25)], created_at=NOW - timedelta(days=5))
    session.commit()
    night = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 22:00 in Seattle
    [candidate] = outreach.plan(session, night, policy, VALUES)
    assert candidate.skip_reason is None
    assert "waits until 2026-11-24 16:00 UTC (outside_window)" in candidate.why
    assert outreach.run(session, night, policy, VALUES).queued == 1


def test_a_reminder_that_could_only_go_after_its_date_is_skipped(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 17)
    make_plan(session, account, [date(2026, 11, 23)], created_at=NOW - timedelta(days=5))
    session.commit()
    late_evening = datetime(2026, 11, 24, 5, 30, tzinfo=UTC)  # 21:30 on the due date
    [candidate] = outreach.plan(session, late_evening, policy, VALUES)
    assert candidate.skip_reason == "expired:outside_window"


# ----------------------------------------------------------------------------- reminders


def test_reminder_days_and_expiry_in_the_consumers_zones(
    session: Session, policy: PlanPolicy
) -> None:
    """A New York number with a Texas address: the due date ends first in New York."""
    account = debtor(
        session,
        "+12125550123",
        "TX",
        "America/Chicago",
        phone_zones="America/New_York",
    )
    make_plan(
        session,
        account,
        [date(2026, 11, 26), date(2026, 11, 27)],  # in 3 days (due), in 4 days (not yet)
        created_at=NOW - timedelta(days=5),
    )
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert candidate.kind is OutreachKind.INSTALLMENT_REMINDER
    assert candidate.about_date == date(2026, 11, 26)
    assert candidate.expires_at == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # NY midnight
    assert "Thursday, Nov 26" in candidate.text
    assert candidate.target.endswith("@2026-11-26")


def test_no_reminder_on_the_day_it_was_agreed_nor_when_paid_nor_when_past(
    session: Session, policy: PlanPolicy
) -> None:
    agreed_today = _seattle(session, 20)
    make_promise(session, agreed_today, date(2026, 11, 25), created_at=NOW - timedelta(hours=1))
    paid = _seattle(session, 21)
    make_promise(session, paid, date(2026, 11, 25), created_at=NOW - timedelta(days=2))
    make_payment(session, paid, 10000, date(2026, 11, 22))
    past = _seattle(session, 22)
    make_promise(session, past, date(2026, 11, 22), created_at=NOW - timedelta(days=3))
    session.commit()
    assert outreach.plan(session, NOW, policy, VALUES) == []
    tomorrow = NOW + timedelta(days=1)
    [candidate] = outreach.plan(session, tomorrow, policy, VALUES)
    assert candidate.account.id == agreed_today.id


def test_a_promise_and_an_installment_due_the_same_day_go_as_one_message(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 23)
    make_plan(session, account, [date(2026, 11, 25)], created_at=NOW - timedelta(days=5))
    make_promise(session, account, date(2026, 11, 25), created_at=NOW - timedelta(days=2))
    session.commit()
    assert outreach.run(session, NOW, policy, VALUES).queued == 1
    rows = outreach_messages(session)
    assert sorted(o.kind for o, _ in rows) == ["installment_reminder", "promise_reminder"]
    assert len({m.id for _, m in rows}) == 1


def test_a_queued_reminder_is_withdrawn_when_paid_or_moved_and_the_new_date_gets_its_own(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    night = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # queued at night: waits for morning
    paid = _seattle(session, 24)
    make_promise(session, paid, date(2026, 11, 25), created_at=NOW - timedelta(days=2))
    moved = _seattle(session, 25)
    plan = make_plan(session, moved, [date(2026, 11, 25)], created_at=NOW - timedelta(5))
    session.commit()
    assert outreach.run(session, night, policy, VALUES).queued == 2

    make_payment(session, paid, 10000, date(2026, 11, 23))
    plan.installments[0].due_on = date(2026, 11, 26)
    session.commit()
    report = outreach.run(session, night + timedelta(minutes=30), policy, VALUES)
    assert (report.withdrawn, report.queued) == (2, 1)
    errors = sorted(m.error or "" for o, m in outreach_messages(session) if m.status == "canceled")
    assert [e.rsplit(": ", 1)[1] for e in errors] == ["date moved", "paid"]
    sender = ClockedSender(lambda: NOW)
    deliver_due(sessions, sender, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    assert [body for _, _, body in sender.calls] == [
        m.text for o, m in outreach_messages(session) if o.about_date == date(2026, 11, 26)
    ]


# ----------------------------------------------------------------------------- missed


def test_a_missed_installment_is_marked_recorded_and_followed_up_once(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 30)
    plan = make_plan(
        session,
        account,
        [date(2026, 11, 13), date(2026, 11, 20)],
        created_at=NOW - timedelta(days=20),
    )
    make_payment(session, account, 5000, date(2026, 11, 13))  # the first one, not the second
    session.commit()
    # Grace: due 20th, the 21st and 22nd are grace days, so on the 22nd it is not missed yet.
    on_22nd = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    assert outreach.run(session, on_22nd, policy, VALUES).marked_missed == 0
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.marked_missed, report.queued) == (1, 1)
    first, second = plan.installments
    session.refresh(first)
    session.refresh(second)
    assert (first.status, second.status) == ("scheduled", "missed")
    event = session.scalars(
        select(ConversationEvent).where(ConversationEvent.kind == "payment_missed")
    ).one()
    assert event.data["installment_id"] == second.id and event.account_id == account.id
    [(row, message)] = outreach_messages(session)
    assert row.kind == "installment_missed" and row.about_date == date(2026, 11, 20)
    assert threats(message.text) == ()


def test_a_broken_promise_is_marked_and_followed_up(session: Session, policy: PlanPolicy) -> None:
    account = _seattle(session, 31)
    promise = make_promise(session, account, date(2026, 11, 19), created_at=NOW - timedelta(10))
    make_payment(session, account, 4000, date(2026, 11, 19))  # short of the 100.00 promised
    session.commit()
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.marked_missed, report.queued) == (1, 1)
    session.refresh(promise)
    assert promise.status == "broken"


def test_paid_by_the_date_is_not_missed_paid_late_is_marked_but_not_chased(
    session: Session, policy: PlanPolicy
) -> None:
    on_time = _seattle(session, 32)
    kept = make_promise(session, on_time, date(2026, 11, 19), created_at=NOW - timedelta(10))
    make_payment(session, on_time, 10000, date(2026, 11, 19))
    late = _seattle(session, 33)
    tardy = make_promise(session, late, date(2026, 11, 19), created_at=NOW - timedelta(10))
    make_payment(session, late, 10000, date(2026, 11, 21))
    session.commit()
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.marked_missed, report.queued) == (1, 0)
    session.refresh(kept)
    session.refresh(tardy)
    assert (kept.status, tardy.status) == ("open", "broken")  # the dashboard's rule: not kept


def test_things_missed_long_ago_are_marked_but_nobody_is_written_to(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 34)
    old = make_promise(session, account, date(2026, 11, 8), created_at=NOW - timedelta(days=30))
    session.commit()
    [item] = outreach.overdue(session, NOW, policy)
    assert (item.kind, item.id) == ("promise", old.id)
    assert outreach.plan(session, NOW, policy, VALUES) == []
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.marked_missed, report.queued) == (1, 0)


def test_several_missed_at_once_make_one_message(session: Session, policy: PlanPolicy) -> None:
    account = _seattle(session, 35)
    make_plan(session, account, [date(2026, 11, 12), date(2026, 11, 19)], created_at=NOW - 20 * DAY)
    make_promise(session, account, date(2026, 11, 18), created_at=NOW - timedelta(days=10))
    session.commit()
    report = outreach.run(session, NOW, policy, VALUES)
    assert (report.marked_missed, report.queued) == (3, 1)
    rows = outreach_messages(session)
    assert len(rows) == 3 and len({m.id for _, m in rows}) == 1


# ----------------------------------------------------------------------------- surveys


def test_a_survey_follows_a_resolved_conversation_once_it_went_quiet(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 40)
    conversation = resolved_conversation(session, account, resolved_at=NOW - timedelta(minutes=20))
    session.commit()
    assert outreach.plan(session, NOW, policy, VALUES) == []  # not quiet for 30 minutes yet
    later = NOW + timedelta(minutes=15)
    report = outreach.run(session, later, policy, VALUES)
    assert report.queued == 1
    [(row, message)] = outreach_messages(session)
    assert row.target == f"conversation:{conversation.id}"
    assert message.conversation_id == conversation.id and message.purpose == "feedback"
    assert message.text.startswith("How did we do today?")
    assert outreach.run(session, later + timedelta(hours=1), policy, VALUES).queued == 0


@pytest.mark.parametrize(
    "kind", [EventKind.PLAN_ACCEPTED, EventKind.PROMISE, EventKind.HANDOFF_RELEASED]
)
def test_each_resolution_earns_a_survey(
    session: Session, policy: PlanPolicy, kind: EventKind
) -> None:
    account = _seattle(session, 41)
    resolved_conversation(session, account, resolved_at=NOW - timedelta(hours=1), kind=kind)
    session.commit()
    assert outreach.run(session, NOW, policy, VALUES).queued == 1


def test_no_survey_without_a_resolution_or_long_after_it(
    session: Session, policy: PlanPolicy
) -> None:
    quiet = _seattle(session, 42)
    make_conversation(session, quiet, last_message_at=NOW - timedelta(hours=2))
    stale = _seattle(session, 43)
    resolved_conversation(session, stale, resolved_at=NOW - timedelta(days=2))
    session.commit()
    assert outreach.plan(session, NOW, policy, VALUES) == []


@pytest.mark.parametrize(
    ("escalate", "reason"),
    [
        ("distress_handoff", "escalated:distress"),
        ("deceased_handoff", "escalated:deceased"),
        ("bankruptcy_hold", "escalated:bankruptcy"),
        ("attorney_hold", "escalated:attorney"),
        ("opt_out", "opted_out"),
        ("closed", "conversation_closed"),
    ],
)
def test_no_survey_after_an_escalation_an_opt_out_or_a_close(
    session: Session, policy: PlanPolicy, escalate: str, reason: str
) -> None:
    account = _seattle(session, 44)
    conversation = resolved_conversation(session, account, resolved_at=NOW - timedelta(hours=1))
    if escalate.endswith("_handoff"):
        why = HandoffReason(escalate.removesuffix("_handoff"))
        request_handoff(session, conversation, why, now=NOW - timedelta(minutes=50))
        conversation.status = "bot"  # the agent handed it back; the escalation still counts
    elif escalate.endswith("_hold"):
        why_hold = HoldReason(escalate.removesuffix("_hold"))
        hold_for_escalation(session, account, why_hold, actor="bot")
    elif escalate == "opt_out":
        record_consent(
            session, conversation.address, Channel.SMS, ConsentAction.OPT_OUT, source="keyword"
        )
    else:
        conversation.status = "closed"
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert (candidate.kind, candidate.skip_reason) == (OutreachKind.SURVEY, reason)
    assert outreach.run(session, NOW, policy, VALUES).queued == 0


def _sent_initiated(session: Session, account: Account, *when: datetime) -> None:
    conversation = make_conversation(session, account, status="closed")
    for at in when:
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="out",
                sender="system",
                channel="sms",
                text="An earlier reminder. Reply STOP to opt out.",
                status="sent",
                initiated=True,
                purpose="collection",
                created_at=at,
                sent_at=at,
            )
        )
    session.flush()


@pytest.mark.parametrize(
    ("state", "zone", "sent", "expected"),
    [
        ("WA", SEATTLE, 1, None),  # 3 - 1 = 2 left: room for the survey and one more
        ("WA", SEATTLE, 2, "cap_reserve"),  # 1 left: kept for what matters more
        ("MA", "America/New_York", 0, None),  # 2 left
        ("MA", "America/New_York", 1, "cap_reserve"),
    ],
)
def test_a_survey_never_takes_the_last_slot_of_the_cap(
    session: Session, policy: PlanPolicy, state: str, zone: str, sent: int, expected: str | None
) -> None:
    phone = "+12065550045" if state == "WA" else "+16175550045"
    account = debtor(session, phone, state, zone)
    _sent_initiated(session, account, *[NOW - timedelta(days=d + 1) for d in range(sent)])
    _sent_initiated(session, account, NOW - timedelta(days=8))  # outside the 7 days
    resolved_conversation(session, account, resolved_at=NOW - timedelta(hours=1))
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert candidate.skip_reason == expected


def test_a_queued_survey_is_withdrawn_when_distress_follows_and_never_sent(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    account = _seattle(session, 46)
    night = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 21:00 in Seattle
    resolved_conversation(session, account, resolved_at=night - timedelta(minutes=40))
    session.commit()
    assert outreach.run(session, night, policy, VALUES).queued == 1
    hold_for_escalation(session, account, HoldReason.DISTRESS, actor="safety_net")
    session.commit()
    assert outreach.run(session, night + timedelta(minutes=15), policy, VALUES).withdrawn == 1
    sender = ClockedSender(lambda: NOW)
    deliver_due(sessions, sender, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    assert sender.calls == []
    [(_, message)] = outreach_messages(session)
    session.refresh(message)
    assert message.status == "canceled" and "escalated:distress" in (message.error or "")


def test_a_queued_welcome_is_withdrawn_when_the_debtor_writes_first(
    session: Session, policy: PlanPolicy
) -> None:
    account = _seattle(session, 47, placed_at=NOW - timedelta(days=1))
    session.commit()
    night = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 22:00 in Seattle: it waits
    assert outreach.run(session, night, policy, VALUES).queued == 1
    [(row, _)] = outreach_messages(session)
    session.add(
        Message(
            conversation_id=row.conversation_id,
            direction="in",
            sender="debtor",
            channel="sms",
            text="hi who is this",
            status="received",
            created_at=night + timedelta(minutes=5),
        )
    )
    session.commit()
    assert outreach.run(session, night + timedelta(minutes=15), policy, VALUES).withdrawn == 1
    [(_, message)] = outreach_messages(session)
    session.refresh(message)
    assert message.status == "canceled" and "wrote first" in (message.error or "")
    assert account.id == row.account_id


def test_a_queued_survey_never_goes_after_distress_even_before_the_next_pass(
    session: Session, sessions: sessionmaker[Session], policy: PlanPolicy
) -> None:
    account = _seattle(session, 48)
    night = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 21:00 in Seattle: it waits for 08:00
    resolved_conversation(session, account, resolved_at=night - timedelta(minutes=40))
    session.commit()
    assert outreach.run(session, night, policy, VALUES).queued == 1
    hold_for_escalation(session, account, HoldReason.DISTRESS, actor="safety_net")
    session.commit()
    sender = ClockedSender(lambda: NOW)
    deliver_due(sessions, sender, now=datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    assert sender.calls == []


# ----------------------------------------------------------------------------- conversations


def test_outreach_goes_into_the_numbers_open_conversation_or_a_new_unverified_one(
    session: Session, policy: PlanPolicy
) -> None:
    talking = _seattle(session, 50)
    current = make_conversation(session, talking, last_message_at=NOW - timedelta(days=3))
    current.verified_at = NOW - timedelta(days=3)
    make_promise(session, talking, date(2026, 11, 25), created_at=NOW - timedelta(days=3))
    fresh = _seattle(session, 51)
    make_promise(session, fresh, date(2026, 11, 25), created_at=NOW - timedelta(days=3))
    session.commit()
    assert outreach.run(session, NOW, policy, VALUES).queued == 2
    by_account = {o.account_id: m for o, m in outreach_messages(session)}
    assert by_account[talking.id].conversation_id == current.id
    new = session.get(Conversation, by_account[fresh.id].conversation_id)
    assert new is not None
    assert (new.channel, new.address, new.account_id) == ("sms", fresh.phone, fresh.id)
    assert (new.status, new.verified_at) == ("bot", None)


def test_the_pass_waits_while_an_agent_has_the_number_or_it_is_someone_elses(
    session: Session, policy: PlanPolicy
) -> None:
    handled = _seattle(session, 52)
    conversation = make_conversation(session, handled)
    request_handoff(session, conversation, HandoffReason.HUMAN_REQUEST, now=NOW)
    make_promise(session, handled, date(2026, 11, 25), created_at=NOW - timedelta(days=3))
    shared = _seattle(session, 53)
    other = debtor(session, "+12065559999", "WA", SEATTLE)
    make_conversation(session, other, address=shared.phone)
    make_promise(session, shared, date(2026, 11, 25), created_at=NOW - timedelta(days=3))
    session.commit()
    reasons = {c.account.id: c.skip_reason for c in outreach.plan(session, NOW, policy, VALUES)}
    assert reasons == {handled.id: "handoff_open", shared.id: "number_shared"}


# ----------------------------------------------------------------------------- CLI


def test_dry_run_prints_each_candidate_and_queues_nothing(
    session: Session, runner: FlaskCliRunner
) -> None:
    now = utcnow()
    welcome = _seattle(session, 60, placed_at=now - timedelta(days=1))
    opted = _seattle(session, 61, placed_at=now - timedelta(days=1))
    record_consent(session, opted.phone or "", Channel.SMS, ConsentAction.OPT_OUT, source="kw")
    late = _seattle(session, 62)
    local_today = now.astimezone(UTC).date()
    make_plan(session, late, [local_today - timedelta(days=5)], created_at=now - 20 * DAY)
    session.commit()

    result = runner.invoke(outreach_cli, ["run", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.startswith(f"would send welcome to {welcome.account_ref} (+1206…): placed")
        for line in lines
    ), result.output
    assert any(line.startswith(f"skip welcome {opted.account_ref}: opted_out") for line in lines), (
        result.output
    )
    assert any(
        line.startswith("would mark installment ") and f"of {late.account_ref} missed" in line
        for line in lines
    ), result.output
    assert any(
        line.startswith(f"would send installment_missed to {late.account_ref}") for line in lines
    ), result.output
    assert lines[-1] == "dry run: 2 would be queued, 1 skipped"
    session.expire_all()
    assert _count(session, Message) == 0 and _count(session, Outreach) == 0
    assert session.scalars(select(Installment.status)).all() == ["scheduled"]


def test_run_once_queues_and_prints_a_summary(session: Session, runner: FlaskCliRunner) -> None:
    _seattle(session, 63, placed_at=utcnow() - timedelta(days=1))
    session.commit()
    result = runner.invoke(outreach_cli, ["run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("queued 1, already done 0")
    assert _count(session, Outreach) == 1


def test_loop_runs_a_pass_every_interval_until_ctrl_c(
    runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[datetime] = []

    def fake_pass(settings: object, now: datetime) -> outreach.Report:
        passes.append(now)
        if len(passes) == 3:
            raise KeyboardInterrupt
        return outreach.Report(queued=len(passes))

    monkeypatch.setattr(cli_outreach, "_pass", fake_pass)
    result = runner.invoke(outreach_cli, ["run", "--loop", "--interval", "0.01"])
    assert result.exit_code == 0, result.output
    summaries = [line for line in result.output.splitlines() if "queued" in line]
    assert len(summaries) == 2 and "UTC queued 2," in summaries[1]
    assert len(passes) == 3


def test_a_survey_follows_a_handoff_an_agent_closed_unless_the_debtor_wrote_again(
    session: Session, policy: PlanPolicy
) -> None:
    """Closing a handoff ends the conversation; the agent resolved it, so the survey goes into
    it (the answer, which opens a new conversation, is matched to it by the number)."""
    account = _seattle(session, 60)
    closed = resolved_conversation(
        session, account, resolved_at=NOW - timedelta(hours=1), kind=EventKind.HANDOFF_CLOSED
    )
    closed.status = "closed"
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert (candidate.kind, candidate.skip_reason) == (OutreachKind.SURVEY, None)

    make_conversation(session, account, started_at=NOW - timedelta(minutes=5))  # writing again
    session.commit()
    [candidate] = outreach.plan(session, NOW, policy, VALUES)
    assert candidate.skip_reason == "conversation_closed"
