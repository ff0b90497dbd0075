"""The gateway's own cost per SMS turn, with Rasa replaced by an instant stub: the whole
Flask request (signature, rate limit, store, redact, keywords, safety net, routing, contact
rules, replies, TwiML) over a real app database, in one process. What it adds to a turn,
without Rasa's time or noise around it; optionally profiled with pyinstrument.

    .venv/bin/python -m bench.gateway_only [--turns 600] [--threads 1] [--profile FILE.html]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator

from bench.personas import Persona, write_placement
from bench.stack import ROOT, app_python
from bench.stats import percentile

TOKEN = "gateway-only-token"
URL = "http://localhost/twilio/sms"


class InstantRasa:
    """Answers like the real assistant would, at once."""

    base_urls = ("http://stub",)

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        return [f"You said: {text[:40]}", "Anything else I can help with?"]

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        pass

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        pass

    def tracker(self, sender: str, *, timeout: float = 3) -> dict[str, Any]:
        return {}


def measure(
    database_url: str,
    work: Path,
    turns: int,
    threads: int,
    profile: Path | None,
    pipeline: Path | None = None,
) -> dict[str, Any]:
    from bot.web import create_app

    work.mkdir(parents=True, exist_ok=True)
    # one client address sends everything here: the per-address limit is not what is measured
    os.environ.setdefault("RATE_LIMIT_SMS_PER_IP", "1000000/minute")
    personas = write_placement(work / "placement.csv", max(20, turns // 6 + threads), prefix="GWO")
    env = {"DATABASE_URL": database_url, "VAR_DIR": str(work), "SECRET_KEY": "x"}
    for args in (["db", "upgrade"], ["accounts", "import", str(work / "placement.csv")]):
        subprocess.run(
            [app_python(), "-m", "flask", "--app", "webhook_app", *args],
            cwd=ROOT, env={**env, "PATH": ""}, check=True, capture_output=True,
        )  # fmt: skip
    app = create_app(
        {"database_url": database_url, "var_dir": work, "twilio_auth_token": TOKEN,
         "public_base_url": None, "secret_key": "x"}
    )  # fmt: skip
    if pipeline is not None:  # another version of bot/gateway/pipeline.py, for an A/B
        import importlib.util

        spec = importlib.util.spec_from_file_location("pipeline_under_test", pipeline)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        current = app.extensions["gateway"]
        app.extensions["gateway"] = module.Gateway(current.settings, current.sessions)
    app.extensions["gateway"].rasa = InstantRasa()
    validator = RequestValidator(TOKEN)
    rng = random.Random(3)
    scripts = [(p, p.script(rng)) for p in personas]
    latencies: list[float] = []
    lock = threading.Lock()
    work_items = [(p, text) for p, script in scripts for text in script][:turns]
    # each thread takes whole conversations, in order
    per_thread: list[list[tuple[Persona, str]]] = [[] for _ in range(threads)]
    for i, (persona, script) in enumerate(scripts):
        per_thread[i % threads].extend((persona, t) for t in script)
    budget = turns // threads

    def run(items: list[tuple[Persona, str]]) -> None:
        client = app.test_client()
        for persona, text in items[:budget]:
            form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": persona.phone,
                    "To": "+18005550199", "Body": text}  # fmt: skip
            signature = validator.compute_signature(URL, form)
            started = time.perf_counter()
            response = client.post(
                "/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.get_data(as_text=True)
            with lock:
                latencies.append(elapsed)

    del work_items
    run(per_thread[0][:12])  # warm-up: imports, spaCy, connections
    latencies.clear()
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    per_thread[0] = per_thread[0][12:]
    if threads == 1:
        run(per_thread[0])  # in this thread: pyinstrument profiles it
    else:
        workers = [threading.Thread(target=run, args=(items,)) for items in per_thread]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:20000])
    return {
        "turns": len(latencies),
        "threads": threads,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "throughput": len(latencies) / wall,
        "cpu_per_turn": cpu / max(len(latencies), 1),
        "database": database_url.split("://")[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--turns", type=int, default=600)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--database-url", help="default: a fresh SQLite file")
    p.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here")
    p.add_argument("--pipeline", type=Path, help="another bot/gateway/pipeline.py to measure")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gateway-only-") as tmp:
        work = Path(tmp)
        url = args.database_url or f"sqlite:///{work / 'app.db'}"
        result = measure(url, work, args.turns, args.threads, args.profile, args.pipeline)
    print(
        f"gateway alone (Rasa stubbed), {result['database']}, {result['threads']} thread(s): "
        f"{result['turns']} turns, p50 {result['p50'] * 1000:.1f} ms, "
        f"p95 {result['p95'] * 1000:.1f} ms, "
        f"p99 {result['p99'] * 1000:.1f} ms, {result['throughput']:.0f} turns/s, "
        f"CPU {result['cpu_per_turn'] * 1000:.1f} ms a turn"
        + (f" [{args.pipeline}]" if args.pipeline else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
