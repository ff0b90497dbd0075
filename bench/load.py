"""Conversations that behave like people: a few seconds between messages, each from its own
phone, verifying and then asking about the debt. The same scripts go through the gateway
(signed SMS to POST /twilio/sms) or straight to Rasa's REST channel.

Every load is bounded: a phase stops starting turns at its deadline, every request has a
timeout, and only loopback addresses are used."""

from __future__ import annotations

import asyncio
import csv
import random
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
from twilio.request_validator import RequestValidator

from bot.gateway.rasa_client import pick_instance

DEMO_PLACEMENT = Path(__file__).resolve().parents[1] / "demo" / "placement.csv"
AREA_CODES = ("206", "312", "404", "212", "617", "415", "303", "512", "602", "503")
STATES = {
    "206": ("WA", "98103"), "312": ("IL", "60614"), "404": ("GA", "30307"),
    "212": ("NY", "10001"), "617": ("MA", "02139"), "415": ("CA", "94110"),
    "303": ("CO", "80205"), "512": ("TX", "78701"), "602": ("AZ", "85004"),
    "503": ("OR", "97205"),
}  # fmt: skip
PLACEMENT_HEADER = [
    "account_ref",
    "creditor",
    "first_name",
    "last_name",
    "phone",
    "email",
    "date_of_birth",
    "ssn_last4",
    "zip",
    "state",
    "principal",
    "interest",
    "fees",
    "delinquent_since",
    "last_payment_date",
]
FIRST = ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "June", "Kai", "Lee")
LAST = ("Reyes", "Stone", "Patel", "Kim", "Olsen", "Moreau", "Baker", "Silva", "Novak", "Ito")


@dataclass(frozen=True)
class Persona:
    account_ref: str
    phone: str
    dob: date
    zip: str
    balance: Decimal

    def script(self, rng: random.Random) -> list[str]:
        """A realistic SMS conversation: hello, date of birth, ZIP, then the debt."""
        dob = rng.choice(
            (f"{self.dob.month}/{self.dob.day}/{self.dob.year}",
             f"{self.dob.month}/{self.dob.day}/{self.dob.year % 100:02d}")
        )  # fmt: skip
        return [
            rng.choice(("hi", "hello", "Hi, I got a text from you")),
            dob,
            self.zip,
            rng.choice(("how much do i owe", "what is my balance", "how much do I owe?")),
            rng.choice(("why is it so much", "what is this charge for")),
            rng.choice(("can i do a payment plan", "can I pay in installments")),
        ]

    @property
    def balance_text(self) -> str:
        return f"${self.balance:,.2f}"


def demo_personas(path: Path = DEMO_PLACEMENT) -> list[Persona]:
    with path.open() as fh:
        return [_persona(row) for row in csv.DictReader(fh)]


def _persona(row: dict[str, str]) -> Persona:
    return Persona(
        account_ref=row["account_ref"],
        phone=row["phone"],
        dob=date.fromisoformat(row["date_of_birth"]),
        zip=row["zip"],
        balance=Decimal(row["principal"]) + Decimal(row["interest"]) + Decimal(row["fees"]),
    )


def write_placement(path: Path, count: int, *, seed: int = 7, prefix: str = "BEN") -> list[Persona]:
    """`count` demo-like accounts, each with its own valid US phone, for `accounts import`."""
    from bot.services.verification import normalize_phone

    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    n = 0
    while len(rows) < count:
        area = AREA_CODES[n % len(AREA_CODES)]
        phone = normalize_phone(f"+1{area}555{1000 + n // len(AREA_CODES):04d}")
        n += 1
        if phone is None:
            continue
        state, zip_code = STATES[area]
        principal = Decimal(rng.randrange(5000, 400000)) / 100
        dob = date(rng.randrange(1950, 2002), rng.randrange(1, 13), rng.randrange(1, 29))
        rows.append(
            {
                "account_ref": f"{prefix}-{len(rows) + 1:06d}",
                "creditor": "Evergreen Health",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "phone": phone,
                "email": "",
                "date_of_birth": dob.isoformat(),
                "ssn_last4": f"{rng.randrange(10000):04d}",
                "zip": zip_code,
                "state": state,
                "principal": f"{principal:.2f}",
                "interest": f"{Decimal(rng.randrange(0, 30000)) / 100:.2f}",
                "fees": f"{Decimal(rng.choice((0, 1500, 3500, 6500))) / 100:.2f}",
                "delinquent_since": "2026-02-01",
                "last_payment_date": "",
            }
        )
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=PLACEMENT_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return [_persona(row) for row in rows]


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


