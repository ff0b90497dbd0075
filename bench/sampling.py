"""What the stack's processes use while a benchmark runs: CPU and waits for a core by role
(the load generator, this process, included), and resident memory, sampled for its peak.
Used by bench/run.py."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from bench.stack import Proc, child_pids, rss_bytes, usage


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
