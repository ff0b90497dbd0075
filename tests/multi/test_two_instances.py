"""The production set-up of deploy/README.md, for real on the local PostgreSQL and Redis: two
Rasa servers (same model, SQL tracker store on PostgreSQL, Redis lock store), one action
server, the webhook app under gunicorn with two workers and RASA_URL naming both Rasa
servers, the outbox worker as its own process, and the app database on PostgreSQL.

Twelve people text at once through signed SMS, each waiting for the answer before the next
message, as people do. Nothing may be lost or stored twice, each conversation's replies
answer its own messages in order (the verification steps happen in order and end verified),
and each conversation stays on one Rasa instance.

Runs when PostgreSQL and Redis answer (MULTI_POSTGRES_URL, MULTI_REDIS_URL; defaults on
127.0.0.1); skipped otherwise, and failed instead under REQUIRE_E2E=1 when they are expected
(REQUIRE_MULTI=1, or TEST_DATABASE_URL set as .ci/run does when PostgreSQL answers).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bench.personas import Persona, write_placement
from bench.stack import MODEL, RASA, Proc, Stack, app_python

pytestmark = pytest.mark.e2e

PG_URL = os.environ.get("MULTI_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MULTI_REDIS_URL", "redis://127.0.0.1:6379/0")
AUTH_TOKEN = "multi-twilio-token"
CONVERSATIONS = 12
TURN_TIMEOUT = 60  # seconds for one reply, a late one through the outbox included
TEST_BUDGET = 240  # seconds for the whole test, start-up included


def _unavailable(reason: str) -> None:
    expected = os.environ.get("REQUIRE_MULTI") or (
        os.environ.get("REQUIRE_E2E") and os.environ.get("TEST_DATABASE_URL")
    )
    if expected:
        pytest.fail(f"the two-instance test was expected to run: {reason}")
    pytest.skip(reason)


def _postgres_answers() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping())
    except redis.RedisError:
        return False


def _with_db(url: str, name: str, scheme: str) -> str:
    parts = urlparse(url)
    return parts._replace(scheme=scheme, path=f"/{name}").geturl()


@dataclass
class Setup:
    stack: Stack
    gateway_url: str
    app_db: str
    tracker_db: str
    rasa: list[Proc]
    personas: list[Persona]
    lock_commands_before: int
    started: float = field(default_factory=time.monotonic)


def _redis_lock_commands() -> int:
    import redis

    stats = redis.Redis.from_url(REDIS_URL).info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("set", "del"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if not MODEL.exists() or not RASA.exists():
        _unavailable(f"no trained model at {MODEL} (run `make train`)")
    if not _postgres_answers():
        _unavailable(f"PostgreSQL does not answer at {PG_URL}")
    if not _redis_answers():
        _unavailable(f"Redis does not answer at {REDIS_URL}")
    import psycopg

    suffix = uuid.uuid4().hex[:8]
    names = [f"multi_app_{suffix}", f"multi_tracker_{suffix}"]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    app_db = _with_db(PG_URL, names[0], "postgresql+psycopg")
    tracker_db = _with_db(PG_URL, names[1], "postgresql")
    work = tmp_path_factory.mktemp("multi")
    stack = Stack.create(work, DATABASE_URL=app_db)
    try:
        stack.flask("db", "upgrade")
        personas = write_placement(work / "placement.csv", CONVERSATIONS, prefix="MLT")
        stack.flask("accounts", "import", str(work / "placement.csv"))

        actions, rasa = stack.start_assistant(
            2,
            tracker_store_url=tracker_db,
            lock_store_url=REDIS_URL,
            debug=True,  # its log names each conversation it locks
            timeout=180,
        )
        action_url = actions.base_url
        rasa_urls = ",".join(p.base_url for p in rasa)
        env = {
            "RASA_URL": rasa_urls,
            "ACTION_SERVER_URL": action_url,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "RATE_LIMIT_STORAGE_URL": REDIS_URL,  # the workers share their counts, as deployed
        }
        gateway = stack.start_gateway(workers=2, threads=8, env=env)
        stack.spawn(  # the outbox worker, its own process: late replies go out through it
            "outbox",
            [app_python(), "-m", "flask", "--app", "webhook_app", "outbox", "run"],
            gateway.ready_url,
            env=env,
        )
        stack.wait_ready([gateway], timeout=60)
        for proc in rasa:  # the first prediction of a fresh Rasa is slow: not in the test
            url = proc.base_url
            requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": f"warmup-{proc.name}-{suffix}", "message": "hi"},
                timeout=60,
            )
        yield Setup(
            stack=stack,
            gateway_url=gateway.base_url,
            app_db=app_db,
            tracker_db=tracker_db,
            rasa=rasa,
            personas=personas,
            lock_commands_before=_redis_lock_commands(),
        )
    finally:
        stack.stop()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------- a person texting
@dataclass
class Texted:
    persona: Persona
    sids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    replies: list[list[str]] = field(default_factory=list)  # what the person read, per turn


def _script(persona: Persona) -> list[str]:
    dob = persona.dob
    return [
        "hi",
        f"{dob.month}/{dob.day}/{dob.year}",
        persona.zip,
        "how much do i owe",
        "can i do a payment plan",
    ]


def _stored_replies(session: Session, sid: str) -> list[str]:
    from bot.models import Message

    inbound = session.scalar(select(Message.id).where(Message.provider_sid == sid))
    if inbound is None:
        return []
    return list(
        session.scalars(
            select(Message.text)
            .where(Message.reply_to_id == inbound, Message.direction == "out")
            .order_by(Message.id)
        )
    )


def _text_through(setup: Setup, persona: Persona, engine) -> Texted:  # type: ignore[no-untyped-def]
    """One person: each message signed as Twilio signs it, the next sent only once the
    answer arrived (in the TwiML, or through the outbox when Rasa was slower than 5 s)."""
    url = f"{setup.gateway_url}/twilio/sms"
    validator = RequestValidator(AUTH_TOKEN)
    done = Texted(persona)
    for text_ in _script(persona):
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "From": persona.phone, "To": "+18005550199", "Body": text_}
        response = requests.post(
            url,
            data=form,
            headers={"X-Twilio-Signature": validator.compute_signature(url, form)},
            timeout=TURN_TIMEOUT,
        )
        assert response.status_code == 200, response.text
        bodies = re.findall(r"<Message>(.*?)</Message>", response.text, re.S)
        deadline = time.monotonic() + TURN_TIMEOUT
        while not bodies and time.monotonic() < deadline:  # a late reply: wait for it
            time.sleep(0.5)
            with Session(engine) as session:
                bodies = _stored_replies(session, sid)
        done.sids.append(sid)
        done.texts.append(text_)
        done.replies.append([_unescape(b) for b in bodies])
    return done


def _unescape(body: str) -> str:
    return body.replace("&apos;", "'").replace("&quot;", '"').replace("&amp;", "&")


def test_concurrent_conversations_on_two_rasa_instances_lose_nothing_and_keep_order(
    setup: Setup,
) -> None:
    from bot.gateway.rasa_client import pick_instance
    from bot.models import Conversation, Message

    engine = create_engine(setup.app_db)
    try:
        with ThreadPoolExecutor(max_workers=CONVERSATIONS) as pool:
            futures = [pool.submit(_text_through, setup, p, engine) for p in setup.personas]
            texted = [f.result(timeout=TEST_BUDGET) for f in futures]

        rasa_urls = tuple(p.base_url for p in setup.rasa)
        instance_of: dict[str, str] = {}
        with Session(engine) as session:
            for person in texted:
                transcript = "\n".join(
                    f"> {t}\n" + "\n".join(r)
                    for t, r in zip(person.texts, person.replies, strict=True)
                )
                conversations = session.scalars(
                    select(Conversation).where(Conversation.address == person.persona.phone)
                ).all()
                assert len(conversations) == 1, transcript
                conversation = conversations[0]
                rows = session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation.id)
                    .order_by(Message.id)
                ).all()
                inbound = [m for m in rows if m.direction == "in"]
                # nothing lost, nothing stored twice, in the order sent
                assert [m.provider_sid for m in inbound] == person.sids, transcript
                assert [m.text for m in inbound] == person.texts, transcript
                assert all(m.status == "processed" for m in inbound), transcript
                # every reply answers the message just before it (people wait for answers)
                last_inbound = None
                for m in rows:
                    if m.direction == "in":
                        last_inbound = m.id
                    else:
                        assert m.reply_to_id == last_inbound, transcript
                answered = {m.reply_to_id for m in rows if m.direction == "out"}
                assert answered == {m.id for m in inbound}, transcript
                # and each answers its own turn: the verification steps in order, then the debt
                hi, dob, zip_, balance, plan = ("\n".join(r) for r in person.replies)
                assert "date of birth" in hi and "verified" not in hi, transcript
                assert "ZIP" in dob and "verified" not in dob, transcript
                assert "you're verified" in zip_, transcript
                assert person.persona.balance_text in balance, transcript
                assert "1)" in plan and "2)" in plan, transcript
                assert conversation.verified_at is not None, transcript
                instance_of[conversation.id] = pick_instance(rasa_urls, conversation.id)

        # each conversation stayed on one Rasa instance: the one the gateway routes it to
        locked_by: dict[str, set[str]] = {cid: set() for cid in instance_of}
        for proc, url in zip(setup.rasa, rasa_urls, strict=True):
            for cid in re.findall(r"Acquired lock for conversation '([^']+)'", proc.tail(10**8)):
                if cid in locked_by:
                    locked_by[cid].add(url)
        assert all(locked_by[cid] == {instance_of[cid]} for cid in instance_of), locked_by
        assert set(instance_of.values()) == set(rasa_urls), "both instances should serve some"

        # the trackers are in PostgreSQL, shared, with the messages in the order sent
        tracker_engine = create_engine(setup.tracker_db)
        try:
            with tracker_engine.connect() as conn:
                for person in texted:
                    with Session(engine) as session:
                        cid = session.scalar(
                            select(Conversation.id).where(
                                Conversation.address == person.persona.phone
                            )
                        )
                    said = conn.execute(
                        text(
                            "select data from events where sender_id = :cid "
                            "and type_name = 'user' order by id"
                        ),
                        {"cid": cid},
                    ).scalars()
                    assert [json.loads(d)["text"] for d in said] == person.texts
        finally:
            tracker_engine.dispose()

        # the lock store really is Redis: both instances took and released their locks there
        turns = CONVERSATIONS * len(_script(setup.personas[0]))
        assert _redis_lock_commands() - setup.lock_commands_before >= turns
    finally:
        engine.dispose()
