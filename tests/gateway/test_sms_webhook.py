"""POST /twilio/sms and /twilio/status through the real Flask app and the real gateway, over
SQLite (and PostgreSQL when TEST_DATABASE_URL is set). Rasa is on a closed port unless a test
swaps in a stub for it; what the debtor reads (TwiML) and what the database holds are checked."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.domain.contact import HoldReason
from bot.domain.dates import format_date
from bot.models import Account, ConsentEvent, Conversation, Handoff, Hold, Message
from bot.services.cases import hold_for_escalation
from bot.wording import render
from tests.gateway.conftest import (
    JAMES,
    MARIA,
    RASA_REPLY,
    StubRasa,
    counts,
    handoffs,
    make_app,
    messages,
    new_sid,
    post_signed,
    post_sms,
    sms_params,
    twiml_bodies,
)

pytestmark = pytest.mark.integration

OPT_OUT_LINE = "Reply STOP to opt out."
HOLDING = render("utter_holding")
OPT_OUT_CONFIRMED = "You're unsubscribed"


def say(client: FlaskClient, body: str, frm: str = MARIA, sid: str | None = None) -> list[str]:
    response = post_sms(client, body, frm=frm, sid=sid)
    assert response.status_code == 200, response.get_data(as_text=True)
    return twiml_bodies(response)


def inbound(db: Session, sid: str) -> list[Message]:
    return messages(db, provider_sid=sid)


def replies_to(db: Session, message_id: int) -> list[Message]:
    return messages(db, reply_to_id=message_id)


def opt_events(db: Session, phone: str) -> list[ConsentEvent]:
    db.expire_all()
    return list(
        db.scalars(
            select(ConsentEvent).where(ConsentEvent.address == phone).order_by(ConsentEvent.id)
        )
    )


def holds(db: Session, account_id: int) -> set[str]:
    db.expire_all()
    return set(
        db.scalars(
            select(Hold.reason).where(Hold.account_id == account_id, Hold.released_at.is_(None))
        )
    )


# ---------------------------------------------------------------- idempotency (rule 21)


def test_retried_message_sid_is_stored_once_and_answered_the_same(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    sid = new_sid()
    first = say(client, "hi", sid=sid)
    assert first and first[0].startswith("Hi! How can I help?")
    for _ in range(3):
        assert say(client, "hi", sid=sid) == first
    [row] = inbound(db, sid)
    assert row.direction == "in" and row.text == "hi"
    assert len(replies_to(db, row.id)) == 1
    assert len(rasa.sent) == 1  # the retry never reached the assistant again


def test_retried_message_sid_rasa_down_same_holding_reply(client: FlaskClient, db: Session) -> None:
    sid = new_sid()
    first = say(client, "hi", sid=sid)
    assert first == [f"{HOLDING}\n{OPT_OUT_LINE}"]
    assert say(client, "hi", sid=sid) == first
    assert len(inbound(db, sid)) == 1
    assert len(handoffs(db)) == 1


def _concurrent(app: Flask, params: dict[str, str], n: int = 5) -> list[Any]:
    from tests.gateway.conftest import SMS_URL, sign

    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    signature = sign(SMS_URL, params)

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        try:
            response = client.post(
                "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
            )
            results[i] = (response.status_code, response.get_data(as_text=True))
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("stub", [True, False], ids=["rasa-up", "rasa-down"])
def test_concurrent_retries_store_one_row_and_one_set_of_replies(
    app: Flask, db: Session, stub: bool
) -> None:
    if stub:
        app.extensions["gateway"].rasa = StubRasa()
    params = sms_params("hi")
    results = _concurrent(app, params)
    assert all(isinstance(r, tuple) for r in results), results
    # One answers; a copy that arrives while that turn runs is asked to retry (503), and one
    # that arrives after it gets the same answer again (200): never a second turn.
    codes = sorted(r[0] for r in results)
    assert codes.count(200) >= 1 and set(codes) <= {200, 503}, results
    [row] = inbound(db, params["MessageSid"])
    out = replies_to(db, row.id)
    assert len(out) <= 1
    assert len(messages(db, direction="out")) == len(out)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Conversation)) == 1
    assert len(handoffs(db)) == (0 if stub else 1)


# ---------------------------------------------------------------- keywords (rules 9-10)


@pytest.mark.parametrize(
    "word",
    [
        "STOP", "stop", "Stop.", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
        "OPTOUT", " stop! ", "Opt Out", "ＳＴＯＰ",
    ],
)  # fmt: skip
def test_stop_keywords_opt_out_with_one_confirmation(
    client: FlaskClient, db: Session, rasa: StubRasa, word: str
) -> None:
    replies = say(client, word)
    assert len(replies) == 1 and replies[0].startswith(OPT_OUT_CONFIRMED)
    assert [e.action for e in opt_events(db, MARIA)] == ["opt_out"]
    assert rasa.sent == []  # decided before any model


def test_second_stop_gets_no_reply_and_later_messages_are_stored_silently(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    assert len(say(client, "STOP")) == 1
    assert say(client, "STOP") == []
    assert say(client, "stop texting me") == []
    sid = new_sid()
    assert say(client, "hi what do i owe", sid=sid) == []
    [row] = inbound(db, sid)
    assert row.text == "hi what do i owe"
    assert replies_to(db, row.id) == []
    assert rasa.sent == []
    assert [e.action for e in opt_events(db, MARIA)] == ["opt_out"]
    confirmations = [m for m in messages(db, direction="out") if m.status != "blocked"]
    assert len(confirmations) == 1


def test_start_resubscribes_with_a_confirmation(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    say(client, "STOP")
    [confirmation] = say(client, "START")
    assert "subscribed again" in confirmation and "Evergreen Health Billing" in confirmation
    assert [e.action for e in opt_events(db, MARIA)] == ["opt_out", "opt_in"]
    replies = say(client, "hi")
    assert replies and replies[0].startswith("Hi! How can I help?")


@pytest.mark.parametrize("word", ["HELP", "help", "Info", "INFO."])
def test_help_answers_company_support_and_opt_out(
    client: FlaskClient, db: Session, rasa: StubRasa, word: str
) -> None:
    [reply] = say(client, word)
    assert "Evergreen Health Billing" in reply
    assert "(800) 555-0199" in reply
    assert "Reply STOP to opt out" in reply
    assert opt_events(db, MARIA) == []
    assert rasa.sent == []


def test_help_after_stop_is_still_answered(client: FlaskClient, rasa: StubRasa) -> None:
    say(client, "STOP")
    [reply] = say(client, "HELP")
    assert "(800) 555-0199" in reply


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "no más",
        "No mas por favor",
        "leave me alone",
        "don't text me anymore",
        "take me off your list",
    ],
)
def test_plain_language_opt_outs(
    client: FlaskClient, db: Session, rasa: StubRasa, text: str
) -> None:
    replies = say(client, text)
    assert len(replies) == 1 and replies[0].startswith(OPT_OUT_CONFIRMED)
    assert [e.action for e in opt_events(db, MARIA)] == ["opt_out"]
    assert rasa.sent == []


@pytest.mark.parametrize(
    "text", ["stopping by to pay later", "can I stop my payment plan", "what is the end date"]
)
def test_not_opt_outs(client: FlaskClient, db: Session, rasa: StubRasa, text: str) -> None:
    replies = say(client, text)
    assert replies and not replies[0].startswith(OPT_OUT_CONFIRMED)
    assert opt_events(db, MARIA) == []
    assert [t for _, t in rasa.sent] == [text]


# ---------------------------------------------------------------- safety net (rules 15-17)


def test_distress_gets_988_urgent_handoff_and_hold(
    client: FlaskClient, db: Session, maria: Account, rasa: StubRasa
) -> None:
    [reply] = say(client, "i want to end my life")
    assert "988" in reply and "911" in reply
    [handoff] = handoffs(db)
    assert handoff.reason == "distress" and handoff.urgent
    assert HoldReason.DISTRESS.value in holds(db, maria.id)
    assert rasa.sent == []
    assert rasa.paused == [handoff.conversation_id]


@pytest.mark.parametrize(
    ("text", "reason", "hold"),
    [
        ("my attorney will handle this", "attorney", HoldReason.ATTORNEY),
        ("I filed chapter 13", "bankruptcy", HoldReason.BANKRUPTCY),
        ("can I talk to a real person", "human_request", None),
    ],
)
def test_safety_net_hands_off(
    client: FlaskClient,
    db: Session,
    maria: Account,
    rasa: StubRasa,
    text: str,
    reason: str,
    hold: HoldReason | None,
) -> None:
    replies = say(client, text)
    assert len(replies) == 1 and replies[0]
    [handoff] = handoffs(db)
    assert handoff.reason == reason and not handoff.urgent
    assert holds(db, maria.id) == ({hold.value} if hold else set())
    assert rasa.sent == []


def test_asking_for_a_person_while_the_team_is_away_says_when_they_are_back(
    db: Session, database_url: str, tmp_path: Path
) -> None:
    """11 pm, 'can I talk to a real person': not 'They'll reply here shortly' when nobody is
    in, but when they will be (the team's hours, TEAM_HOURS, in its zone)."""
    away_day = (utcnow().weekday() + 3) % 7  # the team is in on that day only: not today
    day_name = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[away_day]
    app = make_app(
        database_url, tmp_path / "var", team_hours=f"{day_name} 10:00-11:00", team_timezone="UTC"
    )
    app.extensions["gateway"].rasa = StubRasa()
    [reply] = say(app.test_client(), "can I talk to a real person")
    assert "shortly" not in reply
    assert reply.startswith("Of course. Our team is away right now, so a member of the team")
    back = utcnow().date() + timedelta(days=3)
    assert f"will reply here from {format_date(back, utcnow().date())} at 10:00 AM UTC" in reply
    [handoff] = handoffs(db)
    assert handoff.reason == "human_request"


def test_rasa_is_paused_after_the_message_and_the_handoff_are_stored(
    app: Flask, client: FlaskClient, rasa: StubRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pausing Rasa is an HTTP call: made once the turn is committed, so no transaction (and
    no SQLite write lock) is held over it, and a process that dies in it has lost nothing."""
    seen: list[tuple[int, int]] = []

    def pause(sender: str, *, timeout: float = 5) -> None:
        with app.extensions["gateway"].sessions() as other:  # what another request would see
            seen.append(
                (
                    other.scalar(select(func.count()).select_from(Message)) or 0,
                    other.scalar(select(func.count(Handoff.id))) or 0,
                )
            )

    monkeypatch.setattr(rasa, "pause", pause)
    [reply] = say(client, "my attorney will handle this")
    assert reply and len(seen) == 1
    messages_then, handoffs_then = seen[0]
    assert messages_then == 2 and handoffs_then == 1  # the text and its reply; the handoff


def test_conversation_in_handoff_bot_stays_silent(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    say(client, "can I talk to a real person")
    sid = new_sid()
    assert say(client, "hello? how much do I owe", sid=sid) == []
    [row] = inbound(db, sid)
    assert row.text == "hello? how much do I owe"
    assert replies_to(db, row.id) == []
    assert rasa.sent == []
    assert len(handoffs(db)) == 1


def test_distress_during_handoff_still_gets_crisis_resources(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    say(client, "can I talk to a real person")
    [reply] = say(client, "i want to end my life")
    assert "988" in reply
    [handoff] = handoffs(db)
    assert handoff.urgent and handoff.reason == "distress"


# ---------------------------------------------------------------- redaction (rule 18)


def test_card_and_ssn_are_stored_masked(client: FlaskClient, db: Session, rasa: StubRasa) -> None:
    body = "my card is 4111 1111 1111 1111 and my ssn is 123-45-6789"
    sid = new_sid()
    say(client, body, sid=sid)
    [row] = inbound(db, sid)
    assert "1111" in row.text and "6789" in row.text
    for text in [m.text for m in messages(db)] + [t for _, t in rasa.sent]:
        for secret in ("4111 1111 1111 1111", "4111111111111111", "123-45-6789", "123456789"):
            assert secret not in text
    assert rasa.sent and "[card ending 1111]" in rasa.sent[0][1]


def test_retry_of_a_redacted_message_is_a_duplicate(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    sid = new_sid()
    first = say(client, "pay with 4111111111111111", sid=sid)
    assert say(client, "pay with 4111111111111111", sid=sid) == first
    assert len(inbound(db, sid)) == 1


def test_a_card_number_is_answered_with_why_it_was_removed_then_the_assistant(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    """The debtor who texts a card number hears that it was removed and that cards are not
    taken here, before the assistant's answer; an SSN (read for verification) is not."""
    notice = render("utter_no_card_numbers")
    said = "\n".join(say(client, "can I pay with 4111-1111-1111-1111 exp 12/28"))
    assert said.startswith(notice) and RASA_REPLY in said
    assert notice not in "\n".join(say(client, "my ssn is 123-45-6789"))
    assert notice not in "\n".join(say(client, "how much do I owe"))
    stored = [m.text for m in messages(db) if m.direction == "out"]
    assert sum(notice in text for text in stored) == 1


# ---------------------------------------------------------------- Rasa down


def test_rasa_down_one_holding_reply_a_failure_handoff_nothing_lost(
    client: FlaskClient, db: Session
) -> None:
    sid1, sid2 = new_sid(), new_sid()
    assert say(client, "hi", sid=sid1) == [f"{HOLDING}\n{OPT_OUT_LINE}"]
    assert say(client, "hello? anyone there", sid=sid2) == []
    assert say(client, "how much do i owe") == []
    [handoff] = handoffs(db)
    assert handoff.reason == "failure"
    assert inbound(db, sid1)[0].text == "hi"
    assert inbound(db, sid2)[0].text == "hello? anyone there"
    assert len(messages(db, direction="in")) == 3
    assert len(messages(db, direction="out")) == 1


# ---------------------------------------------------------------- outbound rules (rules 5, 22)


def test_first_reply_of_a_conversation_has_the_opt_out_line(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    [first] = say(client, "hi")
    assert first.endswith(OPT_OUT_LINE)
    [second] = say(client, "and then?")
    assert OPT_OUT_LINE not in second
    [james] = say(client, "hi", frm=JAMES)  # another number: its own conversation
    assert james.endswith(OPT_OUT_LINE)


def test_new_conversation_after_idle_gets_the_opt_out_line_again(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    say(client, "hi")
    db.expire_all()
    conversation = db.scalar(select(Conversation))
    assert conversation is not None
    conversation.last_message_at = utcnow() - timedelta(hours=25)
    db.commit()
    [reply] = say(client, "hi again")
    assert reply.endswith(OPT_OUT_LINE)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Conversation)) == 2


def test_long_replies_are_split_under_1600_characters(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    rasa.replies = ["a" * 1000, "b" * 1000, "\u201cquoted\u201d \u2014 done\u2026"]
    replies = say(client, "hi")
    assert len(replies) >= 2
    assert all(len(r) <= 1600 for r in replies)
    assert '"quoted" - done...' in replies[-1]


# ---------------------------------------------------------------- bad input


def test_empty_body_is_answered_and_stored(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    sid = new_sid()
    replies = say(client, "", sid=sid)
    assert replies
    [row] = inbound(db, sid)
    assert row.text == ""


def test_missing_body_parameter_is_answered(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    params = sms_params("x")
    del params["Body"]
    response = post_signed(client, "/twilio/sms", params)
    assert response.status_code == 200
    assert len(inbound(db, params["MessageSid"])) == 1


def test_5000_character_body(client: FlaskClient, db: Session, rasa: StubRasa) -> None:
    sid = new_sid()
    body = ("word " * 1000)[:5000]
    assert say(client, body, sid=sid)
    [row] = inbound(db, sid)
    assert row.text == body


@pytest.mark.parametrize(
    "body",
    ["😀👍🏽 can I pay 💵", "مرحبا، كم أدين؟", "שלום \u202ehello\u202c", "é" * 10 + "\u0301"],
    ids=["emoji", "arabic", "hebrew-bidi", "combining"],
)
def test_unicode_bodies(client: FlaskClient, db: Session, rasa: StubRasa, body: str) -> None:
    sid = new_sid()
    assert say(client, body, sid=sid)
    [row] = inbound(db, sid)
    assert row.text == body
    assert rasa.sent[-1][1] == body


def test_nul_character_in_body_is_not_a_500(
    client: FlaskClient, db: Session, rasa: StubRasa, database_url: str, request: Any
) -> None:
    sid = new_sid()
    response = post_sms(client, "hi\x00there", sid=sid)
    assert response.status_code in (200, 400)
    assert len(inbound(db, sid)) == (1 if response.status_code == 200 else 0)


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
@pytest.mark.parametrize("how", ["absent", "blank"])
def test_missing_sid_or_from_is_400_and_nothing_stored(
    client: FlaskClient, db: Session, rasa: StubRasa, missing: str, how: str
) -> None:
    params = sms_params("hi")
    if how == "absent":
        del params[missing]
    else:
        params[missing] = "  "
    before = counts(db)
    response = post_signed(client, "/twilio/sms", params)
    assert response.status_code == 400
    assert counts(db) == before
    assert rasa.sent == []


def test_unknown_number_and_odd_from(client: FlaskClient, db: Session, rasa: StubRasa) -> None:
    for frm in ("+15555550100", "2065550134", "whatsapp:+12065550134", "x" * 200):
        assert say(client, "hi", frm=frm)
    assert len(messages(db, direction="in")) == 4


def test_very_long_message_sid_is_not_a_500(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    sid = "SM" + "f" * 200
    assert post_sms(client, "hi", sid=sid).status_code == 200
    assert post_sms(client, "hi", sid=sid).status_code == 200
    assert len(messages(db, direction="in")) == 1


# ---------------------------------------------------------------- status callbacks (rule 23)


@pytest.fixture
def outbound_sid(db: Session, maria: Account) -> str:
    conversation = Conversation(
        id="c" * 32, channel="sms", address=MARIA, account_id=maria.id, status="bot"
    )
    db.add(conversation)
    db.flush()
    db.add(
        Message(
            conversation_id=conversation.id,
            direction="out",
            sender="bot",
            channel="sms",
            text="Your payment is due.",
            provider_sid="SM" + "e" * 32,
            status="queued",
        )
    )
    db.commit()
    return "SM" + "e" * 32


def status(client: FlaskClient, sid: str, value: str, **extra: str):  # type: ignore[no-untyped-def]
    params = {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC" + "0" * 32, **extra}
    return post_signed(client, "/twilio/status", params)


def status_of(db: Session, sid: str) -> tuple[str, str | None]:
    [row] = messages(db, provider_sid=sid)
    return row.status, row.error


def test_status_advances(client: FlaskClient, db: Session, outbound_sid: str) -> None:
    for value in ("queued", "sent", "delivered"):
        assert status(client, outbound_sid, value).status_code == 204
        assert status_of(db, outbound_sid)[0] == value


def test_late_sent_never_overwrites_delivered(
    client: FlaskClient, db: Session, outbound_sid: str
) -> None:
    assert status(client, outbound_sid, "delivered").status_code == 204
    for late in ("sent", "queued", "sending", "Sent"):
        assert status(client, outbound_sid, late).status_code == 204
        assert status_of(db, outbound_sid)[0] == "delivered"


def test_failed_records_the_error(client: FlaskClient, db: Session, outbound_sid: str) -> None:
    status(client, outbound_sid, "sent")
    status(client, outbound_sid, "undelivered", ErrorCode="30003")
    assert status_of(db, outbound_sid) == ("undelivered", "twilio error 30003")
    status(client, outbound_sid, "delivered")  # a final status is never replaced
    assert status_of(db, outbound_sid)[0] == "undelivered"


def test_unknown_sid_or_status_is_a_no_op(
    client: FlaskClient, db: Session, outbound_sid: str
) -> None:
    before = counts(db)
    assert status(client, "SM" + "0" * 32, "delivered").status_code == 204
    assert status(client, outbound_sid, "exploded").status_code == 204
    assert counts(db) == before
    assert status_of(db, outbound_sid)[0] == "queued"


def test_status_missing_fields_is_400(client: FlaskClient, outbound_sid: str) -> None:
    response = post_signed(client, "/twilio/status", {"MessageSid": outbound_sid})
    assert response.status_code == 400


def test_unsigned_status_is_403(client: FlaskClient, db: Session, outbound_sid: str) -> None:
    params = {"MessageSid": outbound_sid, "MessageStatus": "delivered"}
    assert client.post("/twilio/status", data=params).status_code == 403
    assert status_of(db, outbound_sid)[0] == "queued"


# ---------------------------------------------------------------- replies held back by the rules


def test_retry_never_sends_a_reply_the_rules_blocked(
    client: FlaskClient, db: Session, maria: Account, rasa: StubRasa
) -> None:
    """An attorney hold allows only compliance messages (rule 15): the assistant's answer is
    stored as blocked and not sent, and Twilio's retry of the same MessageSid must not send
    it either."""
    hold_for_escalation(db, maria, HoldReason.ATTORNEY, actor="agent:test")
    db.commit()
    rasa.replies = ["Your balance is $1,369.37."]
    sid = new_sid()
    assert say(client, "how much do i owe", sid=sid) == []
    [row] = inbound(db, sid)
    assert [m.status for m in replies_to(db, row.id)] == ["blocked"]
    assert say(client, "how much do i owe", sid=sid) == []


class DistressRasa(StubRasa):
    """Rasa's model caught distress the safety net missed: the action server hands off for
    distress during the turn and answers with crisis resources."""

    def __init__(self, app: Flask) -> None:
        super().__init__([render("utter_distress")])
        self.app = app

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        from bot.db import session_factory
        from bot.services.handoff import HandoffReason, request_handoff

        url = self.app.extensions["settings"].database_url
        with session_factory(url).begin() as session:
            conversation = session.get(Conversation, sender)
            assert conversation is not None
            request_handoff(session, conversation, HandoffReason.DISTRESS, now=utcnow())
        return super().send(sender, text, metadata=metadata, timeout=timeout)


def test_crisis_resources_from_the_model_go_even_under_an_attorney_hold(
    app: Flask, client: FlaskClient, db: Session, maria: Account
) -> None:
    """Rule 16 over rule 15: the hold blocks ordinary answers, never crisis resources."""
    hold_for_escalation(db, maria, HoldReason.ATTORNEY, actor="agent:test")
    db.commit()
    app.extensions["gateway"].rasa = DistressRasa(app)
    sid = new_sid()
    replies = say(client, "everything feels pointless lately", sid=sid)
    assert replies and "988" in replies[0]
    [row] = inbound(db, sid)
    [reply] = replies_to(db, row.id)
    assert reply.status == "sent" and reply.purpose == "compliance"


class SlowRasa(StubRasa):
    def __init__(self, delay: float) -> None:
        super().__init__(["Your balance is $1,369.37."])
        self.delay = delay

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        time.sleep(self.delay)
        return super().send(sender, text, metadata=metadata, timeout=timeout)


def _wait_for(predicate: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_slow_rasa_reply_is_queued_for_the_outbox(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    gateway = app.extensions["gateway"]
    gateway.rasa, gateway.deadline = SlowRasa(0.6), 0.1
    sid = new_sid()
    assert say(client, "how much do i owe", sid=sid) == []  # acknowledged within the limit
    [row] = inbound(db, sid)
    _wait_for(lambda: len(replies_to(db, row.id)) == 1)
    [reply] = replies_to(db, row.id)
    assert reply.status == "queued" and reply.next_attempt_at is not None
    assert reply.text == f"Your balance is $1,369.37.\n{OPT_OUT_LINE}"


def test_retry_after_a_late_reply_does_not_send_it_twice(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    """The late reply is queued for the outbox (Twilio REST); answering Twilio's retry with it
    in TwiML as well would deliver it twice."""
    gateway = app.extensions["gateway"]
    gateway.rasa, gateway.deadline = SlowRasa(0.6), 0.1
    sid = new_sid()
    assert say(client, "how much do i owe", sid=sid) == []
    [row] = inbound(db, sid)
    _wait_for(lambda: len(replies_to(db, row.id)) == 1)
    assert say(client, "how much do i owe", sid=sid) == []


# ---------------------------------------------------------------- order of the rules


def test_stop_during_a_handoff_still_opts_out(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    say(client, "can I talk to a real person")
    [reply] = say(client, "STOP")
    assert reply.startswith(OPT_OUT_CONFIRMED)
    assert [e.action for e in opt_events(db, MARIA)] == ["opt_out"]


def test_distress_after_stop_still_gets_crisis_resources_and_a_person(
    client: FlaskClient, db: Session, maria: Account, rasa: StubRasa
) -> None:
    """Rule 16 over rule 10: crisis resources are a compliance reply the contact rules allow
    after an opt-out (bot/domain/contact.py Purpose.COMPLIANCE), and a person must see it."""
    say(client, "STOP")
    sid = new_sid()
    replies = say(client, "i want to end my life", sid=sid)
    [handoff] = handoffs(db)
    assert handoff.reason == "distress" and handoff.urgent
    assert HoldReason.DISTRESS.value in holds(db, maria.id)
    assert replies and "988" in replies[0]


def test_concurrent_first_messages_from_one_number_share_one_conversation(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two texts sent together by one person arrive as concurrent webhooks. (The account
    lookup is slowed down to make the race window deterministic.)"""
    from bot.gateway import pipeline
    from tests.gateway.conftest import SMS_URL, sign

    real = pipeline.account_for_phone

    def slow_account_for_phone(session: Session, phone: str) -> Account | None:
        time.sleep(0.3)
        return real(session, phone)

    monkeypatch.setattr(pipeline, "account_for_phone", slow_account_for_phone)
    app.extensions["gateway"].rasa = StubRasa()
    n = 4
    barrier = threading.Barrier(n)
    codes: list[Any] = [None] * n

    def worker(i: int) -> None:
        params = sms_params(f"message {i}")
        client = app.test_client()
        barrier.wait()
        try:
            response = client.post(
                "/twilio/sms", data=params, headers={"X-Twilio-Signature": sign(SMS_URL, params)}
            )
            codes[i] = response.status_code
        except Exception as exc:
            codes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert codes == [200] * n
    assert len(messages(db, direction="in")) == n
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Conversation)) == 1


def test_retry_after_a_crash_mid_turn_is_processed(
    client: FlaskClient, db: Session, rasa: StubRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker dies after storing the message (here: the safety net raises once); Twilio
    retries the same MessageSid, and that retry must be processed, not lost."""
    from bot.gateway import pipeline

    real, calls = pipeline.safety.check, []

    def flaky_check(text: str):  # type: ignore[no-untyped-def]
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("worker crashed")
        return real(text)

    monkeypatch.setattr(pipeline.safety, "check", flaky_check)
    sid = new_sid()
    with pytest.raises(RuntimeError):
        post_sms(client, "how much do i owe", sid=sid)
    [row] = inbound(db, sid)  # kept, though its turn went back: marked for the retry
    assert row.status == "failed" and replies_to(db, row.id) == []
    replies = say(client, "how much do i owe", sid=sid)
    db.expire_all()
    [row] = inbound(db, sid)
    assert replies and replies[0].startswith("Hi! How can I help?")
    assert len(replies_to(db, row.id)) == 1
    assert row.status == "processed"


def test_screening_a_text_keeps_no_one_else_waiting(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net screens a text before its transaction, not inside it: while one text is
    screened (a worker's first one builds the spaCy pipeline, most of a second), another
    person's text is stored and answered. (On SQLite the write lock is the whole database's.)"""
    from bot.gateway import pipeline

    real = pipeline.safety.check
    screening, release = threading.Event(), threading.Event()

    def slow_check(text: str):  # type: ignore[no-untyped-def]
        if text == "first text":
            screening.set()
            release.wait(10)
        return real(text)

    monkeypatch.setattr(pipeline.safety, "check", slow_check)
    app.extensions["gateway"].rasa = StubRasa()
    answers: dict[str, Any] = {}

    def send(body: str, frm: str) -> None:
        answers[frm] = post_sms(app.test_client(), body, frm=frm)

    first = threading.Thread(target=send, args=("first text", MARIA))
    first.start()
    try:
        assert screening.wait(10)
        other = threading.Thread(target=send, args=("hello", JAMES))
        other.start()
        other.join(5)  # while Maria's text is still being screened
        assert JAMES in answers and answers[JAMES].status_code == 200
        assert twiml_bodies(answers[JAMES])
    finally:
        release.set()
        first.join(10)
    assert answers[MARIA].status_code == 200
    assert len(messages(db, direction="in")) == 2


def test_a_closed_web_conversation_is_never_reopened(app: Flask, db: Session) -> None:
    from bot.gateway.turns import Inbound
    from bot.models import Conversation

    db.add(Conversation(id="c" * 32, channel="web", address="browser-1", status="closed"))
    db.commit()
    outcome = app.extensions["gateway"].handle(
        Inbound(channel="web", address="browser-1", text="hi again", conversation_id="c" * 32)
    )
    assert outcome.conversation_id != "c" * 32
    db.expire_all()
    assert db.get(Conversation, "c" * 32).status == "closed"
    assert db.get(Conversation, outcome.conversation_id).status != "closed"


# ---------------------------------------------------------------- turns that die


def test_rasa_saying_nothing_because_its_actions_cannot_run_gets_the_holding_reply(
    client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    """Rasa answers 200 and no messages when the action server is down (the app's action
    server URL points at a closed port here): the debtor hears honestly, and a person."""
    rasa.replies = []
    replies = say(client, "how much do i owe")
    assert replies and replies[0].startswith(HOLDING)
    assert [h.reason for h in handoffs(db)] == ["failure"]


def test_a_turn_that_died_without_a_trace_is_answered_by_the_sweep(
    app: Flask, client: FlaskClient, db: Session, rasa: StubRasa
) -> None:
    """The message was stored, then the process (or the database) went away: no reply, no
    'failed' marker, no retry from Twilio. The outbox worker's sweep answers it through the
    outbox with the holding reply, once, and a person takes over; a retry in the meantime is
    asked to try again (503) instead of getting a silence."""
    sid = new_sid()
    say(client, "hi")
    gateway = app.extensions["gateway"]
    real = gateway._ask_rasa  # the message and its routing are committed by then
    gateway._ask_rasa = lambda *a, **k: (_ for _ in ()).throw(SystemExit("process died"))
    with pytest.raises(SystemExit):
        post_sms(client, "how much do i owe", sid=sid)
    gateway._ask_rasa = real
    [row] = inbound(db, sid)
    assert row.status == "received" and replies_to(db, row.id) == []
    assert post_sms(client, "how much do i owe", sid=sid).status_code == 503  # still "running"

    assert gateway.answer_unfinished(utcnow() + timedelta(seconds=31)) == 1
    assert gateway.answer_unfinished(utcnow() + timedelta(seconds=61)) == 0  # once
    db.expire_all()
    [holding] = replies_to(db, row.id)
    assert holding.status == "queued" and holding.text.startswith(HOLDING)
    assert [h.reason for h in handoffs(db)] == ["failure"]
    assert inbound(db, sid)[0].status == "processed"
