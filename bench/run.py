"""The benchmark (`make bench`): starts the whole stack on free loopback ports, warms it up,
then for each concurrency N runs N conversations straight to Rasa's REST channel and the
same scripts as signed SMS through POST /twilio/sms (gunicorn), one after the other at the
same arrival rate, and checks the app database for exactly-once after each gateway run.
Also measures cold starts, memory, the gateway on its own (in process, and over HTTP under
gunicorn at the largest N, both with Rasa stubbed), optionally training time and a py-spy
profile of the gateway; writes bench/RESULTS.md (and the raw numbers as JSON under
var/bench/).

By default it runs the one-machine shape of `make run`: one Rasa server, SQLite files (and
the local Redis for the gateway's rate-limit counts when it answers). `--rasa-instances 2
--stores auto` runs the shape deploy/ describes on this machine: two Rasa servers (each
conversation on one, by the gateway's hash; the Rasa path routes the same way), the app
database and the tracker store on the local PostgreSQL, Redis as Rasa's lock store.

    .venv/bin/python -m bench.run [--concurrency 1,5,20,50] [--seconds 40] [--train] [--profile]
                                  [--rasa-instances 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ledger as ledger_mod
from bench import load, profile, report
from bench.stack import (
    MODEL,
    RASA,
    ROOT,
    Proc,
    Stack,
    child_pids,
    rss_bytes,
    usage,
)

AUTH_TOKEN = "bench-twilio-auth-token"  # a known token: the harness signs like Twilio


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Memory:
    idle: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    workers_idle: list[int] = field(default_factory=list)
    workers_peak: dict[int, int] = field(default_factory=dict)  # pid -> peak


class Sampler(threading.Thread):
    """Resident memory of each process (with its children) every half second: the peak."""

    def __init__(self, roles: dict[str, list[Proc]], memory: Memory) -> None:
        super().__init__(daemon=True)
        self.roles, self.memory = roles, memory
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            for role, procs in self.roles.items():
                total = resident(procs)
                self.memory.peak[role] = max(self.memory.peak.get(role, 0), total)
                if role == "gateway":
                    for pid in child_pids(procs[0].pid):
                        rss, _ = rss_bytes(pid)
                        peak = self.memory.workers_peak
                        peak[pid] = max(peak.get(pid, 0), rss)


def resident(procs: list[Proc]) -> int:
    """Resident memory of these processes and their children (gunicorn's workers), in all."""
    return sum(own + sum(children) for own, children in (rss_bytes(p.pid) for p in procs))


#: The benchmark's own process, the load generator: it shares the cores with the stack.
LOAD = "load"


def cpu_by_role(roles: dict[str, list[Proc]]) -> dict[str, tuple[float, float]]:
    """For each role's processes with their living descendants (gunicorn's workers), and for
    the load generator: CPU seconds so far, and seconds their threads waited for a core."""
    by_role = {
        role: usage([pid for p in procs for pid in (p.pid, *child_pids(p.pid))])
        for role, procs in roles.items()
    }
    return {**by_role, LOAD: usage([os.getpid()])}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    rasa_python = subprocess.run(
        [str(RASA.parent / "python"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    rasa_version = subprocess.run(
        [str(RASA.parent / "python"), "-c", "import rasa; print(rasa.__version__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"},
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "app_python": platform.python_version(),
        "rasa_python": rasa_python.replace("Python ", ""),
        "rasa": rasa_version,
    }


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait (up to max_wait seconds) for the 1-minute load average to drop under limit."""
    waited = 0.0
    while os.getloadavg()[0] >= limit and waited < max_wait:
        if waited == 0:
            say(f"load average {os.getloadavg()[0]:.2f} >= {limit}: waiting for a quiet machine")
        time.sleep(15)
        waited += 15
    return os.getloadavg()[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
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


LOCAL_REDIS = "redis://127.0.0.1:6379/15"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
LOCAL_REDIS_LOCKS = "redis://127.0.0.1:6379/14"  # Rasa's lock store, with several instances


def fresh_redis(url: str) -> bool:
    """Whether the local Redis answers at `url`; if so, that database is emptied (counts and
    locks of an earlier run, whose bench phones and conversations come again, start at zero)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        client.flushdb()
    except redis.RedisError:
        return False
    return True


def fresh_postgres(*names: str) -> bool:
    """Whether the local PostgreSQL answers; if so, these databases are created anew."""
    import psycopg

    try:
        with psycopg.connect(
            f"{LOCAL_POSTGRES}/postgres", autocommit=True, connect_timeout=3
        ) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return False
    return True


def store_urls(args: argparse.Namespace, work: Path) -> tuple[str, str]:
    """The app database's and the tracker store's URLs for --stores (or as given)."""
    postgres = False
    if args.stores != "sqlite" and not (args.database_url and args.tracker_store_url):
        postgres = fresh_postgres("bench_app", "bench_tracker")
        if not postgres and args.stores == "postgresql":
            raise SystemExit(f"--stores postgresql: no PostgreSQL answers at {LOCAL_POSTGRES}")
    if postgres:
        app = LOCAL_POSTGRES.replace("postgresql://", "postgresql+psycopg://") + "/bench_app"
        tracker = f"{LOCAL_POSTGRES}/bench_tracker"
    else:
        app, tracker = f"sqlite:///{work / 'app.db'}", f"sqlite:///{work / 'tracker.db'}"
    return args.database_url or app, args.tracker_store_url or tracker


def rate_limit_storage(choice: str) -> str | None:
    """Where the gateway keeps its rate-limit counts: None for its in-memory default."""
    if choice == "memory":
        return None
    if choice != "auto":
        return choice
    return LOCAL_REDIS if fresh_redis(LOCAL_REDIS) else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not MODEL.exists():
        say(f"no trained model at {MODEL}: run `make train` first")
        return 2
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    think_lo, think_hi = (float(x) for x in args.think.split(","))
    started_at = datetime.now(UTC)
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "-m", "bench.run"])
    command += " " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    if os.environ.get("MAKELEVEL"):
        command = f"make bench  # runs: {command.strip()}"
    load_before = wait_quiet(1.0, args.wait_quiet) if args.wait_quiet else os.getloadavg()[0]
    info = machine()
    say(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB; "
        f"load average {load_before:.2f}")  # fmt: skip

    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    work = ROOT / "var" / "bench" / stamp
    database_url, tracker_url = store_urls(args, work)
    limits_url = rate_limit_storage(args.rate_limit_storage_url)
    # Each conversation stays on one instance, so without Redis Rasa's in-memory lock store
    # (one per instance) still serializes each conversation's messages.
    lock_url = (
        LOCAL_REDIS_LOCKS if args.rasa_instances > 1 and fresh_redis(LOCAL_REDIS_LOCKS) else None
    )
    results: dict[str, Any] = {
        "label": args.label,
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": info,
        "settings": {
            "concurrency": levels,
            "seconds": args.seconds,
            "min_turns": args.min_turns,
            "rounds": args.rounds,
            "think": [think_lo, think_hi],
            "retry_rate": args.retry_rate,
            "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)",
            "database": database_url.split("://")[0],
            "pipeline": str(args.pipeline) if args.pipeline else "bot/gateway/pipeline.py",
            "tracker_store": tracker_url.split("://")[0],
            "rasa_instances": args.rasa_instances,
            "lock_store": lock_url or "memory (each instance its own)",
            "rate_limits": limits_url or "memory (each worker its own)",
        },
        "load_average": {"before": round(load_before, 2)},
        "runs": [],
    }

    def seconds_for(n: int) -> float:
        """Each path's time at N: --seconds, or longer where that gives fewer than --min-turns
        (a person sends a message every think + about 0.05 s)."""
        return max(args.seconds, args.min_turns * ((think_lo + think_hi) / 2 + 0.05) / n)

    # Enough accounts for every conversation any slot may start (each person texts once).
    def per_slot(seconds: float) -> int:
        return math.ceil(seconds / (5 * think_lo)) + 2 * args.rounds

    needed = sum(n * per_slot(seconds_for(n)) * 2 for n in levels)
    needed += args.profile_n * per_slot(args.seconds) + 50
    # with no pause a conversation takes about 6 turns x 0.5-1.5 s
    needed += args.capacity_n * (math.ceil(args.seconds / 3) + 2 * args.rounds) * 2
    with Stack.create(work, DATABASE_URL=database_url) as stack:
        say(f"app database {database_url}: migrations, demo accounts, {needed} bench accounts")
        stack.flask("db", "upgrade")
        stack.flask("demo", "load")
        personas = load.write_placement(work / "placement.csv", needed)
        stack.flask("accounts", "import", str(work / "placement.csv"))
        pool = iter(personas)

        say(f"starting the action server and {args.rasa_instances} Rasa server(s) "
            f"(Rasa takes about 40-90 s)")  # fmt: skip
        actions = stack.start_actions()
        action_url = actions.ready_url.rsplit("/", 1)[0]
        rasas = [
            stack.start_rasa(
                f"rasa-{i}",
                action_url=action_url,
                tracker_store_url=tracker_url,
                lock_store_url=lock_url,
            )
            for i in range(1, args.rasa_instances + 1)
        ]
        rasa_urls = tuple(r.ready_url.rsplit("/", 1)[0] for r in rasas)
        stack.wait_ready([actions, *rasas])
        rasa_ready = max(r.ready_after or 0.0 for r in rasas)
        say(f"action server ready in {actions.ready_after:.1f} s, Rasa in {rasa_ready:.1f} s")
        gateway_env = {
            "RASA_URL": ",".join(rasa_urls),
            "ACTION_SERVER_URL": action_url,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        }
        if limits_url:
            gateway_env["RATE_LIMIT_STORAGE_URL"] = limits_url
        app = "webhook_app:app"
        if args.pipeline:
            gateway_env["BENCH_PIPELINE"] = str(args.pipeline.resolve())
            app = "bench.ab_app:app"
            say(f"the gateway's pipeline comes from {args.pipeline}")
        gateway = stack.start_gateway(
            workers=args.workers, threads=args.threads, env=gateway_env, app=app
        )
        gateway_url = gateway.ready_url.rsplit("/", 1)[0]
        stack.wait_ready([gateway])
        say(f"gateway (gunicorn) ready in {gateway.ready_after:.1f} s at {gateway_url}")
        roles = {"actions": [actions], "rasa": rasas, "gateway": [gateway]}
        results["cold_start"] = {  # the last of a role's processes to answer
            role: {
                "seconds": round(max(p.ready_after or 0 for p in procs), 2),
                "url": procs[0].ready_url.split("/", 3)[3],
            }
            for role, procs in roles.items()
        }

        gw_client = load.GatewayClient(gateway_url, AUTH_TOKEN)
        rasa_client = load.RasaRestClient(rasa_urls)
        memory = Memory()

        say("warming up: 4 conversations per path (first predictions, spaCy, connections)")
        demo = load.demo_personas()
        for client, people in ((rasa_client, _take(pool, 4)), (gw_client, demo)):
            asyncio.run(
                load.run_phase(
                    client, people, concurrency=4, seconds=60, think=(0.2, 0.6), once=True
                )
            )
        time.sleep(3)
        for role, procs in roles.items():
            memory.idle[role] = resident(procs)
        memory.workers_idle = rss_bytes(gateway.pid)[1]
        sampler = Sampler(roles, memory)
        sampler.start()

        def progress(phase: load.Phase) -> None:
            done = phase.turns
            ok = [t.latency for t in done if t.ok]
            say(f"  {phase.path:7} N={phase.concurrency:<3} {len(done):4} turns, "
                f"{sum(not t.ok for t in done)} errors, "
                f"p95 {1000 * load.percentile(ok, 95):.0f} ms so far")  # fmt: skip

        plan = [(n, (think_lo, think_hi), str(n), seconds_for(n)) for n in levels]
        if args.capacity_n:
            plan.append(
                (args.capacity_n, (0.0, 0.05), f"{args.capacity_n}, no pause", args.seconds)
            )
        try:
            for n, think, label, seconds in plan:
                run: dict[str, Any] = {
                    "concurrency": n,
                    "label": label,
                    "think": think,
                    "seconds": seconds,
                    "load_average": os.getloadavg()[0],
                }
                # Rounds alternate the paths (rasa, gateway, then gateway, rasa, ...): a drift in
                # what else the machine does falls on both alike.
                phases: dict[str, list[load.Phase]] = {"rasa": [], "gateway": []}
                # per path and process: [CPU seconds, seconds waiting for a core]
                cpu: dict[str, dict[str, list[float]]] = {"rasa": {}, "gateway": {}}
                for round_no in range(args.rounds):
                    order = (
                        (rasa_client, gw_client) if round_no % 2 == 0 else (gw_client, rasa_client)
                    )
                    for client in order:
                        say(f"N={label}: {n} conversations at once to {client.path} for "
                            f"{seconds / args.rounds:.0f} s "
                            f"(round {round_no + 1} of {args.rounds})")  # fmt: skip
                        before = cpu_by_role(roles)
                        phase = asyncio.run(
                            load.run_phase(
                                client, pool, concurrency=n, seconds=seconds / args.rounds,
                                think=think, seed=n * 100 + round_no, on_progress=progress,
                                retry_rate=args.retry_rate if client is gw_client else 0.0,
                            )
                        )  # fmt: skip
                        used = cpu[client.path]
                        for role, (spent, waited) in cpu_by_role(roles).items():
                            sums = used.setdefault(role, [0.0, 0.0])
                            sums[0] += spent - before[role][0]
                            sums[1] += waited - before[role][1]
                        phases[client.path].append(phase)
                for client in (rasa_client, gw_client):
                    summary = load.Summary.of(*phases[client.path])
                    run[client.path] = asdict(summary)
                    run[client.path]["by_step"] = load.by_step(*phases[client.path])
                    answered = max(summary.turns - summary.errors, 1)
                    run[client.path]["cpu_ms_per_turn"] = {
                        name: 1000 * spent / answered
                        for name, (spent, _) in cpu[client.path].items()
                    }
                    run[client.path]["core_wait_ms_per_turn"] = {
                        name: 1000 * waited / answered
                        for name, (_, waited) in cpu[client.path].items()
                    }
                    waits = run[client.path]["core_wait_ms_per_turn"]
                    say(f"  {client.path}: {summary.turns} turns, {summary.errors} errors, "
                        f"p50 {summary.p50 * 1000:.0f} ms, p95 {summary.p95 * 1000:.0f} ms, "
                        f"p99 {summary.p99 * 1000:.0f} ms, {summary.throughput:.1f} turns/s; "
                        f"{summary.verified}/{summary.conversations} verified; CPU a turn "
                        "(waiting for a core): "
                        + ", ".join(f"{k} {v:.0f} ({waits[k]:.0f}) ms"
                                    for k, v in run[client.path]["cpu_ms_per_turn"].items())
                    )  # fmt: skip
                    if client is gw_client:
                        turns = [t for phase in phases["gateway"] for t in phase.turns]
                        ledger = ledger_mod.check(database_url, turns)
                        run["ledger"] = asdict(ledger) | {"clean": ledger.clean}
                        run["ledger"]["problems"] = ledger.problems[:10]
                        say(f"  exactly-once: {ledger.sent} sent (+{ledger.retries} retries), "
                            f"{ledger.inbound_rows} stored, {ledger.missing} missing, "
                            f"{ledger.duplicated} duplicated, {ledger.unanswered} unanswered, "
                            f"{ledger.late} late: {_verdict(ledger.clean)}")  # fmt: skip
                        for problem in ledger.problems[:5]:
                            say(f"    {problem}")
                run["ratio_p95"] = run["gateway"]["p95"] / run["rasa"]["p95"]
                run["ratio_p95_interval"] = load.ratio_interval(
                    load.round_latencies(*phases["gateway"]),
                    load.round_latencies(*phases["rasa"]),
                )
                run["load_average_after"] = os.getloadavg()[0]
                say(f"  N={label}: gateway p95 / Rasa p95 = {run['ratio_p95']:.2f} "
                    f"({load.INTERVAL_LEVEL}% of resamples {report.interval(run)})")  # fmt: skip
                results["runs"].append(run)

            if args.profile:
                results["profile"] = profile_gateway(
                    gateway, rasas, actions, gw_client, pool, args, (think_lo, think_hi), work
                )
        finally:
            sampler.stopped.set()
            sampler.join()
            results["memory"] = asdict(memory)
            results["load_average"]["after"] = round(os.getloadavg()[0], 2)
            say("stopping the stack")

    if args.gateway_only_turns:
        from bench import gateway_only

        say(f"the gateway alone (Rasa stubbed, in process): {args.gateway_only_turns} turns")
        results["gateway_only"] = [
            gateway_only.measure(
                f"sqlite:///{work / f'gateway-only-{threads}.db'}",
                work / f"gateway-only-{threads}",
                args.gateway_only_turns,
                threads,
                None,
                args.pipeline,
            )
            for threads in (1, 4)
        ]
        for r in results["gateway_only"]:
            say(f"  {r['threads']} thread(s): p50 {r['p50'] * 1000:.1f} ms, "
                f"p95 {r['p95'] * 1000:.1f} ms, CPU {r['cpu_per_turn'] * 1000:.1f} ms a turn, "
                f"{r['throughput']:.0f} turns/s")  # fmt: skip
    if args.gateway_http_seconds and levels:
        from bench import gateway_http

        n = max(levels)
        say(f"the gateway over HTTP, Rasa stubbed: N={n} for {args.gateway_http_seconds:.0f} s")
        results["gateway_http"] = gateway_http.measure(
            work / "gateway-http",
            concurrency=n,
            seconds=args.gateway_http_seconds,
            rate_limits_url=rate_limit_storage(args.rate_limit_storage_url),
            workers=args.workers,
            threads=args.threads,
            think=(think_lo, think_hi),
        )
        say("  " + gateway_http.summary_line(results["gateway_http"]))
    if args.train:
        results["training"] = time_training()
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    out = Path(args.out)
    report.write(out, results)
    say(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
        f"and {(work / 'results.json').relative_to(ROOT)}")  # fmt: skip
    print(report.console_summary(results), flush=True)
    unclean = [str(run["label"]) for run in results["runs"] if not run["ledger"]["clean"]]
    if unclean:
        say(f"exactly-once NOT clean at N={', '.join(unclean)}: see {out}")
        return 1
    return 0


def _verdict(clean: bool) -> str:
    return "clean" if clean else "NOT CLEAN"


def _take(pool: Any, n: int) -> list[load.Persona]:
    return [next(pool) for _ in range(n)]


def profile_gateway(
    gateway: Proc,
    rasas: list[Proc],
    actions: Proc,
    client: load.GatewayClient,
    pool: Any,
    args: argparse.Namespace,
    think: tuple[float, float],
    work: Path,
) -> dict[str, Any]:
    """An extra gateway run at N=profile_n with py-spy sampling each worker (not in the
    tables above: the sampler itself costs a little)."""
    workers = child_pids(gateway.pid)
    out_dir = work / "profile"
    say(f"profiling the gateway at N={args.profile_n} with py-spy (workers {workers})")
    spies = profile.record(workers, args.seconds + 5, out_dir)
    # Rasa and the action server too, for where a turn's time goes besides the gateway
    others = {"rasa": [r.pid for r in rasas], "actions": [actions.pid]}
    for name, pids in others.items():
        spies += profile.record(pids, args.seconds + 5, out_dir / name, subprocesses=True)
    phase = asyncio.run(
        load.run_phase(client, pool, concurrency=args.profile_n, seconds=args.seconds,
                       think=think, seed=99)
    )  # fmt: skip
    for spy in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.terminate()
    summary = profile.summarize(sorted(out_dir.glob("worker-*.txt")))
    measured = load.Summary.of(phase)
    elsewhere = {}
    for name in others:
        other = profile.summarize(sorted((out_dir / name).glob("worker-*.txt")))
        elsewhere[name] = {
            "samples": other.samples,
            "leaf": profile.top_functions(other, 12, ours=False),
            "inclusive": [(fn, other.share(n)) for fn, n in other.inclusive.most_common(25)],
        }
    say(f"  profiled run: p95 {measured.p95 * 1000:.0f} ms; {summary.samples} CPU samples")
    return {
        "concurrency": args.profile_n,
        "turns": measured.turns,
        "p95": measured.p95,
        "samples": summary.samples,
        "seconds": args.seconds,
        "parts": profile.parts_table(summary),
        "ours": profile.top_functions(summary, 15, ours=True),
        "leaf": profile.top_functions(summary, 15, ours=False),
        "files": str(out_dir.relative_to(ROOT)),
        "elsewhere": elsewhere,
    }


def time_training() -> dict[str, Any]:
    """`rasa train` from scratch (empty cache) into a temporary directory, timed."""
    say("timing `rasa train` from scratch (empty cache; 1-3 minutes on 2 cores)")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": str(ROOT),
            "RASA_CACHE_DIRECTORY": str(Path(tmp) / "cache"),
        }
        log = Path(tmp) / "train.log"
        started = time.monotonic()
        with log.open("wb") as out:
            done = subprocess.run(
                [str(RASA), "train", "--fixed-model-name", "bench", "--out", tmp],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
        seconds = time.monotonic() - started
        model = Path(tmp) / "bench.tar.gz"
        ok = done.returncode == 0 and model.exists()
        size = model.stat().st_size if ok else 0
        if not ok:
            say(f"  training failed:\n{log.read_text(errors='replace')[-2000:]}")
    say(f"  trained in {seconds:.0f} s ({size / 1e6:.1f} MB model)")
    return {"seconds": round(seconds, 1), "ok": ok, "model_mb": round(size / 1e6, 1)}


if __name__ == "__main__":
    sys.exit(main())
