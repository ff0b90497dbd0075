"""Retention (rule 20): nothing younger than 3 years after the account's last activity is
removed; `--dry-run` says what would go and removes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain.contact import Channel
from bot.models import (
    Account,
    AuditLog,
    ConsentEvent,
    Conversation,
    ConversationEvent,
    Message,
    TranscriptLink,
)
from bot.services import retention
from bot.services.consent import ConsentAction, is_opted_out, record_consent
from bot.services.events import EventKind, record_event
from tests.conftest import make_account, make_conversation

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=3 * 365 + 30)  # a little over three years
RECENT = NOW - timedelta(days=3 * 365 - 30)  # a little under


def _chat(session: Session, account: Account | None, at: datetime, **kw) -> Conversation:  # type: ignore[no-untyped-def]
    conversation = make_conversation(
        session, account, started_at=at, last_message_at=at, status="closed", **kw
    )
    message = Message(
        conversation_id=conversation.id, direction="in", sender="debtor",
        channel=conversation.channel, text="STOP", status="processed", created_at=at,
    )  # fmt: skip
    session.add(message)
    session.flush()
    record_event(
        session, EventKind.VERIFICATION_PASSED, actor="bot", conversation_id=conversation.id,
        account_id=account.id if account else None, at=at,
    )  # fmt: skip
    return conversation


@pytest.fixture
def old_and_new(session: Session) -> dict[str, Conversation]:
    dormant = make_account(session, last_activity_at=LONG_AGO)
    active = make_account(
        session, account_ref="ACC-100512", phone="+14045550178", last_activity_at=RECENT
    )
    # Dormant for years, but one conversation last year keeps the older one too.
    revived = make_account(
        session, account_ref="ACC-100777", phone="+13125550190", last_activity_at=LONG_AGO
    )
    chats = {
        "dormant": _chat(session, dormant, LONG_AGO),
        "active_old_chat": _chat(session, active, LONG_AGO),
        "revived_old_chat": _chat(session, revived, LONG_AGO),
        "revived_recent_chat": _chat(session, revived, RECENT),
        "anonymous_old": _chat(session, None, LONG_AGO, channel="web", address="web-1"),
        "anonymous_recent": _chat(session, None, RECENT, channel="web", address="web-2"),
    }
    # The opt-out typed in the dormant conversation must outlive its transcript.
    stop = session.scalars(
        select(Message).where(Message.conversation_id == chats["dormant"].id)
    ).one()
    record_consent(
        session, dormant.phone or "", Channel.SMS, ConsentAction.OPT_OUT, source="keyword",
        account_id=dormant.id, conversation_id=chats["dormant"].id, message_id=stop.id,
        now=LONG_AGO,
    )  # fmt: skip
    session.commit()
    return chats


def _ids(session: Session) -> set[str]:
    return set(session.scalars(select(Conversation.id)))


def test_only_transcripts_three_years_past_the_accounts_last_activity_expire(
    session: Session, old_and_new: dict[str, Conversation]
) -> None:
    expired = {item.conversation_id for item in retention.expired(session, NOW)}
    assert expired == {old_and_new["dormant"].id, old_and_new["anonymous_old"].id}


def test_dry_run_lists_what_would_go_and_removes_nothing(
    session: Session, old_and_new: dict[str, Conversation], runner: FlaskCliRunner
) -> None:
    before = _ids(session)
    result = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"would remove conversation {old_and_new['dormant'].id} (account ACC-100234" in (
        result.output
    )
    assert old_and_new["anonymous_old"].id in result.output
    assert old_and_new["revived_old_chat"].id not in result.output
    assert "2 conversations (2 messages)" in result.output
    assert "nothing was removed" in result.output
    session.expire_all()
    assert _ids(session) == before


def test_purge_removes_whole_expired_transcripts_and_keeps_the_opt_out(
    session: Session, old_and_new: dict[str, Conversation], runner: FlaskCliRunner
) -> None:
    before = _ids(session)
    gone = {old_and_new["dormant"].id, old_and_new["anonymous_old"].id}

    result = runner.invoke(args=["retention", "purge"])

    assert result.exit_code == 0, result.output
    assert "removed 2 conversations (2 messages)" in result.output
    session.expire_all()
    assert _ids(session) == before - gone
    for model in (Message, ConversationEvent, TranscriptLink):
        left = session.scalar(
            select(func.count()).select_from(model).where(model.conversation_id.in_(gone))
        )
        assert left == 0, model
    # The consent ledger is kept: the number stays opted out, without its transcript.
    assert is_opted_out(session, "+12065550134", Channel.SMS)
    assert session.scalar(select(ConsentEvent.message_id)) is None
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "retention.purge")).one()
    assert entry.detail["conversations"] == 2
    # What is left is still intact.
    verify = runner.invoke(args=["transcripts", "verify"])
    assert verify.exit_code == 0, verify.output


def test_retention_shorter_than_three_years_is_refused(
    session: Session, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["retention", "purge", "--years", "2"])
    assert result.exit_code != 0
    assert "2 is not in the range x>=3" in result.output
    with pytest.raises(retention.RetentionTooShort):
        retention.cutoff(NOW, 2)


def test_cutoff_on_a_leap_day() -> None:
    assert retention.cutoff(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2025, 2, 28, tzinfo=UTC)
