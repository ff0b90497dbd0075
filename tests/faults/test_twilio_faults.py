"""Twilio failing around us: its REST API answering 500/429 for a while (the outbox with the
real TwilioSender against a flaky loopback stub in front of Prism, which serves Twilio's own
OpenAPI description), and its status callbacks arriving duplicated, out of order and all at
once (signed POST /twilio/status into the real app)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import init_engine
from bot.domain.contact import Purpose
from bot.models import Message
from bot.services.delivery import RANK
from bot.services.outbox import MAX_ATTEMPTS, deliver_due, queue_message
from bot.twilio_client import TwilioSender
from tests.conftest import NOW, make_account, make_conversation
from tests.e2e.conftest import free_port
from tests.faults.conftest import gateway_app, post_status
from tests.integration.test_twilio_prism import PRISM_DIR, SPEC, _install_prism

pytestmark = pytest.mark.integration

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
FROM = "+15005550006"
CALLBACK = "https://bot.example.test/twilio/status"


# ---------------------------------------------------------------- Prism and a flaky stub


def _no_prism(why: str) -> None:
    if os.environ.get("REQUIRE_PRISM") == "1":
        pytest.fail(f"Prism is required (REQUIRE_PRISM=1): {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    npx, npm = shutil.which("npx"), shutil.which("npm")
    if not (npx and npm and shutil.which("node")):
        _no_prism("node/npm/npx not found")
    if not SPEC.exists():
        _no_prism(f"{SPEC} not found")
    assert npx and npm
    _install_prism(npm)
    port = free_port()
    log = tmp_path_factory.mktemp("faults-prism") / "prism.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [npx, "--prefix", str(PRISM_DIR), "--no", "--", "prism", "mock",
             "-p", str(port), "-h", "127.0.0.1", str(SPEC)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Prism exited ({proc.returncode}): {log.read_text()[-3000:]}")
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not answer: {log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class FlakyTwilio:
    """Loopback HTTP in front of Prism: the first `failures` requests get 500 and 429 (with
    Retry-After) in turn, the rest are proxied. Counts, per message body, what arrived and
    what Prism accepted (201): a body accepted twice is an SMS sent twice."""

    def __init__(self, upstream: str, failures: int, retry_after: int = 30) -> None:
        self.upstream, self.failures, self.retry_after = upstream, failures, retry_after
        self.arrived: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.answers: list[int] = []
        self.lock = threading.Lock()
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = parse_qs(raw.decode()).get("Body", [""])[0]
                with flaky.lock:
                    flaky.arrived[body] += 1
                    n = len(flaky.answers)
                    fail = n < flaky.failures
                    status = (500 if n % 2 == 0 else 429) if fail else 0
                    flaky.answers.append(status)
                if fail:
                    content = json.dumps(
                        {"code": 20500 if status == 500 else 20429, "message": "stubbed",
                         "status": status}
                    ).encode()  # fmt: skip
                    extra = {"Retry-After": str(flaky.retry_after)} if status == 429 else {}
                    self._answer(status, content, extra)
                    return
                answer = requests.post(
                    flaky.upstream + self.path,
                    data=raw,
                    headers={
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in ("authorization", "content-type", "accept")
                    },
                    timeout=10,
                )
                with flaky.lock:
                    flaky.answers[n] = answer.status_code
                    if answer.status_code == 201:
                        flaky.accepted[body] += 1
                self._answer(answer.status_code, answer.content, {})

            def _answer(self, status: int, content: bytes, extra: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FlakyTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(database_url), expire_on_commit=False)


def test_twilio_500_and_429_for_a_while_then_recovering_every_message_sent_exactly_once(
    prism: str, session: Session, sessions: sessionmaker[Session]
) -> None:
    """K queued messages; Twilio answers the first M calls with 500/429 (Retry-After: 30),
    then recovers. The outbox runs with explicit `now` steps past each backoff until nothing
    is queued: every message reached Prism exactly once, none lost, attempts recorded."""
    k, m = 8, 13
    conversation = make_conversation(session, make_account(session))
    ids = [
        queue_message(
            session, conversation, f"Outbox message {i} of {k}.", sender="agent",
            initiated=False, purpose=Purpose.GENERAL, now=NOW,
        ).id
        for i in range(k)
    ]  # fmt: skip
    session.commit()
    now, passes, waits = NOW, 0, []
    started = time.monotonic()
    with FlakyTwilio(prism, failures=m) as twilio:
        sender = TwilioSender(ACCOUNT_SID, "test-token", from_number=FROM, base_url=twilio.url)
        while passes < 2 * MAX_ATTEMPTS:
            passes += 1
            deliver_due(sessions, sender, now=now, batch=50, status_callback_url=CALLBACK)
            with sessions() as s:
                due = s.scalars(
                    select(Message.next_attempt_at).where(
                        Message.id.in_(ids), Message.status == "queued"
                    )
                ).all()
            if not due:
                break
            step = max(d for d in due if d is not None) - now  # past every backoff
            waits.append(step.total_seconds())
            now += step + timedelta(seconds=1)
    took = time.monotonic() - started
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(Message).where(Message.id.in_(ids)))}
    bodies = {i: rows[i].text for i in ids}
    assert [rows[i].status for i in ids] == ["sent"] * k, [
        (r.status, r.error) for r in rows.values()
    ]
    assert sorted(twilio.accepted.values()) == [1] * k  # each SMS went out once
    assert set(twilio.accepted) == set(bodies.values())
    assert twilio.answers.count(500) + twilio.answers.count(429) == m
    for i in ids:  # every try is counted on its row: one per request Twilio received
        assert rows[i].attempts == twilio.arrived[bodies[i]], (i, rows[i].attempts)
    assert sum(r.attempts for r in rows.values()) == k + m
    print(
        f"[faults timing] Twilio 500/429 x{m} then recovering: {k} messages sent once each in "
        f"{passes} outbox passes ({took:.2f} s wall); simulated waits between passes: "
        f"{', '.join(f'{w:.1f}' for w in waits)} s (Retry-After was {twilio.retry_after} s)"
    )


# ---------------------------------------------------------------- status callbacks


@pytest.fixture
def outbound(session: Session) -> list[str]:
    """Eight sent messages with their Twilio sids."""
    conversation = make_conversation(session, make_account(session))
    sids = []
    for i in range(8):
        sid = f"SM{'5' * 24}{i:08d}"
        session.add(
            Message(
                conversation_id=conversation.id, direction="out", sender="bot", channel="sms",
                text=f"reply {i}", provider_sid=sid, status="sent", created_at=NOW,
            )
        )  # fmt: skip
        sids.append(sid)
    session.commit()
    return sids


def _statuses(database_url: str, sids: list[str]) -> dict[str, str]:
    with sessionmaker(bind=init_engine(database_url))() as s:
        rows = s.execute(
            select(Message.provider_sid, Message.status).where(Message.provider_sid.in_(sids))
        ).all()
        return {str(sid): status for sid, status in rows}


def test_status_callbacks_duplicated_out_of_order_and_concurrent_end_right_never_5xx(
    database_url: str, outbound: list[str], tmp_path: Path
) -> None:
    """Per message a shuffled storm, all at once from 12 threads: queued, sending, sent,
    delivered twice, plus an undelivered after delivered for some, and callbacks for sids we
    never sent. Every answer is 204; no status ever moves back while the storm runs; each
    ends at the furthest status it was told (the first final one wins)."""
    app = gateway_app(database_url, tmp_path / "var", "http://127.0.0.1:9")
    rng = random.Random(23)
    storm: list[tuple[str, str]] = []
    expected: dict[str, str] = {}
    for i, sid in enumerate(outbound):
        told = ["queued", "sending", "sent", "delivered", "delivered", "sent"]
        if i % 2:
            told.append("undelivered")  # after or before delivered: same rank, first wins
        if i % 4 == 3:
            told.append("read")
        storm += [(sid, status) for status in told]
        expected[sid] = "read" if i % 4 == 3 else None  # type: ignore[assignment]
    storm += [(f"SM{'9' * 24}{i:08d}", "delivered") for i in range(4)]  # never ours
    rng.shuffle(storm)

    seen: dict[str, list[str]] = {sid: [] for sid in outbound}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for sid, status in _statuses(database_url, outbound).items():
                if not seen[sid] or seen[sid][-1] != status:
                    seen[sid].append(status)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    barrier = threading.Barrier(12)
    codes: list[int] = []
    lock = threading.Lock()

    def fire(part: list[tuple[str, str]]) -> None:
        barrier.wait(timeout=10)
        for sid, status in part:
            code = post_status(app, sid, status)
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=fire, args=(storm[j::12],)) for j in range(12)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    took = time.monotonic() - started
    stop.set()
    watcher.join(10)
    assert codes == [204] * len(storm), Counter(codes)
    final = _statuses(database_url, outbound)
    for sid in outbound:
        if expected[sid] == "read":
            assert final[sid] == "read"
        else:
            assert final[sid] in ("delivered", "undelivered")
        ranks = [RANK[s] for s in seen[sid]]
        assert ranks == sorted(ranks), (sid, seen[sid])  # monotonic throughout
    # Even ones were told "delivered" only: nothing else may end them.
    assert all(final[sid] == "delivered" for sid in outbound[0:8:4])
    assert all(final[sid] == "delivered" for sid in outbound[2:8:4])
    print(f"[faults timing] {len(storm)} concurrent status callbacks in {took:.2f} s")
