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
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ledger as ledger_mod
from bench import load, profile, report
from bench.environment import (
    LOCAL_REDIS_LOCKS,
    fresh_redis,
    machine,
    rate_limit_storage,
    say,
    store_urls,
    wait_quiet,
)
from bench.personas import Persona, demo_personas, write_placement
from bench.plan import Plan, Stores, parse_args
from bench.sampling import Memory, Sampler, cpu_by_role, resident
from bench.stack import MODEL, ROOT, Proc, Stack, rss_bytes
from bench.stats import (
    INTERVAL_LEVEL,
    Summary,
    by_step,
    percentile,
    ratio_interval,
    round_latencies,
)
from bench.training import time_training

AUTH_TOKEN = "bench-twilio-auth-token"  # a known token: the harness signs like Twilio


@dataclass
class Running:
    """The stack under measurement and the two ways into it."""

    gateway: Proc
    rasas: list[Proc]
    actions: Proc
    roles: dict[str, list[Proc]]
    gw_client: load.GatewayClient
    rasa_client: load.RasaRestClient
    pool: Any  # personas not used yet (each texts once)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, usage=__doc__)
    if not MODEL.exists():
        say(f"no trained model at {MODEL}: run `make train` first")
        return 2
    plan = Plan.of(args)
    started_at = datetime.now(UTC)
    load_before = wait_quiet(1.0, args.wait_quiet) if args.wait_quiet else os.getloadavg()[0]
    info = machine()
    say(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB; "
        f"load average {load_before:.2f}")  # fmt: skip
    work = ROOT / "var" / "bench" / started_at.strftime("%Y%m%d-%H%M%S")
    database_url, tracker_url = store_urls(args, work)
    stores = Stores(
        database_url,
        tracker_url,
        # Each conversation stays on one instance, so without Redis Rasa's in-memory lock
        # store (one per instance) still serializes each conversation's messages.
        LOCAL_REDIS_LOCKS if args.rasa_instances > 1 and fresh_redis(LOCAL_REDIS_LOCKS) else None,
        rate_limit_storage(args.rate_limit_storage_url),
    )
    results = _header(plan, stores, argv, started_at, info, load_before)
    measure_stack(plan, stores, work, results)
    measure_gateway_alone(plan, work, results)
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


def _header(
    plan: Plan,
    stores: Stores,
    argv: list[str] | None,
    started_at: datetime,
    info: dict[str, Any],
    load_before: float,
) -> dict[str, Any]:
    """The report's facts about this run, before anything is measured."""
    args = plan.args
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, "-m", "bench.run"])
    command += " " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    if os.environ.get("MAKELEVEL"):
        command = f"make bench  # runs: {command.strip()}"
    return {
        "label": args.label,
        "started_at": started_at.isoformat(timespec="seconds"),
        "command": command.strip(),
        "machine": info,
        "settings": {
            "concurrency": plan.levels,
            "seconds": args.seconds,
            "min_turns": args.min_turns,
            "rounds": args.rounds,
            "think": list(plan.think),
            "retry_rate": args.retry_rate,
            "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)",
            "database": stores.database_url.split("://")[0],
            "pipeline": str(args.pipeline) if args.pipeline else "bot/gateway/pipeline.py",
            "tracker_store": stores.tracker_url.split("://")[0],
            "rasa_instances": args.rasa_instances,
            "lock_store": stores.lock_url or "memory (each instance its own)",
            "rate_limits": stores.limits_url or "memory (each worker its own)",
        },
        "load_average": {"before": round(load_before, 2)},
        "runs": [],
    }


def measure_stack(plan: Plan, stores: Stores, work: Path, results: dict[str, Any]) -> None:
    """Start the stack, warm it up, then each run of the plan (and the profile): into
    `results`, with the stack's cold starts and memory."""
    args = plan.args
    needed = plan.accounts_needed()
    with Stack.create(work, DATABASE_URL=stores.database_url) as stack:
        say(f"app database {stores.database_url}: migrations, demo accounts, "
            f"{needed} bench accounts")  # fmt: skip
        stack.flask("db", "upgrade")
        stack.flask("demo", "load")
        personas = write_placement(work / "placement.csv", needed)
        stack.flask("accounts", "import", str(work / "placement.csv"))
        running = start(stack, args, stores, iter(personas), results)
        memory = Memory()
        warm_up(running)
        for role, procs in running.roles.items():
            memory.idle[role] = resident(procs)
        memory.workers_idle = rss_bytes(running.gateway.pid)[1]
        sampler = Sampler(running.roles, memory)
        sampler.start()
        try:
            for n, think, label, seconds in plan.runs():
                run = run_level(plan, running, stores, n, think, label, seconds)
                results["runs"].append(run)
            if args.profile:
                results["profile"] = profile.profiled_run(
                    running.gateway.pid,
                    {"rasa": [r.pid for r in running.rasas], "actions": [running.actions.pid]},
                    running.gw_client, running.pool, concurrency=args.profile_n,
                    seconds=args.seconds, think=plan.think, out_dir=work / "profile",
                )  # fmt: skip
        finally:
            sampler.stopped.set()
            sampler.join()
            results["memory"] = asdict(memory)
            results["load_average"]["after"] = round(os.getloadavg()[0], 2)
            say("stopping the stack")


