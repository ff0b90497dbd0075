"""Transcripts for compliance review: search, the whole conversation in order, flags and
exports. Reads only; the audit entry for each view, search and export is the caller's (it
knows who asked and from where). `company_name` is the name rule 1 allows before
verification: the app's setting (default: the environment's).

Flags come from what happened (events and handoffs: the list in interfaces.md); the automatic
checks of :mod:`bot.services.compliance_checks` are reported beside them and can be searched
by their code like a flag.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.orm import Session

from bot.domain.redaction import redact
from bot.domain.timezones import zones_for_phone
from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    ConversationReview,
    Handoff,
    Message,
    StaffUser,
)
from bot.services.compliance_checks import CHECKS_BY_CODE, Finding, count_by_check, run_checks
from bot.services.errors import NotFound, ServiceError
from bot.services.events import EventKind
from bot.services.handoff import HandoffReason
from bot.services.integrity import ChainReport, verify_conversation

# ---------------------------------------------------------------- flags

#: Flag -> the event kinds that raise it.
EVENT_FLAGS: dict[str, tuple[EventKind, ...]] = {
    "handoff": (EventKind.HANDOFF_REQUESTED,),
    "dispute": (EventKind.DISPUTE,),
    "validation_request": (EventKind.VALIDATION_REQUEST,),
    "hardship": (EventKind.HARDSHIP,),
    "plan": (EventKind.PLAN_ACCEPTED,),
    "promise": (EventKind.PROMISE,),
    "opt_out": (EventKind.OPT_OUT, EventKind.CEASE),
    "complaint": (EventKind.COMPLAINT,),
    "wrong_number": (EventKind.WRONG_NUMBER,),
    "identity_failed": (EventKind.VERIFICATION_LOCKED,),
}
#: Flag -> the handoff reasons that raise it (escalations always hand off).
HANDOFF_FLAGS: dict[str, tuple[HandoffReason, ...]] = {
    "attorney": (HandoffReason.ATTORNEY,),
    "bankruptcy": (HandoffReason.BANKRUPTCY,),
    "distress": (HandoffReason.DISTRESS,),
    "deceased": (HandoffReason.DECEASED,),
    "complaint": (HandoffReason.COMPLAINT,),
    "identity_failed": (HandoffReason.IDENTITY_FAILED,),
}
FLAGS: tuple[str, ...] = tuple(dict.fromkeys([*EVENT_FLAGS, *HANDOFF_FLAGS]))


class ReviewFilter:
    UNREVIEWED = "unreviewed"
    OUTCOMES = ("fine", "coaching", "breach")


#: "until=9999-12-31" means no end; one day short of date.max leaves room for the next day.
LAST_DAY = date.max - timedelta(days=1)


class BadFilter(ServiceError):
    code = "bad_filter"


@dataclass(frozen=True)
class SearchFilters:
    account_ref: str | None = None
    phone: str | None = None
    name: str | None = None
    since: date | None = None
    until: date | None = None
    channel: str | None = None
    flag: str | None = None  # a flag of FLAGS or a check code
    text: str | None = None  # words that must all appear in the conversation's messages
    review: str | None = None  # unreviewed | fine | coaching | breach (the latest review)
    page: int = 1
    per_page: int = 25

    FIELDS = ("account_ref", "phone", "name", "since", "until", "channel", "flag", "text", "review")

    @classmethod
    def from_args(cls, args: Mapping[str, str], *, per_page: int = 25) -> SearchFilters:
        """From a query string; BadFilter with a message a person can act on."""

        def clean(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:200] or None

        values: dict[str, Any] = {name: clean(name) for name in cls.FIELDS}
        for name in ("text", "name"):  # a card number searched for is never stored (rule 18)
            if values[name]:
                values[name] = redact(values[name]).text
        for name in ("since", "until"):
            if values[name]:
                try:
                    values[name] = min(date.fromisoformat(values[name]), LAST_DAY)
                except ValueError:
                    raise BadFilter(f"{name} must be a date like 2026-11-23") from None
        if values["since"] and values["until"] and values["since"] > values["until"]:
            raise BadFilter("since is after until")
        if values["channel"] and values["channel"] not in ("sms", "web"):
            raise BadFilter("channel must be sms or web")
        if values["flag"] and values["flag"] not in FLAGS and values["flag"] not in CHECKS_BY_CODE:
            raise BadFilter(f"unknown flag {values['flag']!r}")
        review_values = (ReviewFilter.UNREVIEWED, *ReviewFilter.OUTCOMES)
        if values["review"] and values["review"] not in review_values:
            raise BadFilter("review must be one of " + ", ".join(review_values))
        if values["phone"]:
            values["phone"] = _e164(values["phone"])
        try:
            page = int(args.get("page") or 1)
        except ValueError:
            raise BadFilter("page must be a number") from None
        return cls(**values, page=max(1, min(page, 100_000)), per_page=per_page)

    def query_args(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string arguments (for links to other pages, exports)."""
        out = {}
        for name in (*self.FIELDS, "page"):
            value = changes.get(name, getattr(self, name))
            if value not in (None, "", 1) or (name == "page" and value != 1):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


