"""The real TwilioSender against Prism mocking Twilio's own OpenAPI description (every request
is validated against Twilio's schema: a 422 fails the test), with a stub in front of Prism
that answers 500 and 429 first, and a closed port. Skipped without node/npx unless
REQUIRE_PRISM=1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from bot.config import ROOT, load_settings
from bot.db import init_engine
from bot.domain.contact import Purpose
from bot.models import Conversation, Message
from bot.services.outbox import deliver_due, queue_message
from bot.twilio_client import (
    LogSender,
    PermanentSendError,
    TransientSendError,
    TwilioSender,
    sender_from_settings,
)
from tests.conftest import make_account, make_conversation

pytestmark = pytest.mark.integration

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SPEC = SHARED / "vendor" / "twilio-oai" / "twilio_api_v2010.json"
PRISM_DIR = ROOT / ".cache" / "prism"
PRISM_PACKAGE = "@stoplight/prism-cli@5"

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-token"
FROM = "+15005550006"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
CALLBACK = "https://bot.example.test/twilio/status"
NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)  # inside the contact window in Seattle


def _unavailable(why: str) -> None:
    if os.environ.get("REQUIRE_PRISM") == "1":
        pytest.fail(f"Prism is required (REQUIRE_PRISM=1): {why}")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _install_prism(npm: str) -> None:
    if (PRISM_DIR / "node_modules" / ".bin" / "prism").exists():
        return
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(PRISM_DIR),
            PRISM_PACKAGE,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        _unavailable(f"npm install {PRISM_PACKAGE} failed: {done.stderr[-2000:]}")


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    npx, npm, node = shutil.which("npx"), shutil.which("npm"), shutil.which("node")
    if not (npx and npm and node):
        _unavailable("node/npm/npx not found")
    if not SPEC.exists():
        _unavailable(f"{SPEC} not found")
    assert npx and npm
    _install_prism(npm)
    port = _free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    mock_args = ["-p", str(port), "-h", "127.0.0.1", str(SPEC)]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [npx, "--prefix", str(PRISM_DIR), "--no", "--", "prism", "mock", *mock_args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: npx and node stop together
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Prism exited ({proc.returncode}): {log_path.read_text()[-3000:]}")
            try:
                requests.get(url + "/", timeout=1)
                break  # any HTTP answer (404 for "/") means it is listening
            except requests.RequestException:
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not answer: {log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Stub:
    """A loopback HTTP server in front of Prism: answers the scripted statuses first (500,
    429, "hang", or (status, its Retry-After header)), then proxies to Prism. Records what
    reached it and what reached Prism."""

    def __init__(self, upstream: str, script: list[int | str | tuple[int, str]]):
        self.upstream = upstream
        self.script = list(script)
        self.received: list[str] = []
        self.proxied: list[tuple[str, int]] = []  # (form body, Prism's status)
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with stub.lock:
                    stub.received.append(self.path)
                    step = stub.script.pop(0) if stub.script else "proxy"
                if step == "hang":
                    time.sleep(1.5)
                    step = 500
                retry_after = None
                if isinstance(step, tuple):
                    step, retry_after = step
                if step == "proxy":
                    answer = requests.post(
                        stub.upstream + self.path,
                        data=body,
                        headers={
                            k: v
                            for k, v in self.headers.items()
                            if k.lower() in ("authorization", "content-type", "accept")
                        },
                        timeout=10,
                    )
                    with stub.lock:
                        stub.proxied.append((body.decode(), answer.status_code))
                    self._answer(answer.status_code, answer.content)
                    return
                assert isinstance(step, int)
                payload = {"code": 20000 + step, "message": "stubbed failure", "status": step}
                self._answer(step, json.dumps(payload).encode(), retry_after)

            def _answer(self, status: int, content: bytes, retry_after: str | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _sender(base_url: str, **kwargs: object) -> TwilioSender:
    values: dict[str, object] = {"from_number": FROM, "base_url": base_url}
    values.update(kwargs)
    return TwilioSender(ACCOUNT_SID, AUTH_TOKEN, **values)  # type: ignore[arg-type]


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(database_url), expire_on_commit=False)


@pytest.fixture
def queued(session: Session) -> int:
    account = make_account(session)
    conversation: Conversation = make_conversation(session, account)
    message = queue_message(
        session,
        conversation,
        "An agent here: your payment plan is confirmed.",
        sender="agent",
        initiated=False,
        purpose=Purpose.GENERAL,
        now=NOW,
    )
    session.commit()
    return message.id


def _row(sessions: sessionmaker[Session], message_id: int) -> Message:
    with sessions() as s:
        row = s.get(Message, message_id)
        assert row is not None
        return row


def test_outbox_sends_through_prism_and_prism_accepts(
    prism_url: str, sessions: sessionmaker[Session], queued: int
) -> None:
    sender = _sender(prism_url)
    report = deliver_due(sessions, sender, now=NOW, status_callback_url=CALLBACK)
    last = sender.http_client._test_only_last_response
    assert last is not None
    assert last.status_code == 201, last.text  # a 422 (schema violation) fails here
    assert report.sent == 1
    row = _row(sessions, queued)
    assert row.status == "sent"
    assert row.provider_sid is not None and row.provider_sid.startswith("SM")
    request = sender.http_client._test_only_last_request
    assert request is not None
    assert request.url == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.data == {
        "To": "+12065550134",
        "From": FROM,
        "Body": "An agent here: your payment plan is confirmed.",
        "StatusCallback": CALLBACK,
    }


def test_messaging_service_sid_is_accepted_by_prism(prism_url: str) -> None:
    sender = _sender(prism_url, from_number=None, messaging_service_sid=SERVICE_SID)
    sid = sender.send("+12065550134", "hello", None)
    assert sid.startswith("SM")
    last = sender.http_client._test_only_last_response
    assert last is not None and last.status_code == 201
    request = sender.http_client._test_only_last_request
    assert request is not None and request.data["MessagingServiceSid"] == SERVICE_SID


def test_prism_rejects_a_request_that_breaks_twilios_schema(prism_url: str) -> None:
    """Proof that Prism validates: a malformed MessagingServiceSid gets 422, which the sender
    reports as permanent (a 4xx other than 429)."""
    sender = _sender(prism_url, from_number=None, messaging_service_sid="MG-not-a-sid")
    with pytest.raises(PermanentSendError) as caught:
        sender.send("+12065550134", "hello", None)
    assert caught.value.status == 422


def test_500_then_429_then_success_delivers_exactly_once(
    prism_url: str, sessions: sessionmaker[Session], queued: int
) -> None:
    with Stub(prism_url, [500, 429]) as stub:
        sender = _sender(stub.url)
        now = NOW
        reports = []
        for _ in range(6):
            reports.append(deliver_due(sessions, sender, now=now, status_callback_url=CALLBACK))
            row = _row(sessions, queued)
            now = max(now, row.next_attempt_at or now) + timedelta(seconds=1)
        assert [(r.sent, r.retried) for r in reports[:3]] == [(0, 1), (0, 1), (1, 0)]
        assert all(r.total == 0 for r in reports[3:])
        assert len(stub.received) == 3  # 500, 429, then through to Prism
        assert [status for _, status in stub.proxied] == [201]  # exactly one reached Prism
    row = _row(sessions, queued)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)
    assert row.provider_sid is not None and row.provider_sid.startswith("SM")


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_retry_after_is_waited_for_before_trying_again(
    prism_url: str, sessions: sessionmaker[Session], queued: int, form: str
) -> None:
    """Twilio's 429 says how long to wait: the message is not tried again before that, even
    though our own backoff after one failure is 5 s at most; then it goes out once."""
    retry_after = (
        "120"
        if form == "seconds"
        else format_datetime(datetime.now(UTC) + timedelta(seconds=125), usegmt=True)
    )
    with Stub(prism_url, [(429, retry_after)]) as stub:
        sender = _sender(stub.url)
        assert deliver_due(sessions, sender, now=NOW).retried == 1
        row = _row(sessions, queued)
        assert row.status == "queued" and row.next_attempt_at is not None
        waited = (row.next_attempt_at - NOW).total_seconds()
        assert 115 <= waited <= 130, waited
        early = deliver_due(sessions, sender, now=NOW + timedelta(seconds=60))
        assert early.total == 0 and len(stub.received) == 1  # nothing tried early
        assert deliver_due(sessions, sender, now=row.next_attempt_at).sent == 1
        assert [status for _, status in stub.proxied] == [201]
    assert _row(sessions, queued).status == "sent"


def test_a_500_without_retry_after_keeps_our_backoff(
    prism_url: str, sessions: sessionmaker[Session], queued: int
) -> None:
    with Stub(prism_url, [500]) as stub:
        deliver_due(sessions, _sender(stub.url), now=NOW)
    row = _row(sessions, queued)
    assert row.next_attempt_at is not None
    assert 0 < (row.next_attempt_at - NOW).total_seconds() <= 5


def test_stubbed_errors_map_to_transient(prism_url: str, queued: int) -> None:
    with Stub(prism_url, [500, 429, 503]) as stub:
        sender = _sender(stub.url)
        for status in (500, 429, 503):
            with pytest.raises(TransientSendError) as caught:
                sender.send("+12065550134", "hi", None)
            assert caught.value.status == status
        assert stub.proxied == []


def test_a_timeout_is_transient_and_the_row_is_kept(
    prism_url: str, sessions: sessionmaker[Session], queued: int
) -> None:
    with Stub(prism_url, ["hang"]) as stub:
        report = deliver_due(sessions, _sender(stub.url, timeout=0.5), now=NOW)
    assert report.retried == 1
    row = _row(sessions, queued)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "Timeout" in (row.error or "")


def test_a_closed_port_leaves_the_row_queued(sessions: sessionmaker[Session], queued: int) -> None:
    sender = _sender("http://127.0.0.1:9")
    report = deliver_due(sessions, sender, now=NOW)
    assert report.retried == 1 and report.sent == 0
    row = _row(sessions, queued)
    assert (row.status, row.attempts, row.provider_sid) == ("queued", 1, None)
    assert "ConnectionError" in (row.error or "")
    assert row.next_attempt_at is not None and row.next_attempt_at > NOW
    # Nothing lost: another pass later tries again.
    deliver_due(sessions, sender, now=row.next_attempt_at)
    assert _row(sessions, queued).attempts == 2


def test_sender_from_settings(tmp_path: Path) -> None:
    without = load_settings(
        database_url="sqlite://", var_dir=tmp_path, twilio_account_sid=None, secret_key="x"
    )
    assert isinstance(sender_from_settings(without), LogSender)
    with_account = load_settings(
        database_url="sqlite://",
        var_dir=tmp_path,
        secret_key="x",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM,
        twilio_api_base_url="http://127.0.0.1:9/",
    )
    sender = sender_from_settings(with_account)
    assert isinstance(sender, TwilioSender)
    assert sender.http_client.base_url == "http://127.0.0.1:9"
    assert sender.http_client.timeout == 10
