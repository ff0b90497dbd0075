"""What `make bench` is asked to measure: its command line, and the plan made of it (each
run's N, pace and length, and how many accounts they need)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from bench.stack import ROOT


def parse_args(argv: list[str] | None = None, *, usage: str | None = None) -> argparse.Namespace:
    """`usage`: the help text above the options (bench/run.py's docstring)."""
    p = argparse.ArgumentParser(description=usage, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--concurrency", default="1,5,20,50", help="conversations at once, per run")
    p.add_argument("--seconds", type=float, default=120, help="length of each run (per path)")
    p.add_argument(
        "--rounds", type=int, default=8,
        help="split each path's run into this many rounds, alternating with the other path's "
        "(more rounds: a slow stretch of the shared machine falls on both paths more evenly, "
        "and the ratio's interval, drawn by rounds, narrows)",
    )  # fmt: skip
    p.add_argument(
        "--min-turns", type=int, default=80,
        help="run a small N longer, so that each path has about this many turns (a p95 of "
        "20 turns is the second-slowest one)",
    )  # fmt: skip
    p.add_argument("--think", default="1.5,4.5", help="seconds between a person's messages")
    p.add_argument("--retry-rate", type=float, default=0.05, help="share of SMS Twilio resends")
    p.add_argument(
        "--rasa-instances", type=int, default=1,
        help="Rasa servers, as deploy/ runs them: each conversation on one (the gateway's "
        "rendezvous hash; the Rasa path routes alike), one tracker store, the local Redis as "
        "lock store when it answers. One Rasa server answers on one core",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    p.add_argument(
        "--stores", choices=("sqlite", "postgresql", "auto"), default="sqlite",
        help="the app database and Rasa's tracker store: fresh SQLite files (one machine), or "
        "fresh databases bench_app and bench_tracker on the local PostgreSQL (as deploy/ "
        "runs them); 'auto': PostgreSQL when it answers at 127.0.0.1:5432",
    )  # fmt: skip
    p.add_argument("--database-url", help="app database (instead of --stores)")
    p.add_argument("--tracker-store-url", help="Rasa tracker store (instead of --stores)")
    p.add_argument(
        "--rate-limit-storage-url", default="auto",
        help="the gateway's RATE_LIMIT_STORAGE_URL: 'auto' (the local Redis, as deploy/ sets "
        "it, when it answers; else in memory), 'memory', or a redis:// URL",
    )  # fmt: skip
    p.add_argument(
        "--train", action=argparse.BooleanOptionalAction, default=False,
        help="also time `rasa train` from scratch (1-3 min)",
    )  # fmt: skip
    p.add_argument(
        "--profile", action=argparse.BooleanOptionalAction, default=False,
        help="py-spy the gateway's workers at --profile-n",
    )  # fmt: skip
    p.add_argument("--profile-n", type=int, default=20)
    p.add_argument(
        "--capacity-n", type=int, default=20,
        help="then N conversations with no pause between messages: the most turns/s (0: skip)",
    )  # fmt: skip
    p.add_argument(
        "--gateway-only-turns", type=int, default=400,
        help="then the gateway alone, Rasa stubbed, for this many turns (0: skip)",
    )  # fmt: skip
    p.add_argument(
        "--gateway-http-seconds", type=float, default=60,
        help="then the gateway over HTTP under gunicorn, Rasa and the action server stubbed, "
        "at the largest N for this long (0: skip)",
    )  # fmt: skip
    p.add_argument(
        "--pipeline", type=Path,
        help="serve the gateway from this version of bot/gateway/pipeline.py (a before/after)",
    )  # fmt: skip
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="report file")
    p.add_argument("--label", default="", help="a note for the report (e.g. 'before the fix')")
    p.add_argument("--wait-quiet", type=float, default=0, help="wait up to S s for load < 1")
    return p.parse_args(argv)


@dataclass(frozen=True)
class Plan:
    """What the command line asks to measure."""

    args: argparse.Namespace
    levels: list[int]
    think: tuple[float, float]

    @classmethod
    def of(cls, args: argparse.Namespace) -> Plan:
        lo, hi = (float(x) for x in args.think.split(","))
        return cls(args, [int(n) for n in args.concurrency.split(",") if n.strip()], (lo, hi))

    def seconds_for(self, n: int) -> float:
        """Each path's time at N: --seconds, or longer where that gives fewer than --min-turns
        (a person sends a message every think + about 0.05 s)."""
        return max(self.args.seconds, self.args.min_turns * (sum(self.think) / 2 + 0.05) / n)

    def per_slot(self, seconds: float) -> int:
        """Accounts one slot may use: each person texts once, then the slot starts another."""
        return math.ceil(seconds / (5 * self.think[0])) + 2 * self.args.rounds

    def accounts_needed(self) -> int:
        args = self.args
        needed = sum(n * self.per_slot(self.seconds_for(n)) * 2 for n in self.levels)
        needed += args.profile_n * self.per_slot(args.seconds) + 50
        # with no pause a conversation takes about 6 turns x 0.5-1.5 s
        return needed + args.capacity_n * (math.ceil(args.seconds / 3) + 2 * args.rounds) * 2

    def runs(self) -> list[tuple[int, tuple[float, float], str, float]]:
        """(N, pause between messages, label, seconds per path) of each run, in order."""
        runs = [(n, self.think, str(n), self.seconds_for(n)) for n in self.levels]
        if n := self.args.capacity_n:
            runs.append((n, (0.0, 0.05), f"{n}, no pause", self.args.seconds))
        return runs


@dataclass(frozen=True)
class Stores:
    database_url: str
    tracker_url: str
    lock_url: str | None  # Rasa's lock store: Redis with several instances, else in memory
    limits_url: str | None  # the gateway's rate-limit counts: Redis, else in memory
