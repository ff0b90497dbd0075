"""Faults of the assistant's own processes, through the real front door: signed POST /twilio/sms
into the gateway (production deadline, not in TESTING mode), a trained Rasa server and the action
server of this module, which these tests kill and restart.

What a debtor sees is read from the TwiML; what was stored, from the app database; what Rasa
saw, from its tracker. Tests run in file order: the one that kills Rasa comes last."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask

from bot.db import utcnow
from bot.models import Message
from bot.services.outbox import deliver_due
from bot.twilio_client import LogSender
from bot.wording import render
from tests.faults.conftest import (
    RasaPair,
    Reply,
    chains_intact,
    conversation_of,
    count,
    db_session,
    gateway_app,
    inbound_rows,
    open_handoffs,
    post_sms,
    replies_to,
)

pytestmark = pytest.mark.e2e

HOLDING = render("utter_holding")
_numbers = itertools.count(100)
_sids = itertools.count(1)


def new_phone() -> str:
    """A number no demo account has (555-01xx is reserved for fiction)."""
    return f"+1202555{next(_numbers):04d}"


def new_sid() -> str:
    return f"SM{'fa'}{next(_sids):030x}"


@pytest.fixture
def app(pair: RasaPair, tmp_path: Path) -> Flask:
    pair.ensure_up()
    return gateway_app(
        pair.database_url, tmp_path / "var", pair.rasa_url, action_server_url=pair.action_url
    )


def user_turns(pair: RasaPair, conversation_id: str) -> list[str]:
    tracker = requests.get(f"{pair.rasa_url}/conversations/{conversation_id}/tracker", timeout=10)
    tracker.raise_for_status()
    return [e.get("text") for e in tracker.json()["events"] if e["event"] == "user"]


def is_holding(bodies: list[str]) -> bool:
    return any(body.startswith(HOLDING) for body in bodies)


# ---------------------------------------------------------------- the same MessageSid 5 times


def test_same_message_sid_five_times_concurrently_reaches_rasa_once_and_twilio_gets_one_reply(
    pair: RasaPair, app: Flask
) -> None:
    """Twilio's retries of one MessageSid arriving together: one row, Rasa asked once, the
    bot's reply in exactly one response; the others, arriving while that turn runs, are asked
    to retry (503: an answer in each would make Twilio send it five times, and an empty 200
    would leave the debtor unanswered if the first attempt died)."""
    phone, sid, n = new_phone(), new_sid(), 5
    barrier = threading.Barrier(n)

    def send(_: int) -> Reply:
        barrier.wait(timeout=10)
        return post_sms(app, "hi", phone, sid)

    with ThreadPoolExecutor(n) as pool:
        replies = list(pool.map(send, range(n), timeout=60))
    assert sorted(r.status for r in replies) == [200] + [503] * (n - 1), replies
    answered = [r.bodies for r in replies if r.bodies]
    assert len(answered) == 1, replies  # the other four: 503, nothing for Twilio to send
    assert not is_holding(answered[0]) and "Evergreen Health" in answered[0][0]
    with db_session(pair.database_url) as s:
        [row] = inbound_rows(s, sid)
        out = replies_to(s, row.id)
        assert [m.text for m in out] == answered[0]
        assert [m.status for m in out] == ["sent"] * len(out)
        assert row.status == "processed"
        assert user_turns(pair, row.conversation_id) == ["hi"]
        assert chains_intact(s) == []
    slowest = max(r.seconds for r in replies)
    print(f"[faults timing] 5 concurrent copies of one MessageSid: {slowest:.2f} s")


# ---------------------------------------------------------------- the action server down


def _kill_actions_and_say(pair: RasaPair, app: Flask, phone: str, sid: str) -> Reply:
    pair.kill_actions()
    return post_sms(app, "hi", phone, sid)


def test_action_server_down_debtor_gets_one_honest_holding_reply_and_a_person(
    pair: RasaPair, app: Flask
) -> None:
    phone, sid = new_phone(), new_sid()
    try:
        reply = _kill_actions_and_say(pair, app, phone, sid)
        assert reply.status == 200
        with db_session(pair.database_url) as s:
            [row] = inbound_rows(s, sid)
            handoffs = open_handoffs(s, row.conversation_id)
        assert is_holding(reply.bodies), reply
        assert [h.reason for h in handoffs] == ["failure"]
    finally:
        pair.start_actions()


def test_action_server_down_message_stored_once_and_next_turn_works_after_restart(
    pair: RasaPair, app: Flask
) -> None:
    """Rasa answers 200 with no messages when its actions cannot run: the gateway notices
    the action server is down, so the debtor gets the holding reply once (a retry of the same
    MessageSid gets the same answer, not a second turn); once it is back, conversations are
    answered by the bot again."""
    phone, sid = new_phone(), new_sid()
    try:
        started = time.monotonic()
        reply = _kill_actions_and_say(pair, app, phone, sid)
        down_turn = time.monotonic() - started
        assert reply.status == 200 and is_holding(reply.bodies), reply
        retry = post_sms(app, "hi", phone, sid)  # Twilio's retry of it: no second turn
        assert retry.status == 200 and retry.bodies == reply.bodies
        with db_session(pair.database_url) as s:
            [row] = inbound_rows(s, sid)
            assert row.status == "processed"
            assert [m.text for m in replies_to(s, row.id)] == reply.bodies
            conversation_id = row.conversation_id
        assert user_turns(pair, conversation_id) == ["hi"]
    finally:
        restart = pair.start_actions()
    later = post_sms(app, "hello", new_phone(), new_sid())
    assert later.status == 200 and later.bodies and not is_holding(later.bodies), later
    assert "Evergreen Health" in later.bodies[0]
    with db_session(pair.database_url) as s:
        assert chains_intact(s) == []
    print(
        f"[faults timing] turn with the action server down: {down_turn:.2f} s; "
        f"action server restart: {restart:.1f} s"
    )


# ---------------------------------------------------------------- Rasa killed and restarted


class Texter:
    """One debtor's phone: every message it sent, with what it got back and when."""

    def __init__(self, app: Flask) -> None:
        self.app, self.phone = app, new_phone()
        self.sent: list[tuple[str, str, float, float, Reply]] = []  # sid, text, start, end

    def says(self, text: str) -> Reply:
        sid, started = new_sid(), time.monotonic()
        reply = post_sms(self.app, text, self.phone, sid)
        self.sent.append((sid, text, started, time.monotonic(), reply))
        return reply

    def holding_replies(self) -> int:
        return sum(is_holding(r.bodies) for *_, r in self.sent)