# ---------------------------------------------------------------------- statistics
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


#: What each step of `Persona.script` asks, for the by-step table.
STEPS = ("hello", "date of birth", "ZIP", "balance", "why", "payment plan")


def by_step(*phases: Phase) -> list[dict[str, float]]:
    """Each step of the script's answered turns: how many, p50 and p95 (one path's phases).
    Where a path's time goes by what is asked: the first text opens a conversation, the
    third verifies, the later ones read the account."""
    steps: list[list[float]] = [[] for _ in STEPS]
    for phase in phases:
        for turn in phase.turns:
            if turn.ok and turn.index < len(steps):
                steps[turn.index].append(turn.latency)
    return [
        {"turns": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}
        for values in steps
    ]


#: The bootstrap behind each ratio's interval: how many resamples, and the share they span.
RESAMPLES = 2000
INTERVAL_LEVEL = 90


Round = list[list[float]]  # one round of one path: a list per conversation of its latencies


def round_latencies(*phases: Phase) -> list[Round]:
    """Each phase's (round's) answered turns' latencies, one list per conversation."""
    return [[[t.latency for t in c.turns if t.ok] for c in phase.conversations] for phase in phases]


def ratio_interval(
    numerator: list[Round],
    denominator: list[Round],
    *,
    q: float = 95,
    iterations: int = RESAMPLES,
    level: float = INTERVAL_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """How far the ratio of two paths' q-th percentiles could move by chance: the `level`%
    interval of a bootstrap in two stages. First the rounds: round k of both paths ran the
    same scripts side by side, so they are drawn together, and a slow stretch of the machine
    during some rounds, or a burst that slowed everyone in a round, counts as one draw, not as
    dozens of independent slow turns. Then, within each drawn round, its conversations (a
    person's turns go together). With one round it is a bootstrap over conversations."""
    rng = random.Random(seed)
    pairs = [
        ([c for c in top if c], [c for c in bottom if c])
        for top, bottom in zip(numerator, denominator, strict=True)
    ]
    pairs = [(top, bottom) for top, bottom in pairs if top and bottom]
    if not pairs:
        return float("nan"), float("nan")

    def p(conversations_by_round: list[Round]) -> float:
        latencies = [
            x
            for conversations in conversations_by_round
            for turns in rng.choices(conversations, k=len(conversations))
            for x in turns
        ]
        return percentile(latencies, q)

    ratios = []
    for _ in range(iterations):
        drawn = rng.choices(pairs, k=len(pairs))
        ratios.append(p([top for top, _ in drawn]) / p([bottom for _, bottom in drawn]))
    ratios.sort()
    tail = (100 - level) / 2
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


@dataclass(frozen=True)
class Summary:
    path: str
    concurrency: int
    turns: int
    errors: int
    empty: int  # answered with no reply (gateway: the reply went late through the outbox)
    p50: float
    p95: float
    p99: float
    max: float
    throughput: float  # turns answered per second over the phase
    conversations: int  # that reached the ZIP
    verified: int
    balance_shown: int  # of those that asked for it

    @classmethod
    def of(cls, *phases: Phase) -> Summary:
        """One path's figures over its phases (the rounds of one N, interleaved with the
        other path's): latencies together, turns/s over the time each phase ran."""
        turns = [t for phase in phases for t in phase.turns]
        conversations = [c for phase in phases for c in phase.conversations]
        ok = [t.latency for t in turns if t.ok]
        busy = 0.0
        for phase in phases:
            done = phase.turns
            first = min((t.started for t in done), default=phase.started)
            last = max((t.started + t.latency for t in done), default=phase.ended)
            busy += last - first
        convs = [c for c in conversations if c.reached_verification]
        asked = [c for c in conversations if len(c.turns) >= 4]
        return cls(
            path=phases[0].path,
            concurrency=phases[0].concurrency,
            turns=len(turns),
            errors=sum(not t.ok for t in turns),
            empty=sum(t.ok and not t.bodies for t in turns),
            p50=percentile(ok, 50),
            p95=percentile(ok, 95),
            p99=percentile(ok, 99),
            max=max(ok, default=float("nan")),
            throughput=len(ok) / max(busy, 1e-9),
            conversations=len(convs),
            verified=sum(c.verified for c in convs),
            balance_shown=sum(c.balance_shown for c in asked),
        )
