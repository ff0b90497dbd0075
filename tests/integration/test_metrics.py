"""The dashboard numbers (bot/services/metrics.py) over a small hand-built week, every number
asserted: conversations and containment, handoffs and their waits, verification, plans and
promises (kept, broken, pending), disputes, validation requests, hardship, opt-outs, check
hits, satisfaction (CSAT); the range is inclusive at both ends (UTC days), and an empty range
gives zeros."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.models import (
    Account,
    ConsentEvent,
    Conversation,
    Dispute,
    Handoff,
    HardshipRecord,
    Installment,
    Outreach,
    Payment,
    PaymentPlan,
    Promise,
    SurveyResponse,
    ValidationRequest,
)
from bot.services import compliance_checks, metrics
from bot.services.cases import HardshipCategory
from bot.services.compliance_checks import Finding
from bot.services.events import EventKind, record_event
from tests.conftest import make_account, make_conversation

SINCE, UNTIL = date(2026, 11, 1), date(2026, 11, 7)
TODAY = date(2026, 11, 23)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


BEFORE = at(31, 23, 59, 59, month=10)  # the last second before the range
FIRST = at(1, 0, 0, 0)  # the first second of it
LAST = at(7, 23, 59, 59)  # its last second
AFTER = at(8, 0, 0, 0)  # the first second after it


class Week:
    """Handles on the rows the tests look at."""

    def __init__(self) -> None:
        self.accounts: list[Account] = []
        self.conversations: dict[str, Conversation] = {}


def conversation(
    session: Session,
    week: Week,
    name: str,
    account: Account,
    channel: str,
    started: datetime,
    last: datetime | None = None,
) -> Conversation:
    conv = make_conversation(
        session,
        account,
        channel=channel,
        address=f"addr-{name}",
        started_at=started,
        last_message_at=last or started,
    )
    week.conversations[name] = conv
    return conv


def handoff(
    session: Session, conv: Conversation, reason: str, created: datetime, wait: int | None
) -> Handoff:
    row = Handoff(
        conversation_id=conv.id,
        reason=reason,
        status="waiting" if wait is None else "active",
        created_at=created,
        claimed_at=None if wait is None else created + timedelta(seconds=wait),
    )
    session.add(row)
    return row


def event(session: Session, conv: Conversation, kind: EventKind, when: datetime) -> None:
    record_event(session, kind, actor="debtor", conversation_id=conv.id, at=when)


def plan(
    session: Session, account: Account, kind: str, created: datetime, amounts: list[int]
) -> None:
    row = PaymentPlan(
        account_id=account.id,
        option_key=kind,
        kind=kind,
        frequency="monthly" if len(amounts) > 1 else "once",
        balance_cents=sum(amounts),
        total_cents=sum(amounts),
        created_by="bot",
        created_at=created,
        installments=[
            Installment(
                seq=i + 1, due_on=date(2026, 12, 1) + timedelta(days=30 * i), amount_cents=a
            )
            for i, a in enumerate(amounts)
        ],
    )
    session.add(row)


def promise(
    session: Session,
    account: Account,
    cents: int,
    created: datetime,
    due: date,
    status: str = "open",
) -> None:
    session.add(
        Promise(
            account_id=account.id,
            amount_cents=cents,
            due_on=due,
            status=status,
            created_by="bot",
            created_at=created,
        )
    )


def payment(session: Session, account: Account, cents: int, paid_on: date) -> None:
    session.add(Payment(account_id=account.id, amount_cents=cents, paid_on=paid_on, method="card"))


_refs = iter(range(1000, 9999))


def consent(session: Session, action: str, channel: str, when: datetime) -> None:
    session.add(
        ConsentEvent(
            address=f"+1206555{next(_refs):04d}",
            channel=channel,
            action=action,
            source="keyword",
            created_at=when,
        )
    )


def dispute(session: Session, account: Account, reason: str, when: datetime) -> None:
    session.add(
        Dispute(
            reference=f"D-{next(_refs)}",
            account_id=account.id,
            reason=reason,
            created_by="bot",
            created_at=when,
        )
    )


def validation(session: Session, account: Account, kind: str, when: datetime) -> None:
    session.add(
        ValidationRequest(
            reference=f"V-{next(_refs)}",
            account_id=account.id,
            kind=kind,
            created_by="bot",
            created_at=when,
        )
    )


def hardship(session: Session, account: Account, category: str, when: datetime) -> None:
    session.add(
        HardshipRecord(account_id=account.id, category=category, created_by="bot", created_at=when)
    )


@pytest.fixture
def week(session: Session) -> Week:
    w = Week()
    a1 = make_account(session)
    a2 = make_account(session, account_ref="ACC-2", phone="+12065550002")
    a3 = make_account(session, account_ref="ACC-3", phone="+12065550003")
    w.accounts = [a1, a2, a3]

    # Conversations: five started in the range (two on its edges), one on each side of it.
    c1 = conversation(session, w, "c1", a1, "sms", FIRST)  # contained
    c2 = conversation(session, w, "c2", a2, "web", at(3, 10))
    c3 = conversation(session, w, "c3", a3, "sms", LAST)
    c4 = conversation(session, w, "c4", a1, "sms", at(5, 9))
    c5 = conversation(session, w, "c5", a2, "sms", at(5, 17))
    before = conversation(session, w, "before", a1, "sms", BEFORE)
    conversation(session, w, "after", a1, "web", AFTER)
    # Started before the range, still going in it: active (the checks look at it), not started.
    conversation(session, w, "spanning", a3, "web", at(30, month=10), last=at(2))

    handoff(session, c2, "human_request", at(3, 10, 5), wait=60)
    handoff(session, c3, "distress", LAST, wait=300)
    handoff(session, c4, "human_request", at(5, 9, 5), wait=120)
    handoff(session, c5, "attorney", at(5, 17, 5), wait=None)  # still waiting
    handoff(session, before, "anger", BEFORE, wait=10)  # outside

    event(session, c1, EventKind.VERIFICATION_FAILED, at(1, 0, 5))
    event(session, c1, EventKind.VERIFICATION_PASSED, at(1, 0, 6))
    for minute in (1, 2, 3):
        event(session, c2, EventKind.VERIFICATION_FAILED, at(3, 10, minute))
    event(session, c2, EventKind.VERIFICATION_LOCKED, at(3, 10, 3))
    event(session, c4, EventKind.VERIFICATION_PASSED, at(5, 9, 1))
    event(session, before, EventKind.VERIFICATION_PASSED, BEFORE)  # outside

    plan(session, a1, "installments", at(2), [10000, 10000, 10000])
    plan(session, a2, "full", LAST, [50000])
    plan(session, a3, "full", AFTER, [99999])  # outside

    # p1 kept by two payments (the day it was made, and its due date); p2 broken: one payment
    # came the day before the promise and one the day after its due date; p3 pending; p4
    # cancelled (though paid); p5 marked kept.
    promise(session, a1, 20000, at(2, 12), date(2026, 11, 10))
    payment(session, a1, 15000, date(2026, 11, 2))
    payment(session, a1, 5000, date(2026, 11, 10))
    promise(session, a2, 10000, at(3, 8), date(2026, 11, 12))
    payment(session, a2, 10000, date(2026, 11, 2))
    payment(session, a2, 10000, date(2026, 11, 13))
    promise(session, a3, 5000, at(6), date(2026, 11, 30))
    promise(session, a1, 7000, at(4), date(2026, 11, 9), status="cancelled")
    promise(session, a3, 3000, at(5), date(2026, 11, 6), status="kept")
    promise(session, a1, 1000, BEFORE, date(2026, 11, 5))  # outside

    dispute(session, a1, "not_mine", at(2))
    dispute(session, a2, "already_paid", LAST)
    dispute(session, a3, "not_mine", AFTER)  # outside
    validation(session, a1, "validation", FIRST)
    validation(session, a2, "original_creditor", at(4))
    validation(session, a3, "validation", BEFORE)  # outside
    hardship(session, a1, "job_loss", at(2))
    hardship(session, a2, "job_loss", at(3))
    hardship(session, a3, "illness", at(6))
    hardship(session, a3, "divorce", AFTER)  # outside

    consent(session, "opt_out", "sms", at(2))
    consent(session, "opt_out", "sms", at(4))
    consent(session, "opt_out", "web", at(6))
    consent(session, "opt_in", "sms", at(6))
    consent(session, "cease", "all", at(6))
    consent(session, "opt_out", "sms", AFTER)  # outside
    session.commit()
    return w


def compute(session: Session, since: date = SINCE, until: date = UNTIL) -> metrics.Metrics:
    return metrics.compute(session, since, until, today=TODAY)


def test_conversations_by_channel_per_day_and_containment(session: Session, week: Week) -> None:
    conv = compute(session).conversations
    assert conv.total == 5
    assert conv.by_channel == {"sms": 4, "web": 1}
    assert conv.contained == 1
    assert conv.containment_rate == 0.2
    assert [(d.day.day, d.count) for d in conv.per_day] == [
        (1, 1), (2, 0), (3, 1), (4, 0), (5, 2), (6, 0), (7, 1),
    ]  # fmt: skip


def test_handoffs_by_reason_with_median_and_p90_waits(session: Session, week: Week) -> None:
    handoffs = compute(session).handoffs
    assert (handoffs.total, handoffs.claimed, handoffs.still_waiting) == (4, 3, 1)
    # Waits 60, 120, 300: the median is 120; p90 at rank 1.8 is 120 + 0.8 * 180.
    assert (handoffs.median_wait_seconds, handoffs.p90_wait_seconds) == (120, 264)
    by_reason = {r.reason: r for r in handoffs.by_reason}
    assert [r.reason for r in handoffs.by_reason][:3] == ["human_request", "distress", "attorney"]
    assert by_reason["human_request"] == metrics.ReasonStats("human_request", 2, 2, 90, 114)
    assert by_reason["distress"] == metrics.ReasonStats("distress", 1, 1, 300, 300)
    assert by_reason["attorney"] == metrics.ReasonStats("attorney", 1, 0, None, None)
    assert by_reason["anger"].count == 0  # its only handoff was before the range
    assert sum(r.count for r in handoffs.by_reason) == 4


def test_verification_success_among_conversations_that_tried(session: Session, week: Week) -> None:
    assert compute(session).verification == metrics.Verification(
        attempted=3, passed=2, success_rate=0.6667, locked=1
    )


def test_plans_count_and_amount_scheduled(session: Session, week: Week) -> None:
    plans = compute(session).plans
    assert plans.count == 2
    assert plans.scheduled_cents == 80000
    assert plans.by_kind == {"full": 1, "installments": 1, "hardship": 0, "settlement": 0}


def test_promises_made_kept_broken_and_pending(session: Session, week: Week) -> None:
    assert compute(session).promises == metrics.Promises(
        count=5,
        amount_cents=45000,
        kept=2,
        kept_amount_cents=23000,
        broken=1,
        pending=1,
        cancelled=1,
        kept_rate=0.6667,
    )


def test_a_promise_is_broken_only_once_its_due_date_has_passed(
    session: Session, week: Week
) -> None:
    # On 12 November the second promise is still due that day: pending, not broken.
    early = metrics.compute(session, SINCE, UNTIL, today=date(2026, 11, 12)).promises
    assert (early.kept, early.broken, early.pending, early.kept_rate) == (2, 0, 2, 1.0)


def test_disputes_validation_requests_and_hardship(session: Session, week: Week) -> None:
    cases = compute(session).cases
    assert cases.disputes == 2
    assert cases.disputes_by_reason["not_mine"] == 1
    assert cases.disputes_by_reason["already_paid"] == 1
    assert cases.validation_requests == 2
    assert cases.validation_by_kind == {"validation": 1, "original_creditor": 1}
    assert cases.hardship == 3
    assert cases.hardship_by_category["job_loss"] == 2
    assert cases.hardship_by_category["illness"] == 1
    assert cases.hardship_by_category["divorce"] == 0
    assert list(cases.hardship_by_category) == [c.value for c in HardshipCategory]  # all, in order


def test_opt_outs_by_channel_and_ceases(session: Session, week: Week) -> None:
    assert compute(session).consent == metrics.Consent(
        opt_outs=3, opt_outs_by_channel={"sms": 2, "web": 1}, ceases=1
    )


def test_check_hits_count_conversations_active_in_the_range_per_check(
    session: Session, week: Week, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    c = week.conversations

    def run_checks(_session: Session, ids: list[str], **_: Any) -> dict[str, list[Finding]]:
        seen.extend(ids)

        def finding(code: str) -> Finding:
            return Finding(code, "1", None, FIRST, "")

        hits = {
            c["c1"].id: [finding("contact_window"), finding("contact_window")],
            c["c2"].id: [finding("contact_window"), finding("threatening_language")],
            c["before"].id: [finding("after_opt_out")],
            c["spanning"].id: [finding("human_request_ignored")],
        }
        return {i: hits.get(i, []) for i in ids}

    monkeypatch.setattr(compliance_checks, "run_checks", run_checks)
    checks = compute(session).checks
    active = ("c1", "c2", "c3", "c4", "c5", "spanning")
    assert sorted(seen) == sorted(c[n].id for n in active)
    assert checks.conversations_checked == 6
    assert checks.hits == 4
    hits = {h.code: h.conversations for h in checks.by_check}
    assert hits["contact_window"] == 2  # two conversations, three findings
    assert hits["threatening_language"] == 1
    assert hits["after_opt_out"] == 0  # its conversation ended before the range
    assert hits["human_request_ignored"] == 1
    assert [h.code for h in checks.by_check] == [ch.code for ch in compliance_checks.CHECKS]


def test_a_check_the_dashboard_does_not_know_yet_still_shows(
    session: Session, week: Week, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, str | None]] = []

    def count_by_check(
        _session: Session, ids: list[str], *, company_name: str | None = None
    ) -> dict[str, int]:
        calls.append((len(ids), company_name))
        return {"missing_opt_out_line": 4, "new_check": 1}

    monkeypatch.setattr(compliance_checks, "count_by_check", count_by_check)
    checks = metrics.compute(session, SINCE, UNTIL, today=TODAY, company_name="Acme").checks
    assert calls == [(6, "Acme")]
    hits = {h.code: h.conversations for h in checks.by_check}
    assert hits["missing_opt_out_line"] == 4
    assert hits["new_check"] == 1
    assert checks.hits == 5


def survey_answer(
    session: Session, conv: Conversation, score: int, when: datetime, comment: str | None = None
) -> None:
    """An answer to the survey that followed `conv` (one survey per conversation)."""
    outreach = Outreach(
        kind="survey",
        target=f"conversation:{conv.id}",
        account_id=conv.account_id,
        conversation_id=conv.id,
        created_at=when - timedelta(hours=1),
    )
    session.add(outreach)
    session.flush()
    session.add(
        SurveyResponse(
            outreach_id=outreach.id,
            conversation_id=conv.id,
            account_id=conv.account_id,
            score=score,
            comment=comment,
            created_at=when,
        )
    )


@pytest.fixture
def answers(session: Session, week: Week) -> Week:
    """Five answers in the range (two on its edges), one on each side of it."""
    c = week.conversations
    survey_answer(session, c["c1"], 5, FIRST, "quick and easy")
    survey_answer(session, c["c2"], 4, at(3, 11))
    survey_answer(session, c["c3"], 2, at(4, 9), "card 4111 1111 1111 1111 was declined")
    survey_answer(session, c["c4"], 5, at(5, 10), "")
    survey_answer(session, c["c5"], 1, LAST, "too slow")
    survey_answer(session, c["before"], 3, BEFORE, "outside")
    survey_answer(session, c["after"], 1, AFTER, "outside too")
    session.commit()
    return week


def test_csat_counts_answers_in_range_with_average_distribution_and_rate(
    session: Session, answers: Week
) -> None:
    csat = compute(session).csat
    assert csat is not None
    assert csat.responses == 5
    assert csat.distribution == {1: 1, 2: 1, 3: 0, 4: 1, 5: 2}
    assert list(csat.distribution) == [1, 2, 3, 4, 5]
    assert csat.average == 3.4  # 17 / 5
    assert (csat.satisfied, csat.csat_rate) == (3, 0.6)
    assert metrics.csat(session, SINCE, UNTIL) == csat


def test_csat_latest_comments_newest_first_redacted_at_most_five(
    session: Session, answers: Week
) -> None:
    csat = compute(session).csat
    assert csat is not None
    c = answers.conversations
    assert [(x.score, x.comment, x.conversation_id) for x in csat.comments] == [
        (1, "too slow", c["c5"].id),
        (2, "card [card ending 1111] was declined", c["c3"].id),
        (5, "quick and easy", c["c1"].id),
    ]  # no empty comment, nothing outside the range
    assert csat.comments[0].created_at == LAST
    for i in range(7):
        extra = conversation(session, answers, f"x{i}", answers.accounts[0], "sms", at(6))
        survey_answer(session, extra, 4, at(6, 10, i), f"comment {i}")
    session.commit()
    latest = compute(session).csat
    assert latest is not None and latest.responses == 12
    assert [x.comment for x in latest.comments] == [
        "too slow", "comment 6", "comment 5", "comment 4", "comment 3",
    ]  # fmt: skip


def test_csat_is_none_without_answers_in_the_range(session: Session, answers: Week) -> None:
    assert compute(session, date(2026, 11, 9), date(2026, 11, 20)).csat is None
    one_day = compute(session, UNTIL, UNTIL).csat
    assert one_day is not None
    assert (one_day.responses, one_day.average, one_day.csat_rate) == (1, 1.0, 0.0)


def test_csat_is_none_without_any_answer(session: Session, week: Week) -> None:
    assert compute(session).csat is None
    assert metrics.csat(session, SINCE, UNTIL) is None


def test_csat_in_json(session: Session, answers: Week) -> None:
    data: dict[str, Any] = json.loads(json.dumps(compute(session).as_dict()))
    csat = data["csat"]
    assert csat["responses"] == 5 and csat["average"] == 3.4 and csat["csat_rate"] == 0.6
    assert csat["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 2}
    assert csat["comments"][0] == {
        "score": 1,
        "comment": "too slow",
        "created_at": LAST.isoformat(),
        "conversation_id": answers.conversations["c5"].id,
    }


def test_one_day_range_includes_its_first_and_last_second(session: Session, week: Week) -> None:
    first = compute(session, SINCE, SINCE)
    assert first.conversations.total == 1
    assert first.cases.validation_requests == 1
    last = compute(session, UNTIL, UNTIL)
    assert last.conversations.total == 1
    assert last.handoffs.by_reason[1] == metrics.ReasonStats("distress", 1, 1, 300, 300)
    assert (last.plans.count, last.plans.scheduled_cents, last.cases.disputes) == (1, 50000, 1)
    outside = compute(session, date(2026, 10, 31), date(2026, 10, 31))
    assert outside.conversations.total == 1
    assert outside.handoffs.total == 1
    assert outside.verification.passed == 1


def test_an_empty_range_gives_zeros_not_errors(session: Session, week: Week) -> None:
    empty = compute(session, date(2025, 1, 1), date(2025, 1, 30))
    assert empty.conversations.total == 0
    assert empty.conversations.containment_rate is None
    assert len(empty.conversations.per_day) == 30
    assert all(d.count == 0 for d in empty.conversations.per_day)
    assert (empty.handoffs.total, empty.handoffs.median_wait_seconds) == (0, None)
    assert empty.verification == metrics.Verification(0, 0, None, 0)
    assert (empty.plans.count, empty.plans.scheduled_cents) == (0, 0)
    assert empty.promises == metrics.Promises(0, 0, 0, 0, 0, 0, 0, None)
    assert empty.cases.disputes == empty.cases.hardship == 0
    assert empty.consent.opt_outs == 0
    assert empty.checks.hits == 0
    json.dumps(empty.as_dict())


def test_an_empty_database_gives_zeros(session: Session) -> None:
    result = compute(session)
    assert result.conversations.total == 0
    assert result.handoffs.by_reason[0].count == 0
    assert result.promises.kept_rate is None


def test_as_dict_is_json_with_cents_and_formatted_money(session: Session, week: Week) -> None:
    data: dict[str, Any] = json.loads(json.dumps(compute(session).as_dict()))
    assert data["since"] == "2026-11-01"
    assert data["until"] == "2026-11-07"
    assert data["days"] == 7
    assert data["plans"]["scheduled_cents"] == 80000
    assert data["plans"]["scheduled"] == "$800.00"
    assert data["promises"]["amount"] == "$450.00"
    assert data["promises"]["kept_amount"] == "$230.00"
    assert data["conversations"]["per_day"][0] == {"day": "2026-11-01", "count": 1}
    assert data["handoffs"]["by_reason"][0]["median_wait_seconds"] == 90
    assert data["csat"] is None


@pytest.mark.parametrize(
    ("since", "until"),
    [(date(2026, 11, 2), date(2026, 11, 1)), (date(2024, 1, 1), date(2026, 1, 1))],
)
def test_a_backwards_or_too_long_range_is_refused(
    session: Session, since: date, until: date
) -> None:
    with pytest.raises(metrics.InvalidRange):
        metrics.compute(session, since, until)
