"""One conversation for review: its messages and events in the order they happened, in the
debtor's local time, with the checks each message broke, its reviews and whether its hash
chain is intact."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

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
from bot.services.compliance_checks import Finding
from bot.services.conversations import events_of, messages_of
from bot.services.errors import NotFound
from bot.services.integrity import ChainReport, verify_conversation
from bot.services.transcripts.summaries import ReviewInfo, Summary, finding_dict, summarize


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

    def local(at: datetime) -> datetime | None:
        return at.astimezone(zone) if zone else None

    entries: list[Entry] = []
    for message in messages_of(session, conversation_id):
        entries.append(
            Entry(
                "message", message.id, message.created_at, local(message.created_at),
                message=message,
                agent=agents.get(message.agent_id) if message.agent_id else None,
                findings=tuple(by_message.get(message.id, ())),
            )
        )  # fmt: skip
    for event in events_of(session, conversation_id):
        entries.append(
            Entry(
                "event", event.id, event.created_at, local(event.created_at),
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