def start(
    stack: Stack, args: argparse.Namespace, stores: Stores, pool: Any, results: dict[str, Any]
) -> Running:
    """The action server, the Rasa server(s) and the gateway, until each answers; their cold
    starts into `results`."""
    say(f"starting the action server and {args.rasa_instances} Rasa server(s) "
        f"(Rasa takes about 40-90 s)")  # fmt: skip
    actions, rasas = stack.start_assistant(
        args.rasa_instances, tracker_store_url=stores.tracker_url, lock_store_url=stores.lock_url
    )
    action_url = actions.base_url
    rasa_urls = tuple(r.base_url for r in rasas)
    rasa_ready = max(r.ready_after or 0.0 for r in rasas)
    say(f"action server ready in {actions.ready_after:.1f} s, Rasa in {rasa_ready:.1f} s")
    gateway_env = {
        "RASA_URL": ",".join(rasa_urls),
        "ACTION_SERVER_URL": action_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }
    if stores.limits_url:
        gateway_env["RATE_LIMIT_STORAGE_URL"] = stores.limits_url
    if args.pipeline:
        say(f"the gateway's pipeline comes from {args.pipeline}")
    gateway = stack.start_gateway(
        workers=args.workers, threads=args.threads, env=gateway_env, pipeline=args.pipeline
    )
    gateway_url = gateway.base_url
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
    return Running(
        gateway, rasas, actions, roles,
        load.GatewayClient(gateway_url, AUTH_TOKEN), load.RasaRestClient(rasa_urls), pool,
    )  # fmt: skip


def warm_up(running: Running) -> None:
    say("warming up: 4 conversations per path (first predictions, spaCy, connections)")
    demo = demo_personas()
    for client, people in (
        (running.rasa_client, _take(running.pool, 4)),
        (running.gw_client, demo),
    ):
        asyncio.run(
            load.run_phase(client, people, concurrency=4, seconds=60, think=(0.2, 0.6), once=True)
        )
    time.sleep(3)


def _progress(phase: load.Phase) -> None:
    done = phase.turns
    ok = [t.latency for t in done if t.ok]
    say(f"  {phase.path:7} N={phase.concurrency:<3} {len(done):4} turns, "
        f"{sum(not t.ok for t in done)} errors, "
        f"p95 {1000 * percentile(ok, 95):.0f} ms so far")  # fmt: skip


def run_level(
    plan: Plan,
    running: Running,
    stores: Stores,
    n: int,
    think: tuple[float, float],
    label: str,
    seconds: float,
) -> dict[str, Any]:
    """N conversations at once on both paths, in rounds that alternate them; each path's
    latencies, CPU by process, the gateway's exactly-once ledger, and the ratio."""
    args = plan.args
    rasa_client, gw_client = running.rasa_client, running.gw_client
    run: dict[str, Any] = {
        "concurrency": n,
        "label": label,
        "think": think,
        "seconds": seconds,
        "load_average": os.getloadavg()[0],
    }
    # Rounds alternate the paths (rasa, gateway, then gateway, rasa, ...): a drift in what else
    # the machine does falls on both alike.
    phases: dict[str, list[load.Phase]] = {"rasa": [], "gateway": []}
    # per path and process: [CPU seconds, seconds waiting for a core]
    cpu: dict[str, dict[str, list[float]]] = {"rasa": {}, "gateway": {}}
    for round_no in range(args.rounds):
        order = (rasa_client, gw_client) if round_no % 2 == 0 else (gw_client, rasa_client)
        for client in order:
            say(f"N={label}: {n} conversations at once to {client.path} for "
                f"{seconds / args.rounds:.0f} s "
                f"(round {round_no + 1} of {args.rounds})")  # fmt: skip
            before = cpu_by_role(running.roles)
            phase = asyncio.run(
                load.run_phase(
                    client, running.pool, concurrency=n, seconds=seconds / args.rounds,
                    think=think, seed=n * 100 + round_no, on_progress=_progress,
                    retry_rate=args.retry_rate if client is gw_client else 0.0,
                )
            )  # fmt: skip
            used = cpu[client.path]
            for role, (spent, waited) in cpu_by_role(running.roles).items():
                sums = used.setdefault(role, [0.0, 0.0])
                sums[0] += spent - before[role][0]
                sums[1] += waited - before[role][1]
            phases[client.path].append(phase)
    for client in (rasa_client, gw_client):
        run[client.path] = _path_result(client.path, phases[client.path], cpu[client.path])
    turns = [t for phase in phases["gateway"] for t in phase.turns]
    run["ledger"] = _exactly_once(stores.database_url, turns)
    run["ratio_p95"] = run["gateway"]["p95"] / run["rasa"]["p95"]
    run["ratio_p95_interval"] = ratio_interval(
        round_latencies(*phases["gateway"]), round_latencies(*phases["rasa"])
    )
    run["load_average_after"] = os.getloadavg()[0]
    say(f"  N={label}: gateway p95 / Rasa p95 = {run['ratio_p95']:.2f} "
        f"({INTERVAL_LEVEL}% of resamples {report.interval(run)})")  # fmt: skip
    return run


def _path_result(
    path: str, phases: list[load.Phase], cpu: dict[str, list[float]]
) -> dict[str, Any]:
    """One path's latencies, by step too, and each process's CPU and waits a turn."""
    summary = Summary.of(*phases)
    result = asdict(summary)
    result["by_step"] = by_step(*phases)
    answered = max(summary.turns - summary.errors, 1)
    result["cpu_ms_per_turn"] = {name: 1000 * spent / answered for name, (spent, _) in cpu.items()}
    waits = {name: 1000 * waited / answered for name, (_, waited) in cpu.items()}
    result["core_wait_ms_per_turn"] = waits
    say(f"  {path}: {summary.turns} turns, {summary.errors} errors, "
        f"p50 {summary.p50 * 1000:.0f} ms, p95 {summary.p95 * 1000:.0f} ms, "
        f"p99 {summary.p99 * 1000:.0f} ms, {summary.throughput:.1f} turns/s; "
        f"{summary.verified}/{summary.conversations} verified; CPU a turn "
        "(waiting for a core): "
        + ", ".join(f"{k} {v:.0f} ({waits[k]:.0f}) ms"
                    for k, v in result["cpu_ms_per_turn"].items())
    )  # fmt: skip
    return result


def _exactly_once(database_url: str, turns: list[load.Turn]) -> dict[str, Any]:
    """The app database against what the gateway path sent."""
    ledger = ledger_mod.check(database_url, turns)
    say(f"  exactly-once: {ledger.sent} sent (+{ledger.retries} retries), "
        f"{ledger.inbound_rows} stored, {ledger.missing} missing, "
        f"{ledger.duplicated} duplicated, {ledger.unanswered} unanswered, "
        f"{ledger.late} late: {_verdict(ledger.clean)}")  # fmt: skip
    for problem in ledger.problems[:5]:
        say(f"    {problem}")
    return asdict(ledger) | {"clean": ledger.clean, "problems": ledger.problems[:10]}


def measure_gateway_alone(plan: Plan, work: Path, results: dict[str, Any]) -> None:
    """The gateway with Rasa stubbed: in process (1 and 4 threads), and over HTTP under
    gunicorn at the largest N; each with --pipeline when given."""
    args = plan.args
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
    if args.gateway_http_seconds and plan.levels:
        from bench import gateway_http

        n = max(plan.levels)
        say(f"the gateway over HTTP, Rasa stubbed: N={n} for {args.gateway_http_seconds:.0f} s")
        results["gateway_http"] = gateway_http.measure(
            work / "gateway-http",
            concurrency=n,
            seconds=args.gateway_http_seconds,
            rate_limits_url=rate_limit_storage(args.rate_limit_storage_url),
            workers=args.workers,
            threads=args.threads,
            think=plan.think,
            pipeline=args.pipeline,
        )
        say("  " + gateway_http.summary_line(results["gateway_http"]))


def _verdict(clean: bool) -> str:
    return "clean" if clean else "NOT CLEAN"


def _take(pool: Any, n: int) -> list[Persona]:
    return [next(pool) for _ in range(n)]


if __name__ == "__main__":
    sys.exit(main())