def _e164(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise BadFilter(f"{raw!r} is not a phone number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class ReviewInfo:
    outcome: str
    reviewer: str
    note: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reviewer": self.reviewer,
            "note": self.note,
            "at": self.at.isoformat(),
        }


@dataclass
class Summary:
    id: str
    channel: str
    address: str | None  # the phone for SMS; None for web chat (a browser session id)
    account_ref: str | None
    debtor_name: str | None
    status: str
    started_at: datetime
    last_message_at: datetime
    message_count: int
    flags: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    review: ReviewInfo | None = None

    @property
    def check_codes(self) -> list[str]:
        return list(dict.fromkeys(f.check for f in self.findings))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "address": self.address,
            "account_ref": self.account_ref,
            "debtor_name": self.debtor_name,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "last_message_at": self.last_message_at.isoformat(),
            "message_count": self.message_count,
            "flags": self.flags,
            "checks": [finding_dict(f) for f in self.findings],
            "review": self.review.as_dict() if self.review else None,
        }


def finding_dict(finding: Finding) -> dict[str, Any]:
    check = CHECKS_BY_CODE.get(finding.check)
    return {
        "check": finding.check,
        "rule": finding.rule,
        "title": check.title if check else finding.check,
        "message_id": finding.message_id,
        "at": finding.at.isoformat(),
        "detail": finding.detail,
    }


