"""Automatic compliance checks over stored conversations. Each check tests one rule of
spec/compliance.md and names the message that breaks it.

What counts, for every check: outbound messages that went out (or may have: "sending"); rows
still queued, blocked by the contact rules, canceled or failed never reached the debtor. A
message's time is when it was sent, else when it was stored.

- contact_window (12): a message the system started, sent outside 8:00-21:00 in any zone the
  consumer may be in (the account's address and phone zones, and the texted number's area
  code; without an account, the number's). Replies are exempt.
- after_opt_out (10): anything sent on SMS while the number was opted out (from its opt-out
  until a later opt-in), or on any channel after the account asked to cease (cease is not
  lifted by an opt-in, as in `consent.has_ceased`). Allowed: the one confirmation (the first
  reply to the message that asked to stop), an answer to HELP/INFO, and crisis resources in
  reply to distress (rule 16), the last two only as compliance replies, as the gateway sends
  them. A second confirmation is a breach.
- disclosure_before_verification (1): a message revealing a debt detail (see
  `bot.domain.disclosure.debt_details`) when no verification was current (passed at or
  before it, less than `VERIFIED_FOR` earlier: the assistant's own gate).
- payment_request_on_hold (14): a collection-purpose message, any other message out that asks
  for payment (`bot.domain.disclosure.payment_requests`: a plan, settlement or payment date
  offered, summed up or reminded, a payment link, "pay now"), or a plan_offered/payment_link
  event, while a hold on the whole account stood (a hold on one charge leaves the rest
  collectible, as `holds.account_hold_reasons` says). An event names the first outbound
  message of its turn.
- missing_opt_out_line (5): on SMS, the conversation's first message out, and every message
  the system started, without "STOP" as an instruction. Web chat promises no STOP keyword
  (the gateway honours it on SMS only), so the check does not apply there. A first message
  sent while the number is already opted out or ceased (the confirmation itself) is exempt.
- human_request_ignored (17): a debtor message the safety net reads as a request for a person,
  with no handoff requested (or open) between it and the debtor's next message; for the last
  message, only once the assistant has answered without one.
- threatening_language (8): a message threatening suit, arrest, garnishment or credit reporting
  (see `bot.domain.disclosure.threats`; negated phrasings are not threats).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.domain.contact import ContactPolicy, Purpose
from bot.domain.disclosure import debt_details, payment_requests, threats
from bot.domain.keywords import Keyword, keyword
from bot.domain.timezones import consumer_zones, zones_for_phone
from bot.domain.verification import VERIFIED_FOR
from bot.gateway import safety
from bot.models import (
    Account,
    ConsentEvent,
    Conversation,
    ConversationEvent,
    Handoff,
    Hold,
    Message,
)
from bot.services.consent import ConsentAction
from bot.services.events import EventKind
from bot.services.handoff import HandoffReason


@dataclass(frozen=True)
class Check:
    code: str  # stable: used in URLs, flags and the API
    rule: str  # the number of the rule in compliance.md
    title: str  # short, for a badge's tooltip and the checks page
    description: str


@dataclass(frozen=True)
class Finding:
    check: str  # Check.code
    rule: str
    message_id: int | None  # the message that breaks the rule (None: the conversation as a whole)
    at: datetime
    detail: str


CHECKS: tuple[Check, ...] = (
    Check("contact_window", "12", "Sent outside the contact window",
          "A message the system started went outside 8:00-21:00 at the consumer's location."),
    Check("after_opt_out", "10", "Sent after opt-out or cease",
          "Something other than the one confirmation went to a number after it opted out or "
          "after the consumer asked us to cease."),
    Check("disclosure_before_verification", "1", "Debt detail before verification",
          "A reply mentioned the debt (amount, creditor, balance) before identity was verified."),
    Check("payment_request_on_hold", "14", "Payment request during a hold",
          "A payment request, plan offer or reminder went while a hold was active."),
    Check("missing_opt_out_line", "5", "First reply without the opt-out line",
          "The first reply of the conversation, or a message the system started, did not say "
          "how to opt out."),
    Check("human_request_ignored", "17", "Request for a person not honoured",
          "The debtor asked for a person and no handoff followed within one turn."),
    Check("threatening_language", "8", "Threatening language",
          "A message from an agent or the bot threatened suit, arrest, garnishment or credit "
          "reporting."),
)  # fmt: skip
CHECKS_BY_CODE = {check.code: check for check in CHECKS}


#: Outbound rows that never reached the debtor.
NOT_SENT = frozenset({"queued", "blocked", "canceled", "failed"})
#: Conversations loaded per round of queries (keeps every IN list well under driver limits).
BATCH = 500
_WINDOW = ContactPolicy()
_OPT_OUT_LINE = re.compile(r"\bSTOP\b")  # the instruction, as the product writes it
_PAYMENT_EVENTS = {
    EventKind.PLAN_OFFERED.value: "a plan offer",
    EventKind.PAYMENT_LINK.value: "a payment link",
}


def run_checks(
    session: Session, conversation_ids: Sequence[str], *, company_name: str | None = None
) -> dict[str, list[Finding]]:
    """The findings of every check for each conversation named (an empty list when clean),
    in message order. Loads what it needs in bulk: a page of search results is one call.
    `company_name`: the name rule 1 allows before verification (default: the settings')."""
    if company_name is None:
        from bot.config import load_settings

        company_name = load_settings().company_name
    ids = list(dict.fromkeys(conversation_ids))
    results: dict[str, list[Finding]] = {conversation_id: [] for conversation_id in ids}
    order = {check.code: n for n, check in enumerate(CHECKS)}
    for start in range(0, len(ids), BATCH):
        for context in _load(session, ids[start : start + BATCH], company_name):
            findings = [f for check in _CHECKERS.values() for f in check(context)]
            findings.sort(key=lambda f: (f.at, f.message_id or 0, order[f.check]))
            results[context.conversation.id] = findings
    return results


def count_by_check(
    session: Session, conversation_ids: Sequence[str], *, company_name: str | None = None
) -> dict[str, int]:
    """How many of the conversations each check flags (every code present, 0 when none)."""
    counts = dict.fromkeys(CHECKS_BY_CODE, 0)
    for findings in run_checks(session, conversation_ids, company_name=company_name).values():
        for code in {f.check for f in findings}:
            counts[code] += 1
    return counts


# ---------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Period:
    """While the number was opted out, or the account had asked to cease."""

    what: str  # "opted out" | "ceased"
    start: datetime
    end: datetime | None  # the opt-in that ended it

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


@dataclass
class _Context:
    """One conversation and everything the checks read about it."""

    conversation: Conversation
    account: Account | None
    messages: list[Message]  # in id order
    events: list[ConversationEvent]
    handoffs: list[Handoff]
    holds: list[Hold]  # on the whole account
    periods: list[_Period]
    company_name: str
    _safety: dict[int, safety.SafetyHit | None] = field(default_factory=dict)

    @cached_property
    def by_id(self) -> dict[int, Message]:
        return {m.id: m for m in self.messages}

    @cached_property
    def sent(self) -> list[Message]:
        """Outbound messages that went out, in the order they went."""
        out = [m for m in self.messages if m.direction == "out" and m.status not in NOT_SENT]
        return sorted(out, key=lambda m: (_when(m), m.id))

    @cached_property
    def verifications(self) -> list[datetime]:
        """Every instant identity was verified (each event; `verified_at` keeps the last)."""
        passed = [e.created_at for e in self.events if e.kind == EventKind.VERIFICATION_PASSED]
        if self.conversation.verified_at is not None:
            passed.append(self.conversation.verified_at)
        return passed

    @cached_property
    def sms(self) -> bool:
        return self.conversation.channel == "sms"

    @cached_property
    def zones(self) -> tuple[str, ...]:
        phone = self.conversation.address if self.sms else None
        if self.account is None:
            return consumer_zones(None, phone)
        zones = set(self.account.zones) | set(
            consumer_zones(self.account.state, self.account.phone)
        )
        zones.update(zones_for_phone(phone) if phone else ())
        return tuple(sorted(zones))

    def safety_hit(self, message: Message) -> safety.SafetyHit | None:
        if message.id not in self._safety:
            self._safety[message.id] = safety.check(message.text)
        return self._safety[message.id]

    def replied(self, message: Message) -> Message | None:
        return self.by_id.get(message.reply_to_id) if message.reply_to_id else None


def _when(message: Message) -> datetime:
    return message.sent_at or message.created_at


def _chunks(values: Iterable[object], size: int = BATCH) -> Iterator[list[object]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load(session: Session, ids: list[str], company_name: str) -> list[_Context]:
    """Everything about these conversations, in seven queries."""
    conversations = list(session.scalars(select(Conversation).where(Conversation.id.in_(ids))))
    if not conversations:
        return []
    messages: dict[str, list[Message]] = defaultdict(list)
    for m in session.scalars(
        select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id)
    ):
        messages[m.conversation_id].append(m)
    events: dict[str, list[ConversationEvent]] = defaultdict(list)
    for e in session.scalars(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id.in_(ids))
        .order_by(ConversationEvent.id)
    ):
        events[str(e.conversation_id)].append(e)
    handoffs: dict[str, list[Handoff]] = defaultdict(list)
    for h in session.scalars(
        select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
    ):
        handoffs[h.conversation_id].append(h)
    account_ids = sorted({c.account_id for c in conversations if c.account_id is not None})
    accounts = {
        a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))
    }
    holds: dict[int, list[Hold]] = defaultdict(list)
    for hold in session.scalars(
        select(Hold)
        .where(Hold.account_id.in_(account_ids), Hold.charge_id.is_(None))
        .order_by(Hold.id)
    ):
        holds[hold.account_id].append(hold)
    addresses = sorted({c.address for c in conversations if c.channel == "sms"})
    consent = list(
        session.scalars(
            select(ConsentEvent)
            .where(
                or_(
                    and_(
                        ConsentEvent.address.in_(addresses),
                        ConsentEvent.channel.in_(("sms", "all")),
                        ConsentEvent.action.in_(
                            (ConsentAction.OPT_OUT.value, ConsentAction.OPT_IN.value)
                        ),
                    ),
                    and_(
                        ConsentEvent.account_id.in_(account_ids),
                        ConsentEvent.action == ConsentAction.CEASE.value,
                    ),
                )
            )
            .order_by(ConsentEvent.created_at, ConsentEvent.id)
        )
    )
    contexts = []
    position = {conversation_id: n for n, conversation_id in enumerate(ids)}
    for c in sorted(conversations, key=lambda c: position[c.id]):
        contexts.append(
            _Context(
                conversation=c,
                account=accounts.get(c.account_id) if c.account_id is not None else None,
                messages=messages[c.id],
                events=events[c.id],
                handoffs=handoffs[c.id],
                holds=holds[c.account_id] if c.account_id is not None else [],
                periods=_periods(c, consent),
                company_name=company_name,
            )
        )
    return contexts


