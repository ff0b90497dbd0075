"""The gateway's own latency over HTTP, under gunicorn as deployed, with Rasa and its action
server replaced by an instant stub: N signed SMS conversations at the benchmark's pace, and
nothing else of ours on the cores. What the gateway adds to a turn by itself; the gap in the
full benchmark (where Rasa, its action server and the gateway share two cores) can be read
against it.

    .venv/bin/python -m bench.gateway_http [--concurrency 50] [--seconds 60] [--pipeline F.py]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from bench import load
from bench.personas import write_placement
from bench.stack import Stack, child_pids, free_port, usage
from bench.stats import Summary

TOKEN = "gateway-http-token"


# ---------------------------------------------------------------------- the stub
def stub_app() -> web.Application:
    """Answers what the gateway asks of Rasa and of the action server, at once: two replies
    to every message, 200 to the health checks and to pausing or resuming a tracker."""

    async def message(request: web.Request) -> web.Response:
        body = await request.json()
        text = str(body.get("message", ""))[:40]
        sender = body.get("sender")
        return web.json_response(
            [
                {"recipient_id": sender, "text": f"You said: {text}"},
                {"recipient_id": sender, "text": "Anything else I can help with?"},
            ]
        )

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "stub"})

    app = web.Application()
    app.add_routes(
        [
            web.post("/webhooks/rest/webhook", message),
            web.get("/version", ok),
            web.get("/health", ok),
            web.post("/conversations/{sender}/tracker/events", ok),
        ]
    )
    return app


# ---------------------------------------------------------------------- the measurement
def measure(
    work: Path,
    *,
    concurrency: int,
    seconds: float,
    database_url: str | None = None,
    rate_limits_url: str | None = None,
    workers: int = 2,
    threads: int = 8,
    think: tuple[float, float] = (1.5, 4.5),
    pipeline: Path | None = None,
) -> dict[str, Any]:
    """Start the stub and the webhook app under gunicorn in `work`, warm them up, then run
    `concurrency` conversations for `seconds`: the turns' latencies and the gateway's CPU."""
    database_url = database_url or f"sqlite:///{work / 'app.db'}"
    stub_port = free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"
    with Stack.create(work, DATABASE_URL=database_url) as stack:
        stack.flask("db", "upgrade")
        per_slot = int(seconds / (5 * think[0])) + 3
        personas = write_placement(
            work / "placement.csv", concurrency * per_slot + 20, prefix="GWH"
        )
        stack.flask("accounts", "import", str(work / "placement.csv"))
        stub = stack.spawn(
            "stub", [sys.executable, "-m", "bench.gateway_http", "--serve-stub", str(stub_port)],
            f"{stub_url}/version",
        )  # fmt: skip
        env = {"RASA_URL": stub_url, "ACTION_SERVER_URL": stub_url, "TWILIO_AUTH_TOKEN": TOKEN}
        if rate_limits_url:
            env["RATE_LIMIT_STORAGE_URL"] = rate_limits_url
        gateway = stack.start_gateway(workers=workers, threads=threads, env=env, pipeline=pipeline)
        stack.wait_ready([stub, gateway])
        client = load.GatewayClient(gateway.base_url, TOKEN)
        pool = iter(personas)
        asyncio.run(  # first requests: imports, connections, compiled statements
            load.run_phase(client, pool, concurrency=4, seconds=30, think=(0.1, 0.3), once=True)
        )
        pids = [gateway.pid, *child_pids(gateway.pid)]  # gunicorn and its workers
        cpu_before, wait_before = usage(pids)
        phase = asyncio.run(
            load.run_phase(client, pool, concurrency=concurrency, seconds=seconds, think=think)
        )
        cpu_after, wait_after = usage(pids)
        cpu, waited = cpu_after - cpu_before, wait_after - wait_before
    summary = Summary.of(phase)
    answered = max(summary.turns - summary.errors, 1)
    return {
        "concurrency": concurrency,
        "seconds": seconds,
        "workers": workers,
        "threads": threads,
        "database": database_url.split("://")[0],
        "rate_limits": "redis" if rate_limits_url else "memory",
        "turns": summary.turns,
        "errors": summary.errors,
        "p50": summary.p50,
        "p95": summary.p95,
        "p99": summary.p99,
        "max": summary.max,
        "cpu_ms_per_turn": 1000 * cpu / answered,
        "core_wait_ms_per_turn": 1000 * waited / answered,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--database-url", help="default: a fresh SQLite file")
    p.add_argument("--rate-limit-storage-url", help="e.g. redis://127.0.0.1:6379/15")
    p.add_argument("--pipeline", type=Path, help="another bot/gateway/pipeline.py to measure")
    p.add_argument("--serve-stub", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_stub:
        web.run_app(stub_app(), host="127.0.0.1", port=args.serve_stub, print=None)
        return 0
    with tempfile.TemporaryDirectory(prefix="gateway-http-", dir=os.environ.get("TMPDIR")) as tmp:
        r = measure(
            Path(tmp),
            concurrency=args.concurrency,
            seconds=args.seconds,
            database_url=args.database_url,
            rate_limits_url=args.rate_limit_storage_url,
            pipeline=args.pipeline,
        )
    print(summary_line(r) + (f" [{args.pipeline}]" if args.pipeline else ""))
    return 0


def summary_line(r: dict[str, Any]) -> str:
    return (
        f"gateway over HTTP (gunicorn {r['workers']} x {r['threads']}, Rasa stubbed), "
        f"{r['database']}, N={r['concurrency']}: {r['turns']} turns, {r['errors']} errors, "
        f"p50 {r['p50'] * 1000:.1f} ms, p95 {r['p95'] * 1000:.1f} ms, "
        f"p99 {r['p99'] * 1000:.1f} ms; CPU {r['cpu_ms_per_turn']:.1f} ms a turn "
        f"(waiting for a core {r['core_wait_ms_per_turn']:.1f})"
    )


if __name__ == "__main__":
    sys.exit(main())