@dataclass
class Page:
    items: list[Summary]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversations": [item.as_dict() for item in self.items],
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
        }


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _conditions(filters: SearchFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.account_ref:
        where.append(func.upper(Account.account_ref) == filters.account_ref.upper())
    if filters.phone:
        where.append(or_(Conversation.address == filters.phone, Account.phone == filters.phone))
    if filters.name:
        pattern = f"%{_like(filters.name.lower())}%"
        full = func.lower(Account.first_name + " " + Account.last_name)
        where.append(full.like(pattern, escape="\\"))
    if filters.since:
        where.append(Conversation.last_message_at >= _start(filters.since))
    if filters.until:
        where.append(Conversation.started_at < _start(filters.until + timedelta(days=1)))
    if filters.channel:
        where.append(Conversation.channel == filters.channel)
    for word in (filters.text or "").split()[:10]:
        pattern = f"%{_like(word.lower())}%"
        where.append(
            exists().where(
                Message.conversation_id == Conversation.id,
                func.lower(Message.text).like(pattern, escape="\\"),
            )
        )
    if filters.flag and filters.flag in FLAGS:
        where.append(flag_condition(filters.flag))
    if filters.review:
        where.append(_review_condition(filters.review))
    return where


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def flag_condition(flag: str) -> ColumnElement[bool]:
    """SQL: the conversation has this flag."""
    parts: list[ColumnElement[bool]] = []
    if flag in EVENT_FLAGS:
        kinds = [kind.value for kind in EVENT_FLAGS[flag]]
        parts.append(
            exists().where(
                ConversationEvent.conversation_id == Conversation.id,
                ConversationEvent.kind.in_(kinds),
            )
        )
    if flag in HANDOFF_FLAGS:
        reasons = [reason.value for reason in HANDOFF_FLAGS[flag]]
        parts.append(
            exists().where(Handoff.conversation_id == Conversation.id, Handoff.reason.in_(reasons))
        )
    return or_(*parts) if parts else false()


def _latest_review_ids() -> Any:
    return (
        select(func.max(ConversationReview.id))
        .group_by(ConversationReview.conversation_id)
        .scalar_subquery()
    )


def _review_condition(review: str) -> ColumnElement[bool]:
    if review == ReviewFilter.UNREVIEWED:
        return ~exists().where(ConversationReview.conversation_id == Conversation.id)
    return exists().where(
        ConversationReview.conversation_id == Conversation.id,
        ConversationReview.outcome == review,
        ConversationReview.id.in_(_latest_review_ids()),
    )


def search(session: Session, filters: SearchFilters, *, company_name: str | None = None) -> Page:
    """Conversations matching every filter, newest first, one page with flags and checks."""
    base = (
        select(Conversation.id)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(*_conditions(filters))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    )
    offset = (filters.page - 1) * filters.per_page
    if filters.flag and filters.flag in CHECKS_BY_CODE:
        # A check is computed, not stored: run it over the matches, then page.
        ids = list(session.scalars(base))
        findings = run_checks(session, ids, company_name=company_name)
        hits = [cid for cid in ids if any(f.check == filters.flag for f in findings[cid])]
        return Page(
            summarize(session, hits[offset : offset + filters.per_page], company_name=company_name),
            filters.page,
            filters.per_page,
            len(hits),
        )
    total = session.scalar(select(func.count()).select_from(base.order_by(None).subquery())) or 0
    ids = list(session.scalars(base.limit(filters.per_page).offset(offset)))
    return Page(
        summarize(session, ids, company_name=company_name), filters.page, filters.per_page, total
    )


def summarize(
    session: Session, conversation_ids: Sequence[str], *, company_name: str | None = None
) -> list[Summary]:
    """Summaries of these conversations, in the order given, loaded in a few queries."""
    if not conversation_ids:
        return []
    ids = list(conversation_ids)
    counts = dict(
        session.execute(
            select(Message.conversation_id, func.count(Message.id))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        ).all()
    )
    flags = flags_of(session, ids)
    findings = run_checks(session, ids, company_name=company_name)
    reviews = latest_reviews(session, ids)
    rows = session.execute(
        select(Conversation, Account)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(Conversation.id.in_(ids))
    ).all()
    by_id = {conversation.id: (conversation, account) for conversation, account in rows}
    out = []
    for cid in ids:
        conversation, account = by_id[cid]
        out.append(
            Summary(
                id=cid,
                channel=conversation.channel,
                address=conversation.address if conversation.channel == "sms" else None,
                account_ref=account.account_ref if account else None,
                debtor_name=account.full_name if account else None,
                status=conversation.status,
                started_at=conversation.started_at,
                last_message_at=conversation.last_message_at,
                message_count=counts.get(cid, 0),
                flags=[flag for flag in FLAGS if flag in flags[cid]],
                findings=findings.get(cid, []),
                review=reviews.get(cid),
            )
        )
    return out


def flags_of(session: Session, conversation_ids: Iterable[str]) -> dict[str, set[str]]:
    ids = list(conversation_ids)
    kind_to_flags: dict[str, set[str]] = defaultdict(set)
    for flag, kinds in EVENT_FLAGS.items():
        for event_kind in kinds:
            kind_to_flags[event_kind.value].add(flag)
    reason_to_flags: dict[str, set[str]] = defaultdict(set)
    for flag, reasons in HANDOFF_FLAGS.items():
        for handoff_reason in reasons:
            reason_to_flags[handoff_reason.value].add(flag)
    result: dict[str, set[str]] = {cid: set() for cid in ids}
    for event_cid, kind in session.execute(
        select(ConversationEvent.conversation_id, ConversationEvent.kind)
        .where(
            ConversationEvent.conversation_id.in_(ids),
            ConversationEvent.kind.in_(list(kind_to_flags)),
        )
        .distinct()
    ):
        if event_cid is not None:
            result[event_cid] |= kind_to_flags[kind]
    for cid, reason in session.execute(
        select(Handoff.conversation_id, Handoff.reason)
        .where(Handoff.conversation_id.in_(ids))
        .distinct()
    ):
        result[cid] |= reason_to_flags.get(reason, set()) | {"handoff"}
    return result


def latest_reviews(session: Session, conversation_ids: Iterable[str]) -> dict[str, ReviewInfo]:
    ids = list(conversation_ids)
    rows = session.scalars(
        select(ConversationReview).where(
            ConversationReview.conversation_id.in_(ids),
            ConversationReview.id.in_(_latest_review_ids()),
        )
    )
    return {
        r.conversation_id: ReviewInfo(r.outcome, r.reviewer, r.note, r.created_at) for r in rows
    }


# ---------------------------------------------------------------- one transcript


@dataclass(frozen=True)
class Entry:
    """A message or an event, in the order they happened."""

    type: str  # message | event
    id: int
    at: datetime
    local_at: datetime | None
    message: Message | None = None
    event: ConversationEvent | None = None
    agent: str | None = None  # the agent's email, for agent messages
    findings: tuple[Finding, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "created_at": self.at.isoformat(),
            "local_time": self.local_at.isoformat() if self.local_at else None,
        }
        if self.message is not None:
            return (
                base
                | message_dict(self.message, self.agent)
                | {"checks": [finding_dict(f) for f in self.findings]}
            )
        assert self.event is not None
        return base | event_dict(self.event)


SENDER_LABELS = {"debtor": "Debtor", "bot": "Assistant", "agent": "Agent", "system": "System"}


def sender_label(sender: str) -> str:
    """Who wrote a message, as the agent console and the compliance pages name them."""
    return SENDER_LABELS.get(sender, sender.title())


def message_dict(message: Message, agent: str | None = None) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender,
        "agent": agent,
        "text": message.text,
        "channel": message.channel,
        "created_at": message.created_at.isoformat(),
        "status": message.status,
        "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        "initiated": message.initiated,
        "purpose": message.purpose,
    }


