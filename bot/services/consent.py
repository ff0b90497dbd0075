"""Consent and contact rules over the database: the opt-out ledger, preferences, and the one
question every sender asks, "may we send this message to this person now?" (rules 4, 9-13)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.contact import (
    Channel,
    ContactContext,
    ContactPolicy,
    Decision,
    Kind,
    Preference,
    Purpose,
    decide,
)
from bot.domain.timezones import consumer_zones
from bot.models import Account, ConsentEvent, ContactPreference, Conversation, Message
from bot.services.events import EventKind, record_event
from bot.services.holds import account_hold_reasons


class ConsentAction(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    CEASE = "cease"  # stop all communication about the debt, every channel
    WRONG_NUMBER = "wrong_number"


_EVENT_FOR_ACTION = {
    ConsentAction.OPT_OUT: EventKind.OPT_OUT,
    ConsentAction.OPT_IN: EventKind.OPT_IN,
    ConsentAction.CEASE: EventKind.CEASE,
    ConsentAction.WRONG_NUMBER: EventKind.WRONG_NUMBER,
}


def record_consent(
    session: Session,
    address: str,
    channel: Channel | str,
    action: ConsentAction,
    *,
    source: str,
    account_id: int | None = None,
    message_id: int | None = None,
    conversation_id: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> ConsentEvent:
    entry = ConsentEvent(
        address=address,
        channel=str(channel),
        action=action.value,
        account_id=account_id,
        source=source,
        message_id=message_id,
        note=note,
    )
    if now is not None:
        entry.created_at = now
    session.add(entry)
    session.flush()
    record_event(
        session,
        _EVENT_FOR_ACTION[action],
        actor=source,
        conversation_id=conversation_id,
        account_id=account_id,
        data={"address_channel": str(channel), "source": source},
        at=now,
    )
    return entry


def _latest(session: Session, address: str, channels: tuple[str, ...], actions: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return session.scalar(
        select(ConsentEvent)
        .where(
            ConsentEvent.address == address,
            ConsentEvent.channel.in_(channels),
            ConsentEvent.action.in_(actions),
        )
        .order_by(ConsentEvent.id.desc())
        .limit(1)
    )


def is_opted_out(session: Session, address: str, channel: Channel | str) -> bool:
    """The address's latest opt-out/opt-in on this channel is an opt-out."""
    last = _latest(
        session,
        address,
        (str(channel),),
        (ConsentAction.OPT_OUT.value, ConsentAction.OPT_IN.value),
    )
    return last is not None and last.action == ConsentAction.OPT_OUT.value


def is_wrong_number(session: Session, address: str, account_id: int) -> bool:
    return (
        session.scalar(
            select(ConsentEvent.id).where(
                ConsentEvent.address == address,
                ConsentEvent.account_id == account_id,
                ConsentEvent.action == ConsentAction.WRONG_NUMBER.value,
            )
        )
        is not None
    )


def has_ceased(session: Session, account_id: int) -> bool:
    return (
        session.scalar(
            select(ConsentEvent.id).where(
                ConsentEvent.account_id == account_id,
                ConsentEvent.action == ConsentAction.CEASE.value,
            )
        )
        is not None
    )


def set_preference(
    session: Session,
    account: Account,
    *,
    actor: str,
    channels: frozenset[Channel] | None = None,
    earliest: time | None = None,
    latest: time | None = None,
    avoid_work_hours: bool = False,
    note: str | None = None,
    conversation_id: str | None = None,
) -> ContactPreference:
    pref = session.scalar(
        select(ContactPreference).where(ContactPreference.account_id == account.id)
    )
    if pref is None:
        pref = ContactPreference(account_id=account.id, updated_by=actor)
        session.add(pref)
    pref.channels = " ".join(sorted(c.value for c in channels)) if channels else None
    pref.earliest = earliest
    pref.latest = latest
    pref.avoid_work_hours = avoid_work_hours
    pref.note = note
    pref.updated_by = actor
    session.flush()
    record_event(
        session,
        EventKind.PREFERENCE,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account.id,
        data={
            "channels": pref.channels,
            "earliest": earliest.isoformat() if earliest else None,
            "latest": latest.isoformat() if latest else None,
            "avoid_work_hours": avoid_work_hours,
        },
    )
    return pref


def preference_of(session: Session, account_id: int) -> Preference | None:
    row = session.scalar(
        select(ContactPreference).where(ContactPreference.account_id == account_id)
    )
    if row is None:
        return None
    return Preference(
        channels=frozenset(Channel(c) for c in row.channels.split()) if row.channels else None,
        earliest=row.earliest,
        latest=row.latest,
        avoid_work_hours=row.avoid_work_hours,
    )


def initiated_sent_at(
    session: Session, account_id: int, *, now: datetime, days: int
) -> tuple[datetime, ...]:
    """When messages we started (not replies) went to this account within the last `days`."""
    since = now - timedelta(days=days)
    rows = session.scalars(
        select(Message.sent_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.account_id == account_id,
            Message.direction == "out",
            Message.initiated.is_(True),
            Message.sent_at.is_not(None),
            Message.sent_at > since,
        )
    )
    return tuple(t for t in rows if t is not None)


def contact_decision(
    session: Session,
    *,
    address: str,
    channel: Channel,
    kind: Kind,
    purpose: Purpose,
    now: datetime,
    account: Account | None = None,
    policy: ContactPolicy | None = None,
) -> Decision:
    """May we send this message to this address now, and if not, why and until when."""
    policy = policy or ContactPolicy()
    if account is not None:
        ctx = ContactContext(
            channel=channel,
            kind=kind,
            purpose=purpose,
            zones=consumer_zones(account.state, account.phone),
            opted_out=is_opted_out(session, address, channel),
            ceased=has_ceased(session, account.id),
            wrong_number=is_wrong_number(session, address, account.id),
            holds=account_hold_reasons(session, account.id),
            preference=preference_of(session, account.id),
            initiated_sent_at=initiated_sent_at(session, account.id, now=now, days=policy.cap_days),
            state=account.state,
        )
    else:  # an unknown person: only the address's own consent is known
        ctx = ContactContext(
            channel=channel,
            kind=kind,
            purpose=purpose,
            zones=consumer_zones(None, address if channel is Channel.SMS else None),
            opted_out=is_opted_out(session, address, channel),
            ceased=False,
            wrong_number=False,
            holds=frozenset(),
            preference=None,
            initiated_sent_at=(),
            state=None,
        )
    return decide(ctx, now, policy)


def conversation_decision(
    session: Session, conversation: Conversation, *, kind: Kind, purpose: Purpose, now: datetime
) -> Decision:
    """May we send this message to the conversation's debtor now (on its channel)?"""
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return contact_decision(
        session,
        address=conversation.address,
        channel=Channel.SMS if conversation.channel == "sms" else Channel.WEB,
        kind=kind,
        purpose=purpose,
        now=now,
        account=account,
    )
