"""Conversations found by a search, one page of summaries (flags, automatic checks, the
latest review), loaded in a few queries; and the counts of each check over a period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    ConversationReview,
    Handoff,
    Message,
)
from bot.services.compliance_checks import CHECKS_BY_CODE, Finding, count_by_check, run_checks
from bot.services.transcripts.filters import (
    EVENT_FLAGS,
    FLAGS,
    HANDOFF_FLAGS,
    SearchFilters,
    conditions,
    latest_review_ids,
)


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


def search(session: Session, filters: SearchFilters, *, company_name: str | None = None) -> Page:
    """Conversations matching every filter, newest first, one page with flags and checks."""
    base = (
        select(Conversation.id)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(*conditions(filters))
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
            ConversationReview.id.in_(latest_review_ids()),
        )
    )
    return {
        r.conversation_id: ReviewInfo(r.outcome, r.reviewer, r.note, r.created_at) for r in rows
    }


#: An export of a search result takes at most this many conversations.
EXPORT_LIMIT = 5000


def search_all(
    session: Session, filters: SearchFilters, *, company_name: str | None = None
) -> Page:
    """Every match (up to EXPORT_LIMIT), for an export."""
    return search(
        session, replace(filters, page=1, per_page=EXPORT_LIMIT), company_name=company_name
    )


def check_counts(
    session: Session, since: date | None, until: date | None, *, company_name: str | None = None
) -> dict[str, int]:
    """For each check code, how many conversations active in [since, until] it hit (the same
    date semantics as the search, so a count links to a search that finds those)."""
    ids = session.scalars(
        select(Conversation.id)
        .outerjoin(Account, Account.id == Conversation.account_id)
        .where(*conditions(SearchFilters(since=since, until=until)))
    ).all()
    return count_by_check(session, ids, company_name=company_name)
