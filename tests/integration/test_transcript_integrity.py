"""Tamper evidence: every stored message and event is chained as it is written, and
`transcripts verify` names a conversation whose history was changed in the database directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from bot.cli import upgrade_database
from bot.models import AppendOnlyError, Conversation, Message, TranscriptLink
from bot.services.events import EventKind, record_event
from bot.services.integrity import verify_conversation
from tests.conftest import make_account, make_conversation


def _message(session: Session, conversation: Conversation, text_: str, **kw) -> Message:  # type: ignore[no-untyped-def]
    values = {
        "direction": "in",
        "sender": "debtor",
        "channel": conversation.channel,
        "status": "received",
    } | kw
    message = Message(conversation_id=conversation.id, text=text_, **values)
    session.add(message)
    session.flush()
    return message


@pytest.fixture
def chat(session: Session) -> Conversation:
    account = make_account(session)
    conversation = make_conversation(session, account)
    _message(session, conversation, "hi, what do I owe", provider_sid="SM" + "1" * 32)
    _message(session, conversation, "Hi, this is Evergreen. Reply STOP to opt out.",
             direction="out", sender="bot", status="delivered")  # fmt: skip
    record_event(
        session, EventKind.VERIFICATION_PASSED, actor="bot",
        conversation_id=conversation.id, account_id=account.id, data={"factors": ["dob", "zip"]},
    )  # fmt: skip
    _message(session, conversation, "can I pay $100 on friday")
    session.commit()
    return conversation


def _raw(session: Session, sql: str, **params: object) -> None:
    """A change made behind the app's back: plain SQL on the app's own connection."""
    session.execute(text(sql), params)
    session.commit()


def test_every_message_and_event_is_linked_in_the_order_stored(
    session: Session, chat: Conversation
) -> None:
    links = session.scalars(
        select(TranscriptLink)
        .where(TranscriptLink.conversation_id == chat.id)
        .order_by(TranscriptLink.seq)
    ).all()
    assert [(link.seq, link.entry_type) for link in links] == [
        (1, "message"), (2, "message"), (3, "event"), (4, "message"),
    ]  # fmt: skip
    report = verify_conversation(session, chat.id)
    assert report.intact, report.problems
    assert report.entries == 4


def test_delivery_status_updates_do_not_break_the_chain(
    session: Session, chat: Conversation
) -> None:
    outbound = session.scalars(select(Message).where(Message.direction == "out")).one()
    outbound.status = "read"
    outbound.sent_at = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    outbound.provider_sid = "SM" + "9" * 32
    session.commit()
    assert verify_conversation(session, chat.id).intact


def test_links_cannot_be_changed_through_the_app(session: Session, chat: Conversation) -> None:
    link = session.scalars(select(TranscriptLink)).first()
    assert link is not None
    link.digest = "0" * 64
    with pytest.raises(AppendOnlyError):
        session.flush()
    session.rollback()
    with pytest.raises(AppendOnlyError):
        session.execute(delete(TranscriptLink))


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE messages SET text = 'I never said that' WHERE text = 'can I pay $100 on friday'",
         "was changed"),
        ("DELETE FROM transcript_links WHERE seq = 2", "a link is missing"),
        ("UPDATE conversation_events SET data = '{\"factors\": []}'", "was changed"),
        ("UPDATE messages SET created_at = '2020-01-01 00:00:00' WHERE sender = 'bot'",
         "was changed"),
    ],
)  # fmt: skip
def test_verify_names_a_conversation_changed_in_the_database(
    session: Session, chat: Conversation, runner: FlaskCliRunner, tamper: str, problem: str
) -> None:
    other = make_conversation(session, None, address="+13125550190")
    _message(session, other, "hello")
    session.commit()
    _raw(session, tamper)

    result = runner.invoke(args=["transcripts", "verify"])

    assert result.exit_code == 1, result.output
    assert f"TAMPERED conversation {chat.id}" in result.output
    assert problem in result.output
    assert other.id not in result.output
    assert "1 changed outside the app" in result.output


def test_verify_finds_a_deleted_message_and_a_row_inserted_behind_the_apps_back(
    session: Session, chat: Conversation
) -> None:
    # A row written with Core, bypassing the session the chain listens to.
    session.execute(
        insert(Message).values(
            conversation_id=chat.id, direction="out", sender="agent", channel="sms",
            text="pay now", status="sent", created_at=datetime.now(UTC),
        )
    )  # fmt: skip
    session.commit()
    report = verify_conversation(session, chat.id)
    assert [p for p in report.problems if "added outside the app" in p]

    session.execute(
        delete(Message).where(Message.text == "can I pay $100 on friday")
    )  # plain ORM delete of a message: messages are not guarded, the chain catches it
    session.commit()
    report = verify_conversation(session, chat.id)
    assert any("(message" in p and "was deleted" in p for p in report.problems)


def test_verify_passes_on_an_untouched_database(
    session: Session, chat: Conversation, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(args=["transcripts", "verify"])
    assert result.exit_code == 0, result.output
    assert "1 conversations, 4 messages and events checked: every chain intact" in result.output


def test_rewriting_the_whole_chain_consistently_is_still_caught_by_its_start(
    session: Session, chat: Conversation
) -> None:
    """Recomputing a link's digest without recomputing the chain values is detected."""
    from bot.domain import chain

    message = session.scalars(select(Message).where(Message.sender == "bot")).one()
    _raw(session, "UPDATE messages SET text = 'We will sue you' WHERE id = :id", id=message.id)
    session.expire_all()
    forged = {"message": message}
    from bot.models.chained import entry_digest

    _raw(
        session,
        "UPDATE transcript_links SET digest = :d WHERE entry_type = 'message' AND entry_id = :id",
        d=entry_digest(forged["message"]),
        id=message.id,
    )
    report = verify_conversation(session, chat.id)
    assert any("chain was rewritten" in p for p in report.problems)
    assert chain.genesis(chat.id) != chain.genesis(chat.id + "x")


