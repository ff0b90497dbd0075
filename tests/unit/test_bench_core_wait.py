"""The benchmark's account of CPU by process (bench/stack.py, bench/report.py): besides the
CPU a turn, how long each process was ready to run but waited for one of the shared cores."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.report import cpu_table
from bench.stack import core_wait_seconds

SPIN = "import time\nend = time.monotonic() + 0.6\nwhile time.monotonic() < end: pass\n"


@pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").exists(),
    reason="the kernel keeps no scheduler statistics here",
)
def test_two_busy_processes_on_one_core_each_wait_for_it() -> None:
    core = min(os.sched_getaffinity(0))
    spinners = [
        subprocess.Popen(
            [sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{core}}})\n{SPIN}"]
        )
        for _ in range(2)
    ]
    try:
        time.sleep(0.4)
        waited = [core_wait_seconds(p.pid) for p in spinners]
    finally:
        for p in spinners:
            p.wait(timeout=10)
    # Sharing one core for 0.4 s, each waited for the other for a good part of that time.
    assert all(w > 0.05 for w in waited), waited


def test_a_process_that_has_ended_counts_nothing() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait(timeout=10)
    assert core_wait_seconds(done.pid) == 0.0


def _run(waits: bool) -> dict:
    path = {
        "cpu_ms_per_turn": {"gateway": 13.5, "rasa": 39.3, "actions": 9.6, "load": 4.2},
    }
    if waits:
        path["core_wait_ms_per_turn"] = {"gateway": 10.8, "rasa": 2.6, "actions": 11.3, "load": 2.8}
    return {"concurrency": 50, "label": "50", "rasa": path, "gateway": path}


def test_the_table_shows_the_wait_for_a_core_beside_the_cpu() -> None:
    rows = cpu_table([_run(waits=True)])
    gateway = next(r for r in rows if "gateway SMS" in r)
    assert "| 13.5 (10.8) | 39.3 (2.6) | 9.6 (11.3) | 62.4 (24.7) | 4.2 (2.8) |" in gateway


def test_results_measured_before_waits_were_kept_still_render() -> None:
    run = _run(waits=False)
    del run["gateway"]["cpu_ms_per_turn"]["load"]
    rows = cpu_table([run])
    assert any("| 13.5 | 39.3 | 9.6 | 62.4 | - |" in r for r in rows)
