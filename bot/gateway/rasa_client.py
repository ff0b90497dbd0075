"""Rasa's HTTP API as the gateway uses it: the REST channel with the conversation id as the
sender, and pausing or resuming a tracker during a handoff.

With several Rasa instances (RASA_URL lists them), each conversation stays on one: the
instance is chosen by rendezvous hashing of the conversation id, so every gateway worker on
every machine picks the same one without sharing state, and adding or removing an instance
moves only the conversations that must move. (The instances share the SQL tracker store and
the Redis lock store, so a conversation that does move loses nothing.)"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import urllib3

from bot.config import split_urls

JSON = {"Content-Type": "application/json"}


class RasaUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer properly, or not in time."""


def pick_instance(urls: tuple[str, ...], conversation_id: str) -> str:
    """The Rasa instance a conversation lives on: the URL with the highest hash of
    (URL, conversation id). Stable across processes and restarts (no Python hash seed)."""
    if len(urls) == 1:
        return urls[0]

    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}|{conversation_id}".encode(), digest_size=8).digest()

    return max(urls, key=weight)


def _connections() -> urllib3.PoolManager:
    """Kept-alive connections to each instance, as many as a worker has threads. urllib3
    itself, not requests: Rasa is our own service, reached directly, so nothing of requests'
    sessions (cookies, proxies and .netrc from the environment) applies, and it costs a
    turn 0.3 ms of CPU less. No retries: a turn that fails gets the holding reply."""
    return urllib3.PoolManager(maxsize=16, retries=False)


@dataclass
class RasaClient:
    base_url: str  # one URL, or several separated by commas or spaces
    http: urllib3.PoolManager = field(default_factory=_connections)
    base_urls: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.base_urls = split_urls(self.base_url)
        if not self.base_urls:
            raise ValueError("RASA_URL names no Rasa server")

    def url_for(self, sender: str) -> str:
        """The base URL of the instance that holds this conversation."""
        return pick_instance(self.base_urls, sender)

    def _call(
        self, method: str, url: str, timeout: float, body: dict[str, Any] | None = None
    ) -> Any:
        """The JSON Rasa answered with; RasaUnavailable for anything else."""
        try:
            response = self.http.request(
                method,
                url,
                body=None if body is None else json.dumps(body).encode(),
                headers=None if body is None else JSON,
                timeout=timeout,
            )
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status != 200:
            raise RasaUnavailable(f"HTTP {response.status}")
        try:
            return json.loads(response.data)
        except ValueError as exc:
            raise RasaUnavailable("unreadable reply") from exc

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        """The assistant's replies to one message, in order."""
        messages = self._call(
            "POST",
            f"{self.url_for(sender)}/webhooks/rest/webhook",
            timeout,
            {"sender": sender, "message": text, "metadata": metadata},
        )
        try:
            return [str(m["text"]) for m in messages if m.get("text")]
        except (TypeError, KeyError, AttributeError) as exc:
            raise RasaUnavailable("unreadable reply") from exc

    def _event(self, sender: str, event: str, timeout: float) -> None:
        url = f"{self.url_for(sender)}/conversations/{sender}/tracker/events"
        self._call("POST", url, timeout, {"event": event})

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        self._event(sender, "pause", timeout)

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        self._event(sender, "resume", timeout)

    def tracker(self, sender: str, *, timeout: float = 3) -> dict[str, Any]:
        """What the bot knows of a conversation: slots, latest intents, active form."""
        found = self._call("GET", f"{self.url_for(sender)}/conversations/{sender}/tracker", timeout)
        if not isinstance(found, dict):
            raise RasaUnavailable("unreadable tracker")
        return found
