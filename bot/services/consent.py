"""Consent and contact rules over the database: the opt-out ledger, preferences, and the one
question every sender asks, "may we send this message to this person now?" (rules 4, 9-13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import Integer, String, and_, bindparam, or_, select
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


# What the consent ledger says is decided here, once: each rule is a condition on its rows,
# and `consent_state` asks for all of them in one query (the gateway asks every turn). The
# conditions and queries are built once, with the address, channel and account as parameters.
_OPT_ACTIONS = (ConsentAction.OPT_OUT.value, ConsentAction.OPT_IN.value)
_ADDRESS = bindparam("address", type_=String)
_CHANNEL = bindparam("channel", type_=String)
_ACCOUNT = bindparam("account_id", type_=Integer)

#: The address's opt-outs and opt-ins on the channel: the latest one decides.
_OPT_ROWS = and_(
    ConsentEvent.address == _ADDRESS,
    ConsentEvent.channel == _CHANNEL,
    ConsentEvent.action.in_(_OPT_ACTIONS),
)
#: A request to stop all communication about the account: any one stands.
_CEASE_ROWS = and_(
    ConsentEvent.account_id == _ACCOUNT, ConsentEvent.action == ConsentAction.CEASE.value
)
#: This address reported as not the debtor's, for this account: any one stands.
_WRONG_NUMBER_ROWS = and_(
    ConsentEvent.address == _ADDRESS,
    ConsentEvent.account_id == _ACCOUNT,
    ConsentEvent.action == ConsentAction.WRONG_NUMBER.value,
)
_LEDGER = select(ConsentEvent.action).order_by(ConsentEvent.id.desc())
_STATE_OF_ADDRESS = _LEDGER.where(_OPT_ROWS)
_STATE_WITH_ACCOUNT = _LEDGER.where(or_(_OPT_ROWS, _CEASE_ROWS, _WRONG_NUMBER_ROWS))


@dataclass(frozen=True)
class ConsentState:
    opted_out: bool = False
    ceased: bool = False
    wrong_number: bool = False


def consent_state(
    session: Session, address: str, channel: Channel | str, account_id: int | None
) -> ConsentState:
    """Opted out on this channel, ceased (the account), wrong number (this address for the
    account): one query. Without an account, only the opt-out can apply."""
    params = {"address": address, "channel": str(channel), "account_id": account_id}
    query = _STATE_OF_ADDRESS if account_id is None else _STATE_WITH_ACCOUNT
    actions = session.scalars(query, params).all()
    latest_opt = next((action for action in actions if action in _OPT_ACTIONS), None)
    return ConsentState(
        opted_out=latest_opt == ConsentAction.OPT_OUT.value,
        ceased=ConsentAction.CEASE.value in actions,
        wrong_number=ConsentAction.WRONG_NUMBER.value in actions,
    )


def is_opted_out(session: Session, address: str, channel: Channel | str) -> bool:
    """The address's latest opt-out/opt-in on this channel is an opt-out."""
    return consent_state(session, address, channel, None).opted_out


def is_wrong_number(session: Session, address: str, account_id: int) -> bool:
    params = {"address": address, "account_id": account_id}
    return session.scalar(select(ConsentEvent.id).where(_WRONG_NUMBER_ROWS), params) is not None


def has_ceased(session: Session, account_id: int) -> bool:
    params = {"account_id": account_id}
    return session.scalar(select(ConsentEvent.id).where(_CEASE_ROWS), params) is not None


def set_preference(
    session: Session,
    account: Account,
    *,
    actor: str,
    channels: frozenset[Channel] | None = None,
    earliest: time | None = None,
    latest: time | None = None,
    avoid_work_hours: bool = False,
    avoid_weekends: bool = False,
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
    pref.avoid_weekends = avoid_weekends
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
            "avoid_weekends": avoid_weekends,
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
        avoid_weekends=row.avoid_weekends,
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
    consent: ConsentState | None = None,
) -> Decision:
    """May we send this message to this address now, and if not, why and until when.
    `consent`: the address's consent state, when the caller read it in this transaction."""
    policy = policy or ContactPolicy()
    if consent is None:
        consent = consent_state(session, address, channel, account.id if account else None)
    initiated = kind is not Kind.REPLY
    if account is not None:
        ctx = ContactContext(
            channel=channel,
            kind=kind,
            purpose=purpose,
            zones=consumer_zones(account.state, account.phone),
            opted_out=consent.opted_out,
            ceased=consent.ceased,
            wrong_number=consent.wrong_number,
            holds=account_hold_reasons(session, account.id),
            # rule 12: a reply is decided without the clock, the cap or the preference, so
            # their rows are read for initiated messages only
            preference=preference_of(session, account.id) if initiated else None,
            initiated_sent_at=(
                initiated_sent_at(session, account.id, now=now, days=policy.cap_days)
                if initiated
                else ()
            ),
            state=account.state,
        )
    else:  # an unknown person: only the address's own consent is known
        ctx = ContactContext(
            channel=channel,
            kind=kind,
            purpose=purpose,
            zones=consumer_zones(None, address if channel is Channel.SMS else None),
            opted_out=consent.opted_out,
            ceased=False,
            wrong_number=False,
            holds=frozenset(),
            preference=None,
            initiated_sent_at=(),
            state=None,
        )
    return decide(ctx, now, policy)


def conversation_channel(conversation: Conversation) -> Channel:
    return Channel.SMS if conversation.channel == "sms" else Channel.WEB


def conversation_consent(session: Session, conversation: Conversation) -> ConsentState:
    """The consent state of the conversation's address on its channel, and of its account."""
    return consent_state(
        session, conversation.address, conversation_channel(conversation), conversation.account_id
    )


def conversation_decision(
    session: Session,
    conversation: Conversation,
    *,
    kind: Kind,
    purpose: Purpose,
    now: datetime,
    consent: ConsentState | None = None,
) -> Decision:
    """May we send this message to the conversation's debtor now (on its channel)?
    `consent`: `conversation_consent`, when the caller read it in this transaction."""
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return contact_decision(
        session,
        address=conversation.address,
        channel=conversation_channel(conversation),
        kind=kind,
        purpose=purpose,
        now=now,
        account=account,
        consent=consent,
    )
