"""A real trained Rasa server and a real action server, started once per test session on
loopback ports, over their own app database with the demo accounts.

`make test` trains the model first and sets REQUIRE_E2E=1, so a missing model fails there;
a bare `pytest` without a trained model skips these tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import RateLimits

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "assistant.tar.gz"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
START_TIMEOUT = 240  # seconds; Rasa 3.6 needs about 40 s on 2 cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{url}: process exited ({proc.returncode}); log:\n{log.read_text()[-3000:]}"
            )
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not answer in time; log:\n{log.read_text()[-3000:]}")


GATEWAY_TOKEN = "e2e-twilio-token"
SMS_URL = "http://localhost/twilio/sms"  # what the Flask test client's requests are signed for


@dataclass
class Stack:
    rasa_url: str
    action_url: str
    database_url: str
    workdir: Path

    @cached_property
    def app(self) -> Flask:
        """The webhook app in front of this Rasa, with Twilio signatures checked against
        GATEWAY_TOKEN. Its reply deadline is long: a cold Rasa on 2 cores can take more than
        the production 5 s, and these tests read the replies from the webhook's answer."""
        from bot.web import create_app

        app = create_app(
            {
                "database_url": self.database_url,
                "rasa_url": self.rasa_url,
                "action_server_url": self.action_url,
                "var_dir": self.workdir / "web",
                "twilio_auth_token": GATEWAY_TOKEN,
                "public_base_url": None,
                # One app for the whole session: a suite's worth of Maria's texts would pass
                # the per-phone limit (20/minute) that a person never reaches.
                "rate_limits": RateLimits(sms_per_phone="100000/minute"),
            }
        )
        app.extensions["gateway"].deadline = 60
        return app

    def say(self, sender: str, text: str, **metadata: Any) -> list[str]:
        """Send one message to Rasa's REST channel; the bot's replies, in order."""
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata},
            timeout=60,
        )
        response.raise_for_status()
        return [m.get("text", "") for m in response.json()]

    def tracker(self, sender: str) -> dict[str, Any]:
        return requests.get(f"{self.rasa_url}/conversations/{sender}/tracker", timeout=30).json()

    def session(self) -> Session:
        return sessionmaker(bind=create_engine(self.database_url), expire_on_commit=False)()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists() or not RASA.exists():
        if os.environ.get("REQUIRE_E2E"):
            pytest.fail(f"no trained model at {MODEL}: run `make train`")
        pytest.skip("no trained model (run `make train`); `make test` runs these")
    work = tmp_path_factory.mktemp("stack")
    database_url = f"sqlite:///{work / 'app.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(work),
        "SANIC_HOST": "127.0.0.1",
        "PYTHONPATH": str(ROOT),  # Rasa imports nlu_components from the project
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    flask = [sys.executable, "-m", "flask", "--app", "webhook_app"]
    for args in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([*flask, *args], cwd=ROOT, env=env, check=True, capture_output=True)

    action_port, rasa_port = free_port(), free_port()
    env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{action_port}"
    env["TRACKER_STORE_URL"] = f"sqlite:///{work / 'tracker.db'}"
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        subprocess.run(
            [str(ROOT / "scripts" / "endpoints.sh")],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    action_log, rasa_log = work / "actions.log", work / "rasa.log"
    procs = []
    try:
        with action_log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                     "--port", str(action_port)],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        with rasa_log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1",
                     "--port", str(rasa_port), "--model", str(MODEL),
                     "--endpoints", str(endpoints), "--credentials", str(ROOT / "credentials.yml")],
                    cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        wait_for(f"http://127.0.0.1:{action_port}/health", procs[0], action_log, deadline)
        wait_for(f"http://127.0.0.1:{rasa_port}/status", procs[1], rasa_log, deadline)
        yield Stack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            action_url=f"http://127.0.0.1:{action_port}",
            database_url=database_url,
            workdir=work,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.environ.get("KEEP_E2E_LOGS"):
            shutil.copytree(work, ROOT / "var" / "e2e-logs", dirs_exist_ok=True)


#: Tables the demo data fills; everything else is what conversations wrote.
DEMO_TABLES = {"accounts", "charges", "staff_users", "alembic_version"}


@pytest.fixture(autouse=True)
def fresh_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each conversation test starts from the demo accounts alone: no holds, plans or
    handoffs left by another test."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    from bot.models import Base

    engine = create_engine(stack.database_url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in DEMO_TABLES:
                conn.execute(table.delete())
    engine.dispose()
    yield