def _periods(conversation: Conversation, consent: list[ConsentEvent]) -> list[_Period]:
    """When nothing but the allowed replies may go to this conversation's debtor."""
    periods: list[_Period] = []
    if conversation.channel == "sms":
        since: datetime | None = None
        for event in consent:
            if event.address != conversation.address or event.action == "cease":
                continue
            if event.action == ConsentAction.OPT_OUT.value and since is None:
                since = event.created_at
            elif event.action == ConsentAction.OPT_IN.value and since is not None:
                periods.append(_Period("opted out", since, event.created_at))
                since = None
        if since is not None:
            periods.append(_Period("opted out", since, None))
    ceased = next(
        (
            e.created_at
            for e in consent
            if e.action == ConsentAction.CEASE.value
            and conversation.account_id is not None
            and e.account_id == conversation.account_id
        ),
        None,
    )
    if ceased is not None:
        periods.append(_Period("ceased", ceased, None))
    return periods


# ---------------------------------------------------------------------------- the checks


def _finding(code: str, message: Message | None, at: datetime, detail: str) -> Finding:
    return Finding(
        check=code,
        rule=CHECKS_BY_CODE[code].rule,
        message_id=message.id if message is not None else None,
        at=at,
        detail=detail,
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _contact_window(ctx: _Context) -> Iterator[Finding]:
    for m in ctx.sent:
        if not m.initiated:
            continue
        when = _when(m)
        outside = [
            f"{local:%H:%M} {zone}"
            for zone in ctx.zones
            if not (_WINDOW.window_start <= (local := when.astimezone(ZoneInfo(zone))).time()
                    < _WINDOW.window_end)
        ]  # fmt: skip
        if outside:
            yield _finding(
                "contact_window", m, when,
                f"a message we started went at {_stamp(when)}: {', '.join(outside)}, "
                "outside 8:00-21:00",
            )  # fmt: skip


def _allowed_after_stop(ctx: _Context, message: Message) -> bool:
    """An answer to HELP, or crisis resources in reply to distress (compliance replies)."""
    if message.purpose != Purpose.COMPLIANCE.value:
        return False
    asked = ctx.replied(message)
    if asked is None:
        return False
    if ctx.sms and keyword(asked.text) is Keyword.HELP:
        return True
    hit = ctx.safety_hit(asked)
    return hit is not None and hit.reason is HandoffReason.DISTRESS


def _confirmations(ctx: _Context) -> set[int]:
    """Per period, the one confirmation: the first reply sent in it to a message from before."""
    found: set[int] = set()
    for period in ctx.periods:
        for m in ctx.sent:
            asked = ctx.replied(m)
            if _when(m) in period and asked is not None and asked.created_at <= period.start:
                found.add(m.id)
                break
    return found


def _after_opt_out(ctx: _Context) -> Iterator[Finding]:
    if not ctx.periods:
        return
    confirmations = _confirmations(ctx)
    for m in ctx.sent:
        when = _when(m)
        period = next(
            (p for p in ctx.periods if when in p and (ctx.sms or p.what == "ceased")), None
        )
        if period is None or m.id in confirmations or _allowed_after_stop(ctx, m):
            continue
        yield _finding(
            "after_opt_out", m, when,
            f"{m.sender} message sent {_stamp(when)}, after the debtor {period.what} at "
            f"{_stamp(period.start)}; only one confirmation may follow",
        )  # fmt: skip


def _verified(ctx: _Context, moment: datetime) -> bool:
    """Whether a verification was current at `moment` (the assistant's own gate)."""
    return any(v <= moment and moment - v < VERIFIED_FOR for v in ctx.verifications)


def _disclosure_before_verification(ctx: _Context) -> Iterator[Finding]:
    account = ctx.account
    for m in ctx.sent:
        when = _when(m)
        details = debt_details(
            m.text,
            creditor=account.creditor if account else None,
            account_ref=account.account_ref if account else None,
            company_name=ctx.company_name,
        )
        if details and not _verified(ctx, when):
            shown = ", ".join(f"{d.kind.value} {d.matched!r}" for d in details)
            yield _finding(
                "disclosure_before_verification", m, when,
                f"{m.sender} message revealed {shown} with no current verification",
            )  # fmt: skip


def _turn_reply(ctx: _Context, moment: datetime) -> Message | None:
    """The first message out at or after `moment`, before the debtor wrote again."""
    for m in ctx.messages:
        if m.created_at < moment:
            continue
        if m.direction == "in":
            return None
        if m.status not in NOT_SENT:
            return m
    return None


def _payment_request_on_hold(ctx: _Context) -> Iterator[Finding]:
    if not ctx.holds:
        return
    requests: list[tuple[datetime, Message | None, str]] = []
    for m in ctx.sent:
        if m.purpose == Purpose.COLLECTION.value:
            requests.append((_when(m), m, "a collection message"))
        elif asks := payment_requests(m.text):  # a reply or an agent's words
            requests.append((_when(m), m, f"a payment request ({asks[0]!r})"))
    for event in ctx.events:
        if event.kind in _PAYMENT_EVENTS:
            reply = _turn_reply(ctx, event.created_at)
            requests.append((event.created_at, reply, _PAYMENT_EVENTS[event.kind]))
    seen: set[int] = set()
    for when, message, what in sorted(requests, key=lambda r: r[0]):
        hold = next(
            (h for h in ctx.holds
             if h.created_at <= when and (h.released_at is None or when < h.released_at)),
            None,
        )  # fmt: skip
        if hold is None or (message is not None and message.id in seen):
            continue
        if message is not None:
            seen.add(message.id)
        yield _finding(
            "payment_request_on_hold", message, when,
            f"{what} at {_stamp(when)} while the account was on a {hold.reason} hold "
            f"(since {_stamp(hold.created_at)})",
        )  # fmt: skip


def _missing_opt_out_line(ctx: _Context) -> Iterator[Finding]:
    if not ctx.sms:
        return
    for n, m in enumerate(ctx.sent):
        if (n > 0 and not m.initiated) or _OPT_OUT_LINE.search(m.text):
            continue
        when = _when(m)
        if any(when in p for p in ctx.periods):
            continue  # already opted out or ceased: the confirmation, nothing to offer
        what = "the first reply of the conversation" if n == 0 else "a message we started"
        yield _finding(
            "missing_opt_out_line", m, when,
            f"{what} did not say how to opt out (Reply STOP to opt out)",
        )  # fmt: skip


def _asks_for_person(ctx: _Context, message: Message) -> str | None:
    """What in the message asks for a person, per the safety net's own patterns; also when a
    more serious reason (distress, attorney...) wins its precedence."""
    hit = ctx.safety_hit(message)
    if hit is None:
        return None
    if hit.reason is HandoffReason.HUMAN_REQUEST:
        return hit.matched
    nlp, matcher = safety._pipeline()
    doc = nlp(message.text[:2000])
    for match_id, start, end in matcher(doc):
        if nlp.vocab.strings[match_id] == HandoffReason.HUMAN_REQUEST.value:
            return str(doc[start:end].text)
    return None


def _handed_off(ctx: _Context, start: datetime, end: datetime | None) -> bool:
    def within(moment: datetime) -> bool:
        return start <= moment and (end is None or moment < end)

    if any(
        e.kind == EventKind.HANDOFF_REQUESTED.value and within(e.created_at) for e in ctx.events
    ):
        return True
    return any(
        within(h.created_at)
        or (h.created_at <= start and (h.closed_at is None or h.closed_at > start))
        for h in ctx.handoffs
    )


def _human_request_ignored(ctx: _Context) -> Iterator[Finding]:
    inbound = [m for m in ctx.messages if m.direction == "in" and m.sender == "debtor"]
    for n, m in enumerate(inbound):
        asked = _asks_for_person(ctx, m)
        if asked is None:
            continue
        following = inbound[n + 1] if n + 1 < len(inbound) else None
        end = following.created_at if following is not None else None
        if _handed_off(ctx, m.created_at, end):
            continue
        if following is None and not any(
            o.sender == "bot" and _when(o) >= m.created_at for o in ctx.sent
        ):
            continue  # the turn may still be under way
        later = "before the debtor's next message" if following else "after the bot answered"
        yield _finding(
            "human_request_ignored", m, m.created_at,
            f"the debtor asked for a person ({asked!r}); no handoff {later}",
        )  # fmt: skip


def _threatening_language(ctx: _Context) -> Iterator[Finding]:
    for m in ctx.sent:
        found = threats(m.text)
        if found:
            shown = ", ".join(f"{t.kind.value} {t.matched!r}" for t in found)
            yield _finding("threatening_language", m, _when(m), f"{m.sender} message: {shown}")


_CHECKERS: dict[str, Callable[[_Context], Iterable[Finding]]] = {
    "contact_window": _contact_window,
    "after_opt_out": _after_opt_out,
    "disclosure_before_verification": _disclosure_before_verification,
    "payment_request_on_hold": _payment_request_on_hold,
    "missing_opt_out_line": _missing_opt_out_line,
    "human_request_ignored": _human_request_ignored,
    "threatening_language": _threatening_language,
}
assert set(_CHECKERS) == set(CHECKS_BY_CODE)
