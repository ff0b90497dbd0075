"""Start the real processes on free loopback ports and stop them again: the action server,
one or more Rasa servers and the webhook app under gunicorn. Used by bench/run.py and by
tests/multi (the two-instance setup). Every process is started in its own session, so a
stop ends it with its children (gunicorn's workers), and only those."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "assistant.tar.gz"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_python() -> str:
    return str(APP_PYTHON) if APP_PYTHON.exists() else sys.executable


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    ready_url: str
    spawned_at: float
    ready_after: float | None = None  # seconds from spawn to the first 200 on ready_url

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        """Where it serves: its ready URL without the path."""
        return self.ready_url.rsplit("/", 1)[0]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Stack:
    """Processes over one working directory. Use as a context manager: leaving it stops
    everything it started."""

    workdir: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    @classmethod
    def create(cls, workdir: Path, **env: str) -> Stack:
        workdir.mkdir(parents=True, exist_ok=True)
        base = {
            k: v
            for k, v in os.environ.items()
            # outbound SMS are only logged; no real Twilio account is ever used here
            if not k.startswith("TWILIO_") and k not in ("DATABASE_URL", "RASA_URL")
        }
        base.update(
            {
                "VAR_DIR": str(workdir),
                "SANIC_HOST": "127.0.0.1",
                "PYTHONPATH": str(ROOT),  # Rasa imports nlu_components from the project
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "PYTHONWARNINGS": "ignore",
                "SECRET_KEY": "bench-secret-key",
            }
        )
        base.update(env)
        return cls(workdir=workdir, env=base)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ set-up
    def flask(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run `flask --app webhook_app ARGS` in the app environment; its output."""
        done = subprocess.run(
            [app_python(), "-m", "flask", "--app", "webhook_app", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def endpoints(self, name: str, env: Mapping[str, str]) -> Path:
        """Rasa's endpoints.yml for these settings, written by scripts/endpoints.sh."""
        path = self.workdir / f"endpoints-{name}.yml"
        out = subprocess.run(
            [str(ROOT / "scripts" / "endpoints.sh")],
            env={**self.env, **env},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        path.write_text(out)
        return path

    # ------------------------------------------------------------------ processes
    def spawn(
        self,
        name: str,
        argv: list[str],
        ready_url: str,
        *,
        cwd: Path = ROOT,
        env: Mapping[str, str] | None = None,
    ) -> Proc:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with its children
            )
        proc = Proc(name, popen, log, ready_url, time.monotonic())
        self.procs.append(proc)
        return proc

    def start_actions(self, port: int | None = None) -> Proc:
        port = port or free_port()
        return self.spawn(
            "actions",
            [app_python(), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
            f"http://127.0.0.1:{port}/health",
        )

    def start_rasa(
        self,
        name: str,
        *,
        action_url: str,
        tracker_store_url: str,
        lock_store_url: str | None = None,
        port: int | None = None,
        model: Path = MODEL,
        env: Mapping[str, str] | None = None,
        debug: bool = False,
    ) -> Proc:
        port = port or free_port()
        endpoint_env = {"ACTION_SERVER_URL": action_url, "TRACKER_STORE_URL": tracker_store_url}
        if lock_store_url:
            endpoint_env["LOCK_STORE_URL"] = lock_store_url
        endpoints = self.endpoints(name, endpoint_env)
        rasa_dir = self.workdir / name
        rasa_dir.mkdir(exist_ok=True)
        return self.spawn(
            name,
            [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1",
             "--port", str(port), "--model", str(model), "--endpoints", str(endpoints),
             "--credentials", str(ROOT / "credentials.yml"), *(["--debug"] if debug else [])],
            f"http://127.0.0.1:{port}/status",
            cwd=rasa_dir,
            env=env,
        )  # fmt: skip

    def start_assistant(
        self,
        rasa_instances: int,
        *,
        tracker_store_url: str,
        lock_store_url: str | None = None,
        debug: bool = False,
        timeout: float = 240,
    ) -> tuple[Proc, list[Proc]]:
        """The action server and `rasa_instances` Rasa servers using it (rasa-1, rasa-2...),
        until each answers."""
        actions = self.start_actions()
        rasas = [
            self.start_rasa(
                f"rasa-{i}",
                action_url=actions.base_url,
                tracker_store_url=tracker_store_url,
                lock_store_url=lock_store_url,
                debug=debug,
            )
            for i in range(1, rasa_instances + 1)
        ]
        self.wait_ready([actions, *rasas], timeout=timeout)
        return actions, rasas

    def start_gateway(
        self,
        *,
        workers: int = 2,
        threads: int = 8,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        name: str = "gateway",
        pipeline: Path | None = None,
    ) -> Proc:
        """The webhook app under gunicorn (gthread workers), with deploy/gunicorn.conf.py.
        `pipeline`: serve the gateway from this version of bot/gateway/pipeline.py instead
        (bench/ab_app.py), for a before/after of a change on the same code otherwise."""
        port = port or free_port()
        app = "webhook_app:app"
        if pipeline is not None:
            env = {**(env or {}), "BENCH_PIPELINE": str(pipeline.resolve())}
            app = "bench.ab_app:app"
        return self.spawn(
            name,
            [str(GUNICORN), "--config", str(GUNICORN_CONF),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), app],
            f"http://127.0.0.1:{port}/readyz",
            env=env,
        )  # fmt: skip

    def wait_ready(self, procs: list[Proc], timeout: float = 240) -> None:
        """Until every process answers 200 on its ready URL; records how long each took."""
        deadline = time.monotonic() + timeout
        waiting = [p for p in procs if p.ready_after is None]
        while waiting:
            for proc in list(waiting):
                if not proc.alive():
                    raise RuntimeError(
                        f"{proc.name} exited ({proc.popen.returncode}); log:\n{proc.tail()}"
                    )
                try:
                    ok = requests.get(proc.ready_url, timeout=2).status_code == 200
                except requests.RequestException:
                    ok = False
                if ok:
                    proc.ready_after = time.monotonic() - proc.spawned_at
                    waiting.remove(proc)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise RuntimeError(f"{names} not ready in {timeout:.0f} s:\n{waiting[0].tail()}")
            time.sleep(0.2)

    def stop(self, proc: Proc | None = None, timeout: float = 20) -> None:
        """Stop one process (with its group), or all of them, last started first."""
        targets = [proc] if proc is not None else list(reversed(self.procs))
        children: list[Any] = []
        for p in targets:
            if p.alive():
                children += _descendants(p.pid)
                _signal_group(p.pid, signal.SIGTERM)
        for p in targets:
            try:
                p.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(p.pid, signal.SIGKILL)
                p.popen.wait(timeout=10)
            if p in self.procs:
                self.procs.remove(p)
        for child in children:  # workers a master left behind (psutil checks it is the same)
            with contextlib.suppress(Exception):  # gone already
                child.kill()


def _descendants(pid: int) -> list[Any]:
    """psutil handles on a process's descendants (none when psutil is not installed: then
    the process-group signal alone stops them)."""
    try:
        import psutil
    except ImportError:
        return []
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def rss_bytes(pid: int) -> tuple[int, list[int]]:
    """Resident memory of a process and of each of its descendants (gunicorn's workers)."""
    import psutil

    try:
        root = psutil.Process(pid)
        own = root.memory_info().rss
        children = []
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                children.append(child.memory_info().rss)
        return own, children
    except psutil.Error:
        return 0, []


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of one process, its ended threads included; 0 when it is
    gone."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def core_wait_seconds(pid: int) -> float:
    """How long the threads of one process were ready to run but waited for a core (Linux's
    /proc/<pid>/task/<tid>/schedstat, second field; 0 where the kernel keeps no such figures,
    or the process is gone). Threads that have ended are not counted."""
    total_ns = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
            total_ns += int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    return total_ns / 1e9


def usage(pids: list[int]) -> tuple[float, float]:
    """These processes' CPU seconds so far, and the seconds their threads waited for a core."""
    return sum(map(cpu_seconds, pids)), sum(map(core_wait_seconds, pids))


def child_pids(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []
