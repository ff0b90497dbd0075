"""Fault tests: their own Rasa server and action server (which a test may kill and restart),
a private PostgreSQL when one can be started, and signed webhooks into the real gateway.

Everything is on loopback, every process runs in its own process group and is killed in
teardown whatever happened, and every test has a hard time limit (FAULT_TEST_TIMEOUT seconds,
enforced with SIGALRM: pytest-timeout is not a dependency). Rasa starts once per module (about
40 s on 2 cores); only the test that kills it restarts it.

Without a trained model the Rasa tests skip; `make test` sets REQUIRE_E2E=1, and then a
missing model fails instead. PostgreSQL is optional in this project (README): the private
instance skips with the reason when it cannot be started, unless REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.models import Conversation, Handoff, Message
from tests.e2e.conftest import MODEL, RASA, START_TIMEOUT, free_port
from tests.gateway.conftest import SMS_URL, sign, sms_params, twiml_bodies

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "faults-twilio-token"
#: Hard limit for one test (set-up of its fixtures included); a Rasa restart is ~40-60 s.
FAULT_TEST_TIMEOUT = int(os.environ.get("FAULT_TEST_TIMEOUT", "240"))
#: The gateway's reply deadline in these tests: the production value.
DEADLINE = 5.0


def unavailable(why: str, *, required_by: str = "REQUIRE_E2E") -> None:
    """Skip, or fail when `required_by` is 1 (make test sets REQUIRE_E2E=1)."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"required by {required_by}=1: {why}")
    pytest.skip(why)


# ---------------------------------------------------------------- time limit


class FaultTimeout(Exception):
    """A fault test ran past FAULT_TEST_TIMEOUT."""


@pytest.fixture(autouse=True)
def hard_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """SIGALRM raises in the main thread after the limit; teardown (process kills) still
    runs. Module fixtures (a Rasa start) are set up before it and bound by their own
    deadlines (START_TIMEOUT)."""
    seconds = FAULT_TEST_TIMEOUT
    marker = request.node.get_closest_marker("fault_timeout")
    if marker is not None:
        seconds = int(marker.args[0])

    def expired(signum: int, frame: Any) -> None:
        raise FaultTimeout(f"{request.node.nodeid} ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault_timeout(seconds): this fault test's time limit")


# ---------------------------------------------------------------- processes


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL) -> None:
    """Signal a process group we started, and reap it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> float:
    """Seconds until `url` answers 200; raises when the process exits or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds} s:\n{log.read_text()[-3000:]}")


@dataclass
class RasaPair:
    """A Rasa server and an action server on fixed loopback ports (a restart reuses them, so
    the gateway's RASA_URL stays valid), over one SQLite app database with the demo data."""

    workdir: Path
    database_url: str
    env: dict[str, str]
    rasa_port: int
    action_port: int
    rasa: subprocess.Popen[bytes] | None = None
    actions: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _logs: int = 0

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    def _log(self, name: str) -> Path:
        self._logs += 1
        return self.workdir / f"{name}-{self._logs}.log"

    def start_actions(self) -> float:
        log = self._log("actions")
        with log.open("wb") as out:
            self.actions = subprocess.Popen(
                [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                 "--port", str(self.action_port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        took = _wait_ready(f"{self.action_url}/health", self.actions, log, START_TIMEOUT)
        self.timings.setdefault("action server start (s)", round(took, 1))
        return took

    def start_rasa(self) -> float:
        log = self._log("rasa")
        with log.open("wb") as out:
            self.rasa = subprocess.Popen(
                [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1",
                 "--port", str(self.rasa_port), "--model", str(MODEL),
                 "--endpoints", str(self.workdir / "endpoints.yml"),
                 "--credentials", str(ROOT / "credentials.yml")],
                cwd=self.workdir, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        took = _wait_ready(f"{self.rasa_url}/status", self.rasa, log, START_TIMEOUT)
        # A first message loads the NLU pipeline's lazy parts: later turns are quick.
        requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": f"warm-up-{self._logs}", "message": "hi"},
            timeout=60,
        ).raise_for_status()
        self.timings.setdefault("rasa first start, until /status answers (s)", round(took, 1))
        self.timings["rasa latest start (s)"] = round(took, 1)
        return took

    def kill_rasa(self) -> None:
        _stop(self.rasa, signal.SIGKILL)

    def kill_actions(self) -> None:
        _stop(self.actions, signal.SIGKILL)

    def rasa_alive(self) -> bool:
        return self.rasa is not None and self.rasa.poll() is None

    def actions_alive(self) -> bool:
        return self.actions is not None and self.actions.poll() is None

    def ensure_up(self) -> None:
        """After a test that killed something and failed before restarting it."""
        if not self.actions_alive():
            self.start_actions()
        if not self.rasa_alive():
            self.start_rasa()

    def stop_all(self) -> None:
        for proc in (self.rasa, self.actions):
            _stop(proc, signal.SIGTERM)


def _migrated_sqlite(workdir: Path, env: dict[str, str]) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "webhook_app"]
    for args in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run(
            [*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120
        )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaPair]:
    """Rasa + action server for this module only; always killed at the end."""
    if not MODEL.exists() or not RASA.exists():
        unavailable(f"no trained model at {MODEL} (run `make train`)")
    work = tmp_path_factory.mktemp("faults")
    database_url = f"sqlite:///{work / 'app.db'}"
    action_port, rasa_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(work),
        "SANIC_HOST": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}",
        "TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
    }
    _migrated_sqlite(work, env)
    (work / "endpoints.yml").write_text(
        subprocess.run(
            [str(ROOT / "scripts" / "endpoints.sh")],
            env=env, check=True, capture_output=True, text=True, timeout=30,
        ).stdout
    )  # fmt: skip
    stack = RasaPair(work, database_url, env, rasa_port, action_port)
    try:
        stack.start_actions()
        stack.start_rasa()
        yield stack
    finally:
        stack.stop_all()
        for name, value in stack.timings.items():
            print(f"[faults timing] {name}: {value}")
        if os.environ.get("KEEP_E2E_LOGS"):
            shutil.copytree(work, ROOT / "var" / "fault-logs", dirs_exist_ok=True)


