"""The figures of a benchmark's phases: percentiles, latency by step of the script, each
path's summary, and how far a ratio of two paths' percentiles could move by chance."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.load import Phase


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
