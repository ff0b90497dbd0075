"""Rasa's HTTP API as the gateway uses it: the REST channel with the conversation id as the
sender, and pausing or resuming a tracker during a handoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests


class RasaUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer properly."""


@dataclass
class RasaClient:
    base_url: str
    http: requests.Session = field(default_factory=requests.Session)

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        """The assistant's replies to one message, in order."""
        try:
            response = self.http.post(
                f"{self.base_url}/webhooks/rest/webhook",
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
                f"{self.base_url}/conversations/{sender}/tracker/events",
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
                f"{self.base_url}/conversations/{sender}/tracker", timeout=timeout
            )
        except requests.RequestException as exc:
            raise RasaUnavailable(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        return dict(response.json())