def event_dict(event: ConversationEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "actor": event.actor,
        "data": event.data,
        "created_at": event.created_at.isoformat(),
    }


@dataclass
class Transcript:
    summary: Summary
    zone: str | None  # the debtor's local time zone, when known
    entries: list[Entry]
    reviews: list[ConversationReview]
    integrity: ChainReport

    @property
    def messages(self) -> list[Entry]:
        return [e for e in self.entries if e.type == "message"]

    @property
    def events(self) -> list[Entry]:
        return [e for e in self.entries if e.type == "event"]

    def as_dict(self) -> dict[str, Any]:
        """The shape of GET /api/v1/conversations/<id>."""
        return self.summary.as_dict() | {
            "time_zone": self.zone,
            "messages": [e.as_dict() for e in self.messages],
            "events": [e.as_dict() for e in self.events],
            "reviews": [
                ReviewInfo(r.outcome, r.reviewer, r.note, r.created_at).as_dict()
                for r in self.reviews
            ],
            "integrity": {
                "intact": self.integrity.intact,
                "problems": self.integrity.problems,
            },
        }


def debtor_zone(conversation: Conversation, account: Account | None) -> str | None:
    """The zone to show local times in: the address's, else the phone's area code's."""
    if account is not None:
        zones = account.address_zones.split() or account.phone_zones.split()
        if zones:
            return zones[0]
    if conversation.channel == "sms":
        phone_zones = zones_for_phone(conversation.address)
        if phone_zones:
            return phone_zones[0]
    return None


