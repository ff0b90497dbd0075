"""What a benchmark run stands on: the machine (its CPU, memory and load), and the stores it
starts from empty (SQLite files or the local PostgreSQL; the local Redis). Used by
bench/run.py."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.stack import RASA


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


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