# ---------------------------------------------------------------- the gateway


def gateway_app(database_url: str, var_dir: Path, rasa_url: str, **overrides: Any) -> Flask:
    """The webhook app as production runs it: not in TESTING mode, so an unhandled error is
    the HTTP 500 Twilio sees (and may retry), with the production reply deadline."""
    from bot.web import create_app

    settings: dict[str, Any] = {
        "database_url": database_url,
        "var_dir": var_dir,
        "rasa_url": rasa_url,
        "twilio_auth_token": TOKEN,
        "public_base_url": None,
        "environment": "test",
    }
    settings.update(overrides)
    app = create_app(settings)
    app.extensions["gateway"].deadline = DEADLINE
    return app


@dataclass
class Reply:
    status: int
    bodies: list[str]
    seconds: float


def post_sms(app: Flask, body: str, frm: str, sid: str) -> Reply:
    """One signed POST /twilio/sms as Twilio sends it, on its own test client (thread-safe)."""
    params = sms_params(body, frm=frm, sid=sid)
    headers = {"X-Twilio-Signature": sign(SMS_URL, params, TOKEN)}
    started = time.monotonic()
    response = app.test_client().post("/twilio/sms", data=params, headers=headers)
    took = time.monotonic() - started
    bodies = twiml_bodies(response) if response.status_code == 200 else []
    return Reply(response.status_code, bodies, took)


def post_status(app: Flask, sid: str, value: str, **extra: str) -> int:
    params = {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC" + "0" * 32, **extra}
    headers = {"X-Twilio-Signature": sign("http://localhost/twilio/status", params, TOKEN)}
    return app.test_client().post("/twilio/status", data=params, headers=headers).status_code


# ---------------------------------------------------------------- what the database holds


def db_session(database_url: str) -> Session:
    return sessionmaker(bind=create_engine(database_url), expire_on_commit=False)()


def inbound_rows(session: Session, sid: str) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.provider_sid == sid)))


def replies_to(session: Session, message_id: int) -> list[Message]:
    return list(
        session.scalars(
            select(Message).where(Message.reply_to_id == message_id).order_by(Message.id)
        )
    )


def count(session: Session, model: type, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def open_handoffs(session: Session, conversation_id: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff).where(
                Handoff.conversation_id == conversation_id, Handoff.status != "closed"
            )
        )
    )


def conversation_of(session: Session, phone: str) -> Conversation:
    [conversation] = session.scalars(select(Conversation).where(Conversation.address == phone))
    return conversation


def chains_intact(session: Session) -> list[str]:
    """Every conversation's hash chain recomputed: a half-written turn would show here."""
    from bot.services.integrity import verify_all

    return [p for report in verify_all(session) for p in report.problems]


# ---------------------------------------------------------------- a private PostgreSQL


@dataclass
class PrivatePostgres:
    datadir: Path
    port: int
    bindir: Path
    as_user: list[str]
    log: Path
    options: str = ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str, timeout: float = 60) -> float:
        started = time.monotonic()
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
             "-l", str(self.log), "-w", "-t", "30", *args],
            check=True, capture_output=True, timeout=timeout,
        )  # fmt: skip
        return time.monotonic() - started

    def start(self) -> float:
        return self.ctl("start", "-o", self.options)


def _postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb into a temporary directory and run it on a free loopback port; as the
    `postgres` OS user when the tests run as root (initdb refuses root)."""
    bindir = _postgres_bindir()
    if bindir is None:
        unavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin",
            required_by="REQUIRE_POSTGRES",
        )
    assert bindir is not None
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            import pwd

            pg = pwd.getpwnam("postgres")
        except KeyError:
            pg = None
        if runuser is None or pg is None:
            unavailable(
                "running as root and no `postgres` OS user (or runuser) for initdb",
                required_by="REQUIRE_POSTGRES",
            )
        assert pg is not None and runuser is not None
        as_user = [runuser, "-u", "postgres", "--"]
    top = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    if as_user and pg is not None:
        os.chown(top, pg.pw_uid, pg.pw_gid)
    datadir, log = top / "data", top / "postgres.log"
    port = free_port()
    server = PrivatePostgres(datadir, port, bindir, as_user, log)
    try:
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres",
             "-A", "trust", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        server.options = f"-p {port} -h 127.0.0.1 -k {top} -c fsync=off -c max_connections=50"
        server.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(top, ignore_errors=True)
        unavailable(
            f"could not run a private PostgreSQL: {exc.stderr!r}", required_by="REQUIRE_POSTGRES"
        )
    try:
        yield server
    finally:
        if (datadir / "postmaster.pid").exists():
            try:
                server.ctl("stop", "-m", "immediate")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pid_file = datadir / "postmaster.pid"
                if pid_file.exists():
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(top, ignore_errors=True)
