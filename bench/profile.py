"""Sampling profiles of the gateway's gunicorn workers with py-spy during a run of its own,
and a summary of where their CPU time goes (py-spy's raw format: one line per distinct
stack, then its count)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import load
from bench.environment import say
from bench.stack import ROOT, child_pids
from bench.stats import Summary

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    local = ROOT / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(
    pids: list[int], seconds: float, out_dir: Path, *, subprocesses: bool = False
) -> list[subprocess.Popen[bytes]]:
    """Start one py-spy per worker (raw stacks, 100 Hz, without pausing the process);
    `subprocesses`: its children too (the action server's Sanic runs in a child)."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install -r bench/requirements.txt)")
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in pids:
        procs.append(
            subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                 "--rate", "100", "--nonblocking", "--format", "raw",
                 "--output", str(out_dir / f"worker-{pid}.txt"),
                 *(["--subprocesses"] if subprocesses else [])],
                stdout=subprocess.DEVNULL,
                stderr=(out_dir / f"py-spy-{pid}.log").open("wb"),
            )
        )  # fmt: skip
    return procs


@dataclass
class ProfileSummary:
    samples: int = 0
    inclusive: Counter[str] = field(default_factory=Counter)  # function -> samples on stack
    leaf: Counter[str] = field(default_factory=Counter)  # function -> samples on top
    stacks: list[tuple[list[str], int]] = field(default_factory=list)

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0

    def containing(self, needle: str) -> float:
        """Share of the samples with a frame whose name contains `needle`."""
        return self.share(sum(n for frames, n in self.stacks if any(needle in f for f in frames)))


def _name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


def summarize(files: list[Path]) -> ProfileSummary:
    summary = ProfileSummary()
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_name(f) for f in stack.split(";") if f]
            # the thread name py-spy puts first is not a frame
            frames = [f for f in frames if not f.startswith(("thread ", "process "))]
            if not frames:
                continue
            summary.samples += count
            summary.stacks.append((frames, count))
            summary.leaf[frames[-1]] += count
            for name in set(frames):
                summary.inclusive[name] += count
    return summary


#: What a gateway turn is made of, as parts of its stack (matched on the function name).
PARTS = {
    "signature check (twilio RequestValidator)": "validate (twilio/request_validator.py)",
    "SMS rate limits (AppLimits.check_sms)": "check_sms (bot/web/limits.py)",
    "other rate limits (flask-limiter, every request)": "(flask_limiter/",
    "store the inbound message and decide its turn (_receive)": "._receive (",
    "keywords, safety net, routing (routing.route)": "route (bot/gateway/routing.py)",
    "safety net (spaCy matcher)": "check (bot/gateway/safety.py)",
    "contact rules (consent.conversation_decision)": "conversation_decision (bot/services/",
    "store the replies (replies.record_replies)": "record_replies (bot/gateway/replies.py)",
    "message hash chain (bot/models/chained.py)": "(bot/models/chained.py)",
    "the HTTP call to Rasa (RasaClient.send)": "send (bot/gateway/rasa_client.py)",
    "TwiML (twiml)": "twiml (bot/web/sms.py)",
    "SQLAlchemy and the database driver (anywhere)": "(sqlalchemy/",
    "SQLite commits (do_commit)": "do_commit (sqlalchemy/",
    "the request inside Flask (full_dispatch_request)": "full_dispatch_request (flask/app.py)",
}


def parts_table(summary: ProfileSummary) -> list[tuple[str, float]]:
    return [(label, summary.containing(needle)) for label, needle in PARTS.items()]


def top_functions(
    summary: ProfileSummary, n: int = 15, *, ours: bool = True
) -> list[tuple[str, float]]:
    items = summary.inclusive if ours else summary.leaf
    chosen = [
        (name, count)
        for name, count in items.most_common()
        if not ours or "(bot/" in name or "(webhook_app" in name
    ]
    return [(name, summary.share(count)) for name, count in chosen[:n]]


def profiled_run(
    gateway_pid: int,
    others: dict[str, list[int]],
    client: load.GatewayClient,
    pool: Any,
    *,
    concurrency: int,
    seconds: float,
    think: tuple[float, float],
    out_dir: Path,
) -> dict[str, Any]:
    """An extra gateway run of N=`concurrency` conversations with py-spy sampling each
    gunicorn worker, and `others` (Rasa and the action server, by role) for where a turn's
    time goes besides the gateway. Not in the latency tables: the sampler costs a little."""
    workers = child_pids(gateway_pid)
    say(f"profiling the gateway at N={concurrency} with py-spy (workers {workers})")
    spies = record(workers, seconds + 5, out_dir)
    for name, pids in others.items():
        spies += record(pids, seconds + 5, out_dir / name, subprocesses=True)
    phase = asyncio.run(
        load.run_phase(client, pool, concurrency=concurrency, seconds=seconds, think=think,
                       seed=99)
    )  # fmt: skip
    for spy in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.terminate()
    summary = summarize(sorted(out_dir.glob("worker-*.txt")))
    measured = Summary.of(phase)
    elsewhere = {}
    for name in others:
        other = summarize(sorted((out_dir / name).glob("worker-*.txt")))
        elsewhere[name] = {
            "samples": other.samples,
            "leaf": top_functions(other, 12, ours=False),
            "inclusive": [(fn, other.share(n)) for fn, n in other.inclusive.most_common(25)],
        }
    say(f"  profiled run: p95 {measured.p95 * 1000:.0f} ms; {summary.samples} CPU samples")
    return {
        "concurrency": concurrency,
        "turns": measured.turns,
        "p95": measured.p95,
        "samples": summary.samples,
        "seconds": seconds,
        "parts": parts_table(summary),
        "ours": top_functions(summary, 15, ours=True),
        "leaf": top_functions(summary, 15, ours=False),
        "files": str(out_dir.relative_to(ROOT)),
        "elsewhere": elsewhere,
    }
