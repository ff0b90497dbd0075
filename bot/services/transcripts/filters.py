"""What a transcript search asks: flags (raised by what happened: events and handoffs, the
list in interfaces.md), the filters of a query string, and each as SQL conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, exists, false, func, or_, select

from bot.domain.redaction import redact
from bot.models import (
    Account,
    Conversation,
    ConversationEvent,
    ConversationReview,
    Handoff,
    Message,
)
from bot.services.compliance_checks import CHECKS_BY_CODE
from bot.services.errors import ServiceError
from bot.services.events import EventKind
from bot.services.handoff import HandoffReason

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


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def conditions(filters: SearchFilters) -> list[ColumnElement[bool]]:
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


def latest_review_ids() -> Any:
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
        ConversationReview.id.in_(latest_review_ids()),
    )
