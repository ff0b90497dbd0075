"""The numbers a manager reads on the compliance dashboard (and gets from the metrics API).

Every figure covers an inclusive range of days, ``since`` to ``until``, in UTC: a row counts
when its timestamp falls in ``[since 00:00 UTC, until + 1 day 00:00 UTC)``. Everything is
aggregate SQL (count, sum, group by, window functions) that runs the same on SQLite and
PostgreSQL; only the compliance checks look at conversations one by one, as checks must.

Definitions:

- **conversations**: conversations *started* in the range, in all and by channel, and per
  day (every day of the range, zeros included) for the chart.
- **containment**: the share of those conversations that never had a handoff (at any time):
  resolved without a person. ``None`` when there were no conversations.
- **handoffs**: handoffs *requested* in the range, by reason (every ``HandoffReason``, zeros
  included). Wait is ``claimed_at - created_at`` of the ones an agent claimed; the median and
  the 90th percentile are interpolated between the two nearest ranks (as PostgreSQL's
  ``percentile_cont``), in whole seconds. *Still waiting*: of those handoffs, the ones no
  agent has claimed yet (status ``waiting``).
- **verification**: conversations with a verification attempt (a ``verification_passed`` or
  ``verification_failed`` event) in the range, and the ones among them with a
  ``verification_passed`` event in the range; success is passed / attempted. *Locked*:
  conversations with a ``verification_locked`` event in the range (three mismatches).
- **plans**: payment plans created in the range, by kind; *scheduled* is the sum of their
  installments, in cents.
- **promises**: promises to pay created in the range, and their amount. Nothing in the
  product marks a promise kept yet (payments arrive from outside), so the outcome is derived:
  a promise is *kept* when its status says so, or when it is ``open`` and the payments on its
  account paid from the day it was made through its due date add up to at least the amount
  promised; *broken* when its status says so, or when it is ``open``, not kept, and its due
  date is before ``today``; *pending* when open, not kept and not yet due; *cancelled* by its
  status. Kept rate: kept / (kept + broken), the promises whose outcome is known. (One payment
  can keep two promises made on the same account over the same days.)
- **disputes** by reason and **validation requests** by kind: created in the range.
- **hardship**: hardship records created in the range, by category (every
  ``HardshipCategory``, zeros included).
- **opt-outs**: consent events with action ``opt_out`` in the range, by channel; *cease*:
  requests to stop all communication (action ``cease``) in the range, counted apart.
- **compliance checks**: over the conversations *active* in the range (started before its end,
  last message at or after its start: the date semantics of the transcript search, so that a
  count links to a search that finds the same conversations), the number of conversations
  with at least one finding of each check (``compliance_checks.count_by_check``); *hits* is
  their sum, and *conversations checked* how many were looked at.
- **CSAT**: answers to the satisfaction survey ("How did we do? Reply 1-5") *recorded* in the
  range: how many, their average score, how many gave each score (1 to 5, zeros included),
  *satisfied* (a 4 or a 5) and the CSAT rate, satisfied / answers; and the latest comments (at
  most ``CSAT_COMMENTS``, newest first, redacted). ``None`` when the range has no answers.

Money is integer cents; :meth:`Metrics.as_dict` adds a formatted string next to every
``*_cents`` key (``"scheduled_cents": 123456`` and ``"scheduled": "$1,234.56"``). Durations
are seconds, rates are fractions from 0 to 1 (``None`` when there is nothing to divide by).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from bot.domain.money import format_money
from bot.domain.redaction import redact
from bot.models import (
    ConsentEvent,
    Conversation,
    ConversationEvent,
    Dispute,
    Handoff,
    HardshipRecord,
    Installment,
    PaymentPlan,
    Promise,
    SurveyResponse,
    ValidationRequest,
)
from bot.services import compliance_checks
from bot.services.cases import DisputeReason, HardshipCategory, ValidationKind
from bot.services.events import EventKind
from bot.services.handoff import HandoffReason
from bot.services.payment_status import promise_paid_cents

#: The longest range one request may ask for (a day per bar on the chart).
MAX_RANGE_DAYS = 731
#: The survey's scale, and how many of the latest comments the CSAT shows.
SCORES = (1, 2, 3, 4, 5)
CSAT_COMMENTS = 5
CHANNELS = ("sms", "web")


class InvalidRange(ValueError):
    """The range is backwards or longer than MAX_RANGE_DAYS."""


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class Conversations:
    total: int
    by_channel: dict[str, int]
    per_day: tuple[DayCount, ...]
    contained: int
    containment_rate: float | None


@dataclass(frozen=True)
class ReasonStats:
    reason: str
    count: int
    claimed: int
    median_wait_seconds: int | None
    p90_wait_seconds: int | None


@dataclass(frozen=True)
class Handoffs:
    total: int
    claimed: int
    still_waiting: int
    median_wait_seconds: int | None
    p90_wait_seconds: int | None
    by_reason: tuple[ReasonStats, ...]


@dataclass(frozen=True)
class Verification:
    attempted: int
    passed: int
    success_rate: float | None
    locked: int


@dataclass(frozen=True)
class Plans:
    count: int
    scheduled_cents: int
    by_kind: dict[str, int]


@dataclass(frozen=True)
class Promises:
    count: int
    amount_cents: int
    kept: int
    kept_amount_cents: int
    broken: int
    pending: int
    cancelled: int
    kept_rate: float | None


@dataclass(frozen=True)
class Cases:
    disputes: int
    disputes_by_reason: dict[str, int]
    validation_requests: int
    validation_by_kind: dict[str, int]
    hardship: int
    hardship_by_category: dict[str, int]


@dataclass(frozen=True)
class Consent:
    opt_outs: int
    opt_outs_by_channel: dict[str, int]
    ceases: int


@dataclass(frozen=True)
class CheckHits:
    code: str
    rule: str
    title: str
    conversations: int


@dataclass(frozen=True)
class Checks:
    conversations_checked: int
    hits: int
    by_check: tuple[CheckHits, ...]


@dataclass(frozen=True)
class SurveyComment:
    score: int
    comment: str  # redacted
    created_at: datetime
    conversation_id: str  # the conversation the survey asked about


@dataclass(frozen=True)
class CsatSummary:
    responses: int
    average: float  # on the survey's scale, 1 (poor) to 5 (great), to two decimals
    distribution: dict[int, int]  # score -> answers, 1 to 5, zeros included
    satisfied: int  # answers of 4 or 5
    csat_rate: float  # satisfied / responses
    comments: tuple[SurveyComment, ...]  # the latest, newest first


@dataclass(frozen=True)
class Metrics:
    since: date
    until: date
    days: int
    conversations: Conversations
    handoffs: Handoffs
    verification: Verification
    plans: Plans
    promises: Promises
    cases: Cases
    consent: Consent
    checks: Checks
    csat: CsatSummary | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, tuples as lists, and a formatted string beside
        every ``*_cents`` value."""
        result = _jsonable(self)
        assert isinstance(result, dict)
        return result


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in fields(value):
            item = getattr(value, field.name)
            out[field.name] = _jsonable(item)
            if field.name.endswith("_cents") and isinstance(item, int):
                out[field.name.removesuffix("_cents")] = format_money(item)
        return out
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


