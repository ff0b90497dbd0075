"""Several Rasa instances in RASA_URL: each conversation stays on one, chosen the same way by
every gateway worker, and adding an instance moves only the conversations it takes over."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings, split_urls
from bot.gateway.rasa_client import RasaClient, pick_instance

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


class RecordingHttp:
    """Stands in for requests.Session: records the URLs called."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def post(self, url: str, **_: Any) -> Any:
        self.urls.append(url)
        return Reply([{"recipient_id": "x", "text": "hello"}])

    def get(self, url: str, **_: Any) -> Any:
        self.urls.append(url)
        return Reply({"sender_id": "x"})


class Reply:
    status_code = 200

    def __init__(self, body: Any) -> None:
        self.body = body

    def json(self) -> Any:
        return self.body


def test_messages_pauses_and_tracker_reads_of_a_conversation_go_to_its_instance() -> None:
    http = RecordingHttp()
    client = RasaClient(f"{A},{B}", http=http)  # type: ignore[arg-type]
    on_a = next(cid for cid in IDS if pick_instance((A, B), cid) == A)
    on_b = next(cid for cid in IDS if pick_instance((A, B), cid) == B)
    assert client.send(on_a, "hi", metadata={}, timeout=1) == ["hello"]
    client.pause(on_b)
    client.resume(on_a)
    client.tracker(on_b)
    assert http.urls == [
        f"{A}/webhooks/rest/webhook",
        f"{B}/conversations/{on_b}/tracker/events",
        f"{A}/conversations/{on_a}/tracker/events",
        f"{B}/conversations/{on_b}/tracker",
    ]


def test_a_rasa_url_naming_no_server_is_refused() -> None:
    with pytest.raises(ValueError):
        RasaClient(" , ")