def test_rasa_killed_mid_run_and_restarted_nothing_lost_or_doubled(
    pair: RasaPair, app: Flask
) -> None:
    """Ten conversations; Rasa is SIGKILLed while their second turns are in flight, some keep
    texting while it is down, it is restarted, and everyone texts again.

    The product's rule, asserted here: a turn Rasa could not answer gets one holding reply
    (`utter_holding`) and a "failure" handoff; later texts in that conversation wait for the
    agent in silence (no second holding reply), and stay with a person after Rasa is back,
    until an agent releases the conversation. Conversations that did not meet the outage are
    answered by the bot again, and new ones too."""
    texters = [Texter(app) for _ in range(10)]
    with ThreadPoolExecutor(10) as pool:
        first = list(pool.map(lambda t: t.says("hi"), texters, timeout=120))
    assert all(r.status == 200 for r in first), first

    # Second turns, staggered; Rasa dies while they arrive.
    def second(i: int) -> Reply:
        time.sleep(0.12 * i)
        return texters[i].says("who is this")

    with ThreadPoolExecutor(10) as pool:
        pending = [pool.submit(second, i) for i in range(10)]
        time.sleep(0.5)
        killed_at = time.monotonic()
        pair.kill_rasa()
        cut = [f.result(timeout=60) for f in pending]
    assert all(r.status == 200 for r in cut), cut

    # While Rasa is down, half of them text again.
    for texter in texters[:5]:
        assert texter.says("hello? are you there").status == 200

    restart = pair.start_rasa()
    back_at = time.monotonic()
    for texter in texters:
        assert texter.says("what do you need from me").status == 200
    newcomers = [Texter(app) for _ in range(2)]
    for texter in newcomers:
        assert texter.says("hi").status == 200
    everyone = texters + newcomers

    # Late replies (a turn past the deadline) are in the outbox: send what is due, once.
    with db_session(pair.database_url) as s:
        queued = count(s, Message, Message.status == "queued")  # this module's only
    report = deliver_due(app.extensions["gateway"].sessions, LogSender(), now=utcnow(), batch=100)
    assert report.sent == queued

    late_holding: dict[str, list[str]] = {}
    with db_session(pair.database_url) as s:
        all_sids = [sid for t in everyone for sid, *_ in t.sent]
        ids = [conversation_of(s, t.phone).id for t in everyone]
        mine = Message.conversation_id.in_(ids)
        assert count(s, Message, mine, Message.direction == "in") == len(all_sids)
        for texter in everyone:
            conversation = conversation_of(s, texter.phone)
            handoffs = open_handoffs(s, conversation.id)
            late = [
                sid
                for sid, *_, reply in texter.sent
                if not reply.bodies
                and [m.text for m in replies_to(s, inbound_rows(s, sid)[0].id)] == [HOLDING]
            ]  # a turn past the deadline when Rasa died: its holding reply was queued
            late_holding[texter.phone] = late
            holding_seen = texter.holding_replies() + len(late)
            assert holding_seen <= 1, texter.sent
            assert [h.reason for h in handoffs] == (["failure"] * holding_seen), texter.sent
            waiting = False
            for sid, text, started, ended, reply in texter.sent:
                [row] = inbound_rows(s, sid)
                assert row.text == text and row.status == "processed"
                out = replies_to(s, row.id)
                sent_now = [m.text for m in out if m.status == "sent"]
                if sid in late:  # the holding reply went through the outbox (delivered above)
                    assert [m.status for m in out] == ["sent"], (text, out)
                    waiting = True
                    continue
                assert sent_now == reply.bodies  # stored once, exactly what Twilio got
                assert all(m.status in ("sent", "queued") for m in out)  # queued: sent above
                if is_holding(reply.bodies):
                    # Only a turn that met the outage, and only the first one in it.
                    assert ended >= killed_at and started <= back_at, (text, reply)
                    assert reply.bodies == [HOLDING]
                    waiting = True
                elif waiting:
                    assert out == [], (text, reply)  # with a person: the bot stays silent
                elif started > back_at:
                    assert out, (text, reply)  # the bot answers again
        # Texts sent while Rasa was certainly down met the holding path, not a silence.
        for texter in texters[:5]:
            assert texter.holding_replies() + len(late_holding[texter.phone]) == 1, texter.sent
        assert chains_intact(s) == []
    stranded = sum(len(v) for v in late_holding.values())
    cut_off = sum(is_holding(r.bodies) for r in cut)
    in_flight = sum(
        1
        for t in texters
        for _, text, a, b, _ in t.sent
        if text == "who is this" and a < killed_at < b
    )
    print(
        f"[faults timing] Rasa restart after SIGKILL: {restart:.1f} s; second turns met by "
        f"the outage: {cut_off}/10 ({in_flight} in flight at the SIGKILL); slowest holding reply: "
        f"{max(r.seconds for t in everyone for *_, r in t.sent if is_holding(r.bodies)):.2f} s"
    )
    print(f"[faults timing] turns past the deadline when Rasa died: {stranded}")


def test_rasa_tracker_of_a_conversation_answered_after_restart_has_each_turn_once(
    pair: RasaPair, app: Flask
) -> None:
    """After the restart, a new conversation's turns reach Rasa once each (no replay of
    anything queued before the kill)."""
    texter = Texter(app)
    for text in ("hi", "who is this"):
        reply = texter.says(text)
        assert reply.status == 200 and reply.bodies and not is_holding(reply.bodies)
    with db_session(pair.database_url) as s:
        conversation = conversation_of(s, texter.phone)
    assert user_turns(pair, conversation.id) == ["hi", "who is this"]
