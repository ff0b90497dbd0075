"""Conversations that behave like people: a few seconds between messages, each from its own
phone, verifying and then asking about the debt. The same scripts go through the gateway
(signed SMS to POST /twilio/sms) or straight to Rasa's REST channel.

Every load is bounded: a phase stops starting turns at its deadline, every request has a
timeout, and only loopback addresses are used."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import aiohttp
from twilio.request_validator import RequestValidator

from bench.personas import Persona
from bot.gateway.rasa_client import pick_instance


# ---------------------------------------------------------------------- results
@dataclass
class Turn:
    path: str  # "gateway" | "rasa"
    conversation: str  # the phone (gateway) or the REST sender id (rasa)
    index: int
    text: str
    started: float  # monotonic
    latency: float  # seconds
    status: int  # HTTP status, 0 when the request failed
    bodies: list[str] = field(default_factory=list)
    error: str | None = None
    sid: str | None = None  # MessageSid (gateway)
    retry_matched: bool | None = None  # a Twilio-style retry got the same answer

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Conversation:
    path: str
    persona: Persona
    sender: str
    turns: list[Turn] = field(default_factory=list)
    complete: bool = False

    @property
    def reached_verification(self) -> bool:
        """It sent the ZIP (the third message): it should be verified now."""
        return len(self.turns) >= 3

    @property
    def verified(self) -> bool:
        return any("verified" in body for t in self.turns for body in t.bodies)

    @property
    def balance_shown(self) -> bool:
        return any(self.persona.balance_text in body for t in self.turns for body in t.bodies)


# ---------------------------------------------------------------------- transports
class GatewayClient:
    """Signs each message the way Twilio does and posts it to /twilio/sms."""

    path = "gateway"

    def __init__(self, base_url: str, auth_token: str, to_number: str = "+18005550199") -> None:
        _loopback(base_url)
        self.url = base_url.rstrip("/") + "/twilio/sms"
        self.validator = RequestValidator(auth_token)
        self.to_number = to_number

    def sender(self, persona: Persona) -> str:
        return persona.phone

    def form(self, persona: Persona, text: str) -> dict[str, str]:
        return {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": persona.phone,
            "To": self.to_number,
            "Body": text,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }

    async def post(
        self, http: aiohttp.ClientSession, form: dict[str, str], timeout: float
    ) -> tuple[int, list[str]]:
        signature = self.validator.compute_signature(self.url, form)
        async with http.post(
            self.url,
            data=form,
            headers={"X-Twilio-Signature": signature},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.text()
            if response.status != 200:
                return response.status, []
            return 200, [m.text or "" for m in ET.fromstring(body).iter("Message")]  # noqa: S314


class RasaRestClient:
    """Rasa's REST channel, as the gateway calls it, with the same metadata. With several
    instances, each conversation goes to the one the gateway would pick for it."""

    path = "rasa"

    def __init__(self, base_urls: tuple[str, ...]) -> None:
        self.base_urls = base_urls
        for url in self.base_urls:
            _loopback(url)

    def sender(self, persona: Persona) -> str:
        return "bench-" + uuid.uuid4().hex[:20]

    def url_for(self, sender: str) -> str:
        base = pick_instance(self.base_urls, sender)
        return base.rstrip("/") + "/webhooks/rest/webhook"

    async def post(
        self, http: aiohttp.ClientSession, payload: dict[str, object], timeout: float
    ) -> tuple[int, list[str]]:
        url = self.url_for(str(payload["sender"]))
        async with http.post(
            url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            if response.status != 200:
                return response.status, []
            data = await response.json()
            return 200, [str(m["text"]) for m in data if m.get("text")]


def _loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"benchmarks only talk to loopback addresses, not {host!r}")


# ---------------------------------------------------------------------- the driver
@dataclass
class Phase:
    path: str
    concurrency: int
    started: float = 0.0
    ended: float = 0.0
    conversations: list[Conversation] = field(default_factory=list)

    @property
    def turns(self) -> list[Turn]:
        return [t for c in self.conversations for t in c.turns]


async def _converse(
    client: GatewayClient | RasaRestClient,
    http: aiohttp.ClientSession,
    conv: Conversation,
    deadline: float,
    think: tuple[float, float],
    rng: random.Random,
    retry_rate: float,
    timeout: float,
) -> Conversation:
    persona, sender = conv.persona, conv.sender
    script = persona.script(rng)
    for index, text in enumerate(script):
        if index:
            await asyncio.sleep(rng.uniform(*think))
        if time.monotonic() >= deadline:
            return conv
        started = time.monotonic()
        turn = Turn(client.path, sender, index, text, started, 0.0, 0)
        try:
            if isinstance(client, GatewayClient):
                form = client.form(persona, text)
                turn.sid = form["MessageSid"]
                turn.status, turn.bodies = await client.post(http, form, timeout)
            else:
                payload: dict[str, object] = {
                    "sender": sender,
                    "message": text,
                    "metadata": {"channel": "sms", "address": persona.phone},
                }
                turn.status, turn.bodies = await client.post(http, payload, timeout)
        except (TimeoutError, aiohttp.ClientError, ET.ParseError) as exc:
            turn.error = f"{type(exc).__name__}: {exc}"
        turn.latency = time.monotonic() - started
        conv.turns.append(turn)
        if isinstance(client, GatewayClient) and turn.ok and rng.random() < retry_rate:
            # Twilio retrying the same MessageSid: the same answer, nothing stored twice.
            try:
                status, again = await client.post(http, form, timeout)
                turn.retry_matched = status == 200 and again == turn.bodies
            except (TimeoutError, aiohttp.ClientError, ET.ParseError):
                turn.retry_matched = False
    conv.complete = True
    return conv


async def run_phase(
    client: GatewayClient | RasaRestClient,
    personas: Iterable[Persona],
    *,
    concurrency: int,
    seconds: float,
    think: tuple[float, float] = (1.5, 4.5),
    retry_rate: float = 0.0,
    timeout: float = 30.0,
    seed: int = 1,
    once: bool = False,
    on_progress: Callable[[Phase], None] | None = None,
) -> Phase:
    """`concurrency` conversations at once, each slot starting a new one (a new person)
    when its last ends, until `seconds` have passed; then the turns in flight finish.
    `once`: each slot has one conversation only (a warm-up)."""
    pool = iter(personas)
    phase = Phase(client.path, concurrency)
    phase.started = time.monotonic()
    deadline = phase.started + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a connection per request

    async with aiohttp.ClientSession(connector=connector) as http:

        async def slot(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            await asyncio.sleep(rng.uniform(0, think[1]))  # people do not start in step
            while time.monotonic() < deadline:
                persona = next(pool, None)
                if persona is None:
                    raise RuntimeError("ran out of accounts: raise --accounts")
                conv = Conversation(client.path, persona, client.sender(persona))
                phase.conversations.append(conv)
                await _converse(client, http, conv, deadline, think, rng, retry_rate, timeout)
                if once:
                    return

        async def progress() -> None:
            while True:
                await asyncio.sleep(10)
                if on_progress:
                    on_progress(phase)

        ticker = asyncio.create_task(progress())
        try:
            await asyncio.wait_for(
                asyncio.gather(*(slot(i) for i in range(concurrency))),
                timeout=seconds + timeout * 6 + 60,
            )
        finally:
            ticker.cancel()
    phase.ended = time.monotonic()
    return phase
