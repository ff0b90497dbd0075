"""Several Rasa instances in RASA_URL: each conversation stays on one, chosen the same way by
every gateway worker, and adding an instance moves only the conversations it takes over."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings, split_urls
from bot.gateway.rasa_client import RasaClient, RasaUnavailable, pick_instance

ROOT = Path(__file__).resolve().parents[2]
A, B, C = (
    "http://rasa-1.internal:5005",
    "http://rasa-2.internal:5005",
    "http://rasa-3.internal:5005",
)
IDS = [f"conv-{i:05d}" for i in range(2000)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:5005", ("http://localhost:5005",)),
        (f"{A},{B}", (A, B)),
        (f" {A}/ , {B} ", (A, B)),
        (f"{A} {B}\n{C}", (A, B, C)),
        (f"{A},{A}/", (A,)),
        ("", ()),
    ],
)
def test_split_urls_reads_commas_spaces_and_trailing_slashes(
    value: str, expected: tuple[str, ...]
) -> None:
    assert split_urls(value) == expected


def test_settings_list_every_rasa_instance_of_rasa_url(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RASA_URL", f"{A}, {B}")
    settings = load_settings(var_dir=tmp_path, secret_key="x")
    assert settings.rasa_urls == (A, B)


def test_one_instance_takes_every_conversation() -> None:
    assert {pick_instance((A,), cid) for cid in IDS[:50]} == {A}


def test_a_conversation_always_goes_to_the_same_instance() -> None:
    first = [pick_instance((A, B), cid) for cid in IDS]
    again = [RasaClient(f"{A},{B}").url_for(cid) for cid in IDS]
    assert first == again
    # the order the instances are listed in does not matter
    assert [pick_instance((B, A), cid) for cid in IDS] == first


def test_the_choice_is_the_same_in_another_process() -> None:
    """No per-process hash seed: two gunicorn workers (or machines) agree."""
    code = (
        "from bot.gateway.rasa_client import pick_instance;"
        f"print(','.join(pick_instance(({A!r}, {B!r}), f'conv-{{i:05d}}') for i in range(200)))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=ROOT,
    ).stdout.strip()
    assert other.split(",") == [pick_instance((A, B), cid) for cid in IDS[:200]]


def test_conversations_spread_evenly_over_the_instances() -> None:
    counts = Counter(pick_instance((A, B, C), cid) for cid in IDS)
    assert set(counts) == {A, B, C}
    assert all(550 < n < 790 for n in counts.values()), counts


def test_adding_an_instance_moves_only_the_conversations_it_takes() -> None:
    before = {cid: pick_instance((A, B), cid) for cid in IDS}
    after = {cid: pick_instance((A, B, C), cid) for cid in IDS}
    moved = [cid for cid in IDS if before[cid] != after[cid]]
    assert all(after[cid] == C for cid in moved)
    assert 0.25 < len(moved) / len(IDS) < 0.42  # about a third


class Instance(ThreadingHTTPServer):
    """A Rasa instance on a loopback port: records each request, answers with `reply`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.requests: list[tuple[str, str, Any]] = []
        self.reply: tuple[int, bytes] = (200, b'[{"recipient_id": "x", "text": "hello"}]')
        self.delay = 0.0
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up: expected here


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Instance

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self, body: Any) -> None:
        self.server.requests.append((self.command, self.path, body))
        time.sleep(self.server.delay)
        status, payload = self.server.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(None)

    def do_POST(self) -> None:
        self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))


@pytest.fixture
def instances() -> Iterator[tuple[Instance, Instance]]:
    pair = (Instance(), Instance())
    for server in pair:
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield pair
    for server in pair:
        server.shutdown()
        server.server_close()


def test_messages_pauses_and_tracker_reads_of_a_conversation_go_to_its_instance(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    client = RasaClient(f"{a.url},{b.url}")
    on_a = next(cid for cid in IDS if client.url_for(cid) == a.url)
    on_b = next(cid for cid in IDS if client.url_for(cid) == b.url)
    assert client.send(on_a, "hi", metadata={"channel": "sms"}, timeout=5) == ["hello"]
    client.pause(on_b)
    client.resume(on_a)
    b.reply = (200, b'{"sender_id": "x", "slots": {}}')
    assert client.tracker(on_b) == {"sender_id": "x", "slots": {}}
    assert a.requests == [
        ("POST", "/webhooks/rest/webhook",
         {"sender": on_a, "message": "hi", "metadata": {"channel": "sms"}}),
        ("POST", f"/conversations/{on_a}/tracker/events", {"event": "resume"}),
    ]  # fmt: skip
    assert b.requests == [
        ("POST", f"/conversations/{on_b}/tracker/events", {"event": "pause"}),
        ("GET", f"/conversations/{on_b}/tracker", None),
    ]


def test_replies_come_in_order_and_messages_without_text_are_left_out(
    instances: tuple[Instance, Instance],
) -> None:
    a, _ = instances
    a.reply = (200, json.dumps([
        {"recipient_id": "x", "text": "First"},
        {"recipient_id": "x", "image": "https://example.com/a.png"},
        {"recipient_id": "x", "text": "Second"},
    ]).encode())  # fmt: skip
    assert RasaClient(a.url).send("c1", "hi", metadata={}, timeout=5) == ["First", "Second"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"error": "boom"}'),
        (404, b"{}"),
        (200, b"<html>not json</html>"),
        (200, b'{"text": "a dict, not a list"}'),
        (200, b'["a string, not a message"]'),
        (200, b'[{"recipient_id": "x"}, {"no": "text"}, 3]'),
    ],
)
def test_an_error_or_an_unreadable_answer_is_rasa_unavailable(
    instances: tuple[Instance, Instance], status: int, body: bytes
) -> None:
    a, _ = instances
    a.reply = (status, body)
    with pytest.raises(RasaUnavailable):
        RasaClient(a.url).send("c1", "hi", metadata={}, timeout=5)


def test_a_closed_port_or_a_slow_instance_is_rasa_unavailable_within_the_timeout(
    instances: tuple[Instance, Instance],
) -> None:
    with pytest.raises(RasaUnavailable):
        RasaClient("http://127.0.0.1:9").send("c1", "hi", metadata={}, timeout=5)
    a, _ = instances
    a.delay = 2.0
    started = time.monotonic()
    with pytest.raises(RasaUnavailable, match=r"[Tt]imeout"):
        RasaClient(a.url).send("c1", "hi", metadata={}, timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_a_rasa_url_naming_no_server_is_refused() -> None:
    with pytest.raises(ValueError):
        RasaClient(" , ")
