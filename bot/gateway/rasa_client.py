"""Rasa's HTTP API as the gateway uses it: the REST channel with the conversation id as the
sender, and pausing or resuming a tracker during a handoff.

With several Rasa instances (RASA_URL lists them), each conversation stays on one: the
instance is chosen by rendezvous hashing of the conversation id, so every gateway worker on
every machine picks the same one without sharing state, and adding or removing an instance
moves only the conversations that must move. (The instances share the SQL tracker store and
the Redis lock store, so a conversation that does move loses nothing.)"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import requests

from bot.config import split_urls


class RasaUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer properly."""


def pick_instance(urls: tuple[str, ...], conversation_id: str) -> str:
    """The Rasa instance a conversation lives on: the URL with the highest hash of
    (URL, conversation id). Stable across processes and restarts (no Python hash seed)."""
    if len(urls) == 1:
        return urls[0]

    def weight(url: str) -> bytes:
        return hashlib.blake2b(f"{url}|{conversation_id}".encode(), digest_size=8).digest()

    return max(urls, key=weight)


def _direct_session() -> requests.Session:
    """Rasa is our own service, reached directly: no proxy or .netrc from the environment,
    which requests would otherwise look up again on every call (a tenth of a turn's CPU)."""
    session = requests.Session()
    session.trust_env = False
    return session


@dataclass
class RasaClient:
    base_url: str  # one URL, or several separated by commas or spaces
    http: requests.Session = field(default_factory=_direct_session)
    base_urls: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.base_urls = split_urls(self.base_url)
        if not self.base_urls:
            raise ValueError("RASA_URL names no Rasa server")

    def url_for(self, sender: str) -> str:
        """The base URL of the instance that holds this conversation."""
        return pick_instance(self.base_urls, sender)

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        """The assistant's replies to one message, in order."""
        try:
            response = self.http.post(
                f"{self.url_for(sender)}/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
                timeout=timeout,
            )
        except requests.Timeout:
            raise
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        try:
            return [str(m["text"]) for m in response.json() if m.get("text")]
        except (ValueError, TypeError, KeyError) as exc:
            raise RasaUnavailable("unreadable reply") from exc

    def _event(self, sender: str, event: str, timeout: float) -> None:
        try:
            response = self.http.post(
                f"{self.url_for(sender)}/conversations/{sender}/tracker/events",
                json={"event": event},
                timeout=timeout,
            )
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"HTTP {response.status_code}")

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        self._event(sender, "pause", timeout)

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        self._event(sender, "resume", timeout)

    def tracker(self, sender: str, *, timeout: float = 3) -> dict[str, Any]:
        """What the bot knows of a conversation: slots, latest intents, active form."""
        try:
            response = self.http.get(
                f"{self.url_for(sender)}/conversations/{sender}/tracker", timeout=timeout
            )
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        return dict(response.json())