def test_the_migration_chains_transcripts_stored_before_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_database(url, "0003")
    engine = create_engine(url)
    at = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, channel, address, status, verification_failures,"
                " verification_locked, started_at, last_message_at) VALUES"
                " ('c1', 'sms', '+12065550134', 'bot', 0, 0, :at, :at)"
            ),
            {"at": at.replace(tzinfo=None)},
        )
        for i, (direction, sender) in enumerate([("in", "debtor"), ("out", "bot")]):
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, direction, sender, channel, text,"
                    " status, initiated, purpose, attempts, created_at)"
                    " VALUES ('c1', :d, :s, 'sms', :t, 'sent', 0, 'general', 0, :at)"
                ),
                {"d": direction, "s": sender, "t": f"message {i}",
                 "at": (at + timedelta(seconds=i)).replace(tzinfo=None)},
            )  # fmt: skip
    engine.dispose()

    upgrade_database(url)

    engine = create_engine(url)
    with Session(engine) as session:
        report = verify_conversation(session, "c1")
        assert report.intact, report.problems
        assert report.entries == 2
        session.execute(update(Message).where(Message.text == "message 0").values(text="edited"))
        session.commit()
        assert not verify_conversation(session, "c1").intact
    engine.dispose()


def test_concurrent_writers_to_one_conversation_each_get_their_own_link(
    database_url: str, session: Session, chat: Conversation
) -> None:
    """Gateway, action server and agent console write to one conversation at once: every row
    is linked once, in one unbroken chain (PostgreSQL locks the conversation row; SQLite
    serializes writers)."""
    import threading

    from bot.db import session_factory

    sessions = session_factory(database_url)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            for i in range(5):
                with sessions.begin() as s:
                    s.add(
                        Message(
                            conversation_id=chat.id, direction="out", sender="bot",
                            channel="sms", text=f"writer {n} message {i}", status="queued",
                        )
                    )  # fmt: skip
                    if i % 2:
                        record_event(s, EventKind.AGENT_NOTE, actor=f"agent:{n}",
                                     conversation_id=chat.id, data={"i": i})  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    report = verify_conversation(session, chat.id)
    assert report.intact, report.problems
    assert report.entries == 4 + 4 * (5 + 2)