# ----------------------------------------------------------------------------- helpers


def bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """The range as [start, end) in UTC; InvalidRange when it cannot be one."""
    if until < since:
        raise InvalidRange("until must not be before since")
    if (until - since).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRange(f"the range may be at most {MAX_RANGE_DAYS} days")
    if until >= date.max:
        raise InvalidRange(f"until must be before {date.max.isoformat()}")
    start = datetime.combine(since, time.min, tzinfo=UTC)
    return start, datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in SQL."""
    if _dialect(session) == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts(rows: Iterable[Any], keys: Sequence[str] = ()) -> dict[str, int]:
    """{key: count} with every key of `keys` first (zeros included), then any other found."""
    found = {str(key): int(count) for key, count in rows}
    ordered = {key: found.pop(key, 0) for key in keys}
    ordered.update(sorted(found.items()))
    return ordered


#: Percentiles as (numerator, denominator): exact integer ranks, the same in SQL and Python.
MEDIAN, P90 = (1, 2), (9, 10)


def _percentile(waits: Mapping[int, float], n: int, fraction: tuple[int, int]) -> int | None:
    """Linear interpolation between the ranks around fraction * (n - 1) (0-based)."""
    if n == 0:
        return None
    num, den = fraction
    low, rest = divmod(num * (n - 1), den)
    value = waits[low]
    if rest:
        value += (waits[low + 1] - value) * rest / den
    return round(value)


# ----------------------------------------------------------------------------- sections


def _conversations(session: Session, since: date, until: date, in_range: Any) -> Conversations:
    by_channel = _counts(
        session.execute(
            select(Conversation.channel, func.count())
            .where(in_range)
            .group_by(Conversation.channel)
        ),
        CHANNELS,
    )
    total = sum(by_channel.values())
    day = _utc_day(session, Conversation.started_at).label("day")
    found = {
        _as_date(d): int(n)
        for d, n in session.execute(select(day, func.count()).where(in_range).group_by(day))
    }
    per_day = tuple(
        DayCount(since + timedelta(days=i), found.get(since + timedelta(days=i), 0))
        for i in range((until - since).days + 1)
    )
    handed_off = select(Handoff.id).where(Handoff.conversation_id == Conversation.id).exists()
    contained = session.scalar(
        select(func.count()).select_from(Conversation).where(in_range, ~handed_off)
    )
    return Conversations(total, by_channel, per_day, contained or 0, _rate(contained or 0, total))


def _waits(
    session: Session, in_range: Any, by_reason: bool
) -> dict[str, tuple[int | None, int | None]]:
    """{reason, or "" for all: (median, p90)} in seconds over claimed handoffs. Window
    functions rank the waits; only the rows at the ranks the percentiles need leave the
    database."""
    wait = _seconds_between(session, Handoff.created_at, Handoff.claimed_at)
    group = Handoff.reason if by_reason else None
    ranked = (
        select(
            (Handoff.reason if by_reason else literal_column("''")).label("grp"),
            wait.label("wait"),
            func.row_number().over(partition_by=group, order_by=wait).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(in_range, Handoff.claimed_at.is_not(None))
        .subquery()
    )
    rank = ranked.c.rn - 1
    wanted = []
    for num, den in (MEDIAN, P90):
        low = (ranked.c.n - 1) * num // den
        wanted += [rank == low, rank == low + 1]
    waits: dict[str, dict[int, float]] = {}
    sizes: dict[str, int] = {}
    for grp, wait_s, rn, n in session.execute(
        select(ranked.c.grp, ranked.c.wait, ranked.c.rn, ranked.c.n).where(or_(*wanted))
    ):
        waits.setdefault(str(grp), {})[int(rn) - 1] = float(wait_s)
        sizes[str(grp)] = int(n)
    return {
        grp: (_percentile(w, sizes[grp], MEDIAN), _percentile(w, sizes[grp], P90))
        for grp, w in waits.items()
    }


def _handoffs(session: Session, in_range: Any) -> Handoffs:
    rows = session.execute(
        select(
            Handoff.reason,
            func.count(),
            func.count(Handoff.claimed_at),
            func.coalesce(func.sum(case((Handoff.status == "waiting", 1), else_=0)), 0),
        )
        .where(in_range)
        .group_by(Handoff.reason)
    ).all()
    counts = {str(r): (int(n), int(claimed), int(waiting)) for r, n, claimed, waiting in rows}
    per_reason = _waits(session, in_range, by_reason=True)
    overall = _waits(session, in_range, by_reason=False).get("", (None, None))
    reasons = [r.value for r in HandoffReason] + sorted(set(counts) - set(HandoffReason))
    by_reason = tuple(
        ReasonStats(
            reason,
            counts.get(reason, (0, 0, 0))[0],
            counts.get(reason, (0, 0, 0))[1],
            *per_reason.get(reason, (None, None)),
        )
        for reason in reasons
    )
    return Handoffs(
        total=sum(n for n, _, _ in counts.values()),
        claimed=sum(c for _, c, _ in counts.values()),
        still_waiting=sum(w for _, _, w in counts.values()),
        median_wait_seconds=overall[0],
        p90_wait_seconds=overall[1],
        by_reason=by_reason,
    )


def _verification(session: Session, in_range: Any) -> Verification:
    def conversations_with(*kinds: EventKind) -> Any:
        picked = case(
            (
                ConversationEvent.kind.in_([k.value for k in kinds]),
                ConversationEvent.conversation_id,
            )
        )
        return func.count(func.distinct(picked))

    attempted, passed, locked = session.execute(
        select(
            conversations_with(EventKind.VERIFICATION_PASSED, EventKind.VERIFICATION_FAILED),
            conversations_with(EventKind.VERIFICATION_PASSED),
            conversations_with(EventKind.VERIFICATION_LOCKED),
        ).where(in_range, ConversationEvent.conversation_id.is_not(None))
    ).one()
    return Verification(attempted, passed, _rate(passed, attempted), locked)


def _plans(session: Session, in_range: Any) -> Plans:
    by_kind = _counts(
        session.execute(
            select(PaymentPlan.kind, func.count()).where(in_range).group_by(PaymentPlan.kind)
        ),
        ("full", "installments", "hardship", "settlement"),
    )
    scheduled = session.scalar(
        select(func.coalesce(func.sum(Installment.amount_cents), 0))
        .join(PaymentPlan, Installment.plan_id == PaymentPlan.id)
        .where(in_range)
    )
    return Plans(sum(by_kind.values()), int(scheduled or 0), by_kind)


def _promises(session: Session, in_range: Any, today: date) -> Promises:
    paid = promise_paid_cents(session)  # the rule the outreach scheduler shares
    is_open = Promise.status == "open"
    kept = or_(Promise.status == "kept", and_(is_open, paid >= Promise.amount_cents))
    not_kept_open = and_(is_open, paid < Promise.amount_cents)
    broken = or_(Promise.status == "broken", and_(not_kept_open, Promise.due_on < today))
    pending = and_(not_kept_open, Promise.due_on >= today)

    def total(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Promise.amount_cents), 0),
            total(kept),
            total(kept, Promise.amount_cents),
            total(broken),
            total(pending),
            total(Promise.status == "cancelled"),
        ).where(in_range)
    ).one()
    count, amount, n_kept, kept_amount, n_broken, n_pending, cancelled = (int(v) for v in row)
    return Promises(
        count,
        amount,
        n_kept,
        kept_amount,
        n_broken,
        n_pending,
        cancelled,
        _rate(n_kept, n_kept + n_broken),
    )


def _cases(session: Session, start: datetime, end: datetime) -> Cases:
    def grouped(model: Any, column: Any, keys: Sequence[str] = ()) -> dict[str, int]:
        return _counts(
            session.execute(
                select(column, func.count())
                .where(model.created_at >= start, model.created_at < end)
                .group_by(column)
            ),
            keys,
        )

    disputes = grouped(Dispute, Dispute.reason, [r.value for r in DisputeReason])
    validations = grouped(
        ValidationRequest, ValidationRequest.kind, [k.value for k in ValidationKind]
    )
    hardship = grouped(HardshipRecord, HardshipRecord.category, [c.value for c in HardshipCategory])
    return Cases(
        sum(disputes.values()),
        disputes,
        sum(validations.values()),
        validations,
        sum(hardship.values()),
        hardship,
    )


def _consent(session: Session, in_range: Any) -> Consent:
    by_channel = _counts(
        session.execute(
            select(ConsentEvent.channel, func.count())
            .where(in_range, ConsentEvent.action == "opt_out")
            .group_by(ConsentEvent.channel)
        ),
        CHANNELS,
    )
    ceases = session.scalar(
        select(func.count())
        .select_from(ConsentEvent)
        .where(in_range, ConsentEvent.action == "cease")
    )
    return Consent(sum(by_channel.values()), by_channel, ceases or 0)


def _checks(session: Session, start: datetime, end: datetime, company_name: str | None) -> Checks:
    active = and_(Conversation.last_message_at >= start, Conversation.started_at < end)
    ids = list(
        session.scalars(select(Conversation.id).where(active).order_by(Conversation.started_at))
    )
    counts = dict(compliance_checks.count_by_check(session, ids, company_name=company_name))
    known = compliance_checks.CHECKS
    by_check = [CheckHits(c.code, c.rule, c.title, counts.pop(c.code, 0)) for c in known]
    by_check += [CheckHits(code, "", code, n) for code, n in sorted(counts.items())]
    return Checks(len(ids), sum(c.conversations for c in by_check), tuple(by_check))


def csat(session: Session, since: date, until: date) -> CsatSummary | None:
    """Customer satisfaction from the post-conversation survey, over the answers recorded in
    the range (see the module's definitions); ``None`` when there are none."""
    start, end = bounds(since, until)
    in_range = and_(
        SurveyResponse.created_at >= start,
        SurveyResponse.created_at < end,
        SurveyResponse.score.between(SCORES[0], SCORES[-1]),
    )
    found = dict(
        session.execute(
            select(SurveyResponse.score, func.count())
            .where(in_range)
            .group_by(SurveyResponse.score)
        ).all()
    )
    distribution = {score: int(found.get(score, 0)) for score in SCORES}
    responses = sum(distribution.values())
    if not responses:
        return None
    satisfied = distribution[4] + distribution[5]
    latest = session.execute(
        select(
            SurveyResponse.score,
            SurveyResponse.comment,
            SurveyResponse.created_at,
            SurveyResponse.conversation_id,
        )
        .where(in_range, SurveyResponse.comment.is_not(None), SurveyResponse.comment != "")
        .order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc())
        .limit(CSAT_COMMENTS)
    ).all()
    return CsatSummary(
        responses=responses,
        average=round(sum(s * n for s, n in distribution.items()) / responses, 2),
        distribution=distribution,
        satisfied=satisfied,
        csat_rate=round(satisfied / responses, 4),
        comments=tuple(
            SurveyComment(score, redact(comment or "").text, at, conversation_id)
            for score, comment, at, conversation_id in latest
        ),
    )


# ----------------------------------------------------------------------------- entry point


def compute(
    session: Session,
    since: date,
    until: date,
    *,
    today: date | None = None,
    company_name: str | None = None,
) -> Metrics:
    """Every number of the dashboard for the days ``since`` to ``until`` (inclusive, UTC).
    ``today`` (UTC) decides which promises are past due; it defaults to the current day.
    ``company_name`` goes to the compliance checks (the name allowed before verification;
    their default: the settings'). Raises InvalidRange for a backwards or too long range."""
    start, end = bounds(since, until)
    today = today or datetime.now(UTC).date()

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    return Metrics(
        since=since,
        until=until,
        days=(until - since).days + 1,
        conversations=_conversations(session, since, until, within(Conversation.started_at)),
        handoffs=_handoffs(session, within(Handoff.created_at)),
        verification=_verification(session, within(ConversationEvent.created_at)),
        plans=_plans(session, within(PaymentPlan.created_at)),
        promises=_promises(session, within(Promise.created_at), today),
        cases=_cases(session, start, end),
        consent=_consent(session, within(ConsentEvent.created_at)),
        checks=_checks(session, start, end, company_name),
        csat=csat(session, since, until),
    )