def load_transcript(
    session: Session, conversation_id: str, *, company_name: str | None = None
) -> Transcript:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("no such conversation")
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    zone_name = debtor_zone(conversation, account)
    zone = ZoneInfo(zone_name) if zone_name else None
    summary = summarize(session, [conversation_id], company_name=company_name)[0]
    by_message: dict[int | None, list[Finding]] = defaultdict(list)
    for finding in summary.findings:
        by_message[finding.message_id].append(finding)
    agents = dict(session.execute(select(StaffUser.id, StaffUser.email)).all())
    entries: list[Entry] = []
    for message in session.scalars(
        select(Message).where(Message.conversation_id == conversation_id)
    ):
        entries.append(
            Entry(
                "message", message.id, message.created_at,
                message.created_at.astimezone(zone) if zone else None,
                message=message,
                agent=agents.get(message.agent_id) if message.agent_id else None,
                findings=tuple(by_message.get(message.id, ())),
            )
        )  # fmt: skip
    for event in session.scalars(
        select(ConversationEvent).where(ConversationEvent.conversation_id == conversation_id)
    ):
        entries.append(
            Entry(
                "event", event.id, event.created_at,
                event.created_at.astimezone(zone) if zone else None,
                event=event,
            )
        )  # fmt: skip
    entries.sort(key=lambda e: (e.at, e.type == "event", e.id))
    reviews = list(
        session.scalars(
            select(ConversationReview)
            .where(ConversationReview.conversation_id == conversation_id)
            .order_by(ConversationReview.id)
        )
    )
    return Transcript(
        summary, zone_name, entries, reviews, verify_conversation(session, conversation_id)
    )


def handled_by(session: Session, conversation_id: str, agent_id: int) -> bool:
    """Whether this agent handled a handoff of the conversation (agents see only those)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Handoff.conversation_id == conversation_id, Handoff.agent_id == agent_id
                )
            )
        )
    )


# ---------------------------------------------------------------- exports

TRANSCRIPT_CSV_COLUMNS = (
    "conversation_id", "type", "id", "created_at_utc", "local_time", "direction", "sender",
    "agent", "channel", "status", "text", "event_kind", "event_actor", "event_data", "checks",
)  # fmt: skip
SEARCH_CSV_COLUMNS = (
    "id", "channel", "address", "account_ref", "debtor_name", "status", "started_at",
    "last_message_at", "message_count", "flags", "checks", "review_outcome", "reviewer",
)  # fmt: skip


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas (=, +, -, @ at the start of a cell)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def transcript_csv(transcript: Transcript) -> str:
    rows = []
    for entry in transcript.entries:
        row: dict[str, Any] = {
            "conversation_id": transcript.summary.id,
            "type": entry.type,
            "id": entry.id,
            "created_at_utc": entry.at.isoformat(),
            "local_time": entry.local_at.isoformat() if entry.local_at else "",
        }
        if entry.message is not None:
            m = entry.message
            row |= {
                "direction": m.direction, "sender": m.sender, "agent": entry.agent,
                "channel": m.channel, "status": m.status, "text": m.text,
                "checks": " ".join(f.check for f in entry.findings),
            }  # fmt: skip
        elif entry.event is not None:
            row |= {
                "event_kind": entry.event.kind,
                "event_actor": entry.event.actor,
                "event_data": json.dumps(entry.event.data, sort_keys=True),
            }
        rows.append(row)
    return _csv(TRANSCRIPT_CSV_COLUMNS, rows)


def search_csv(summaries: Iterable[Summary]) -> str:
    rows = []
    for s in summaries:
        row = s.as_dict()
        row["flags"] = " ".join(s.flags)
        row["checks"] = " ".join(s.check_codes)
        row["review_outcome"] = s.review.outcome if s.review else ""
        row["reviewer"] = s.review.reviewer if s.review else ""
        rows.append(row)
    return _csv(SEARCH_CSV_COLUMNS, rows)


#: An export of a search result takes at most this many conversations.
EXPORT_LIMIT = 5000


def search_all(
    session: Session, filters: SearchFilters, *, company_name: str | None = None
) -> Page:
    """Every match (up to EXPORT_LIMIT), for an export."""
    return search(
        session, replace(filters, page=1, per_page=EXPORT_LIMIT), company_name=company_name
    )


# ---------------------------------------------------------------- check counts
# (Added for the /compliance/checks page: the conversations of a period, counted by
# compliance_checks.count_by_check; it counts exactly what search(flag=<check code>) finds.)


def check_counts(
    session: Session, since: date | None, until: date | None, *, company_name: str | None = None
) -> dict[str, int]:
    """For each check code, how many conversations active in [since, until] it hit (the same
    date semantics as the search, so a count links to a search that finds those)."""
    ids = session.scalars(
        select(Conversation.id)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(*_conditions(SearchFilters(since=since, until=until)))
    ).all()
    return count_by_check(session, ids, company_name=company_name)
