"""No card number, SSN, password, bearer token, payment-link token, Twilio auth token or
SECRET_KEY in any log line of a realistic run (rule 18; DESIGN "every inbound edge").

The real app is served over HTTP by werkzeug (so its request log runs too) and driven through:
a signed SMS and a web chat message holding a card number and an SSN, a wrong and a right
password, API calls with a valid and a revoked-looking bearer token, an agent note and an agent
API reply holding a card number, a payment link opened, a compliance search for a card number,
and Rasa failing. Every logger is captured at DEBUG and the formatted output is searched."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bot.config import ROOT
from bot.db import utcnow
from bot.models import Account, Conversation
from bot.services.accounts_import import import_accounts
from bot.services.handoff import HandoffReason, request_handoff
from bot.services.payments import payment_link
from bot.services.users import Role, create_user, issue_token
from tests.browser.conftest import serve_app

pytestmark = [pytest.mark.integration]

CARD, CARD_DIGITS, SSN = "4111 1111 1111 1111", "4111111111111111", "123-45-6789"
AGENT, COMPLIANCE = "hygiene-agent@test.example", "hygiene-compliance@test.example"
PASSWORD = "Correct-Horse-Battery-77"
WRONG_PASSWORD = "Wrong-Guess-Password-42"
LOGGERS = ("", "werkzeug", "flask", "flask.app", "bot", "sqlalchemy", "sqlalchemy.engine",
           "urllib3", "requests", "twilio", "flask-limiter", "flask_limiter")  # fmt: skip


TIMEOUT = 10


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


def post(url: str, **kwargs: Any) -> requests.Response:
    return requests.post(url, timeout=TIMEOUT, **kwargs)


class FailingRasa:
    """Rasa's REST channel failing with the text in its error, like a careless client would."""

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        from bot.gateway.rasa_client import RasaUnavailable

        raise RasaUnavailable(f"POST /webhooks/rest/webhook failed for {sender}: {text!r}")

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        pass

    def resume(self, sender: str, *, timeout: float = 5) -> None:
        pass


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def csrf(http: requests.Session, url: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', http.get(url).text)
    assert found, url
    return found.group(1)


def sign_in(base: str, email: str, password: str) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    token = csrf(http, f"{base}/login")
    response = http.post(
        f"{base}/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    return http, response


def test_no_secret_or_card_number_reaches_any_log(
    database_url: str, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    from bot.web import create_app

    twilio_token = secrets.token_hex(16)
    secret_key = secrets.token_urlsafe(48)
    engine = create_engine(database_url)
    with Session(engine, expire_on_commit=False) as s:
        with (
            (ROOT / "demo" / "placement.csv").open() as placement,
            (ROOT / "demo" / "charges.csv").open() as charges,
        ):
            import_accounts(s, placement, charges, today=date(2026, 11, 23))
        create_user(s, AGENT, Role.AGENT, PASSWORD)
        create_user(s, COMPLIANCE, Role.COMPLIANCE, PASSWORD)
        bearer = issue_token(s, AGENT)
        maria = s.scalar(select(Account).where(Account.account_ref == "ACC-100234"))
        assert maria is not None
        pay_url = payment_link(
            s, maria, amount_cents=5000, base_url="http://x", secret_key=secret_key, now=utcnow()
        )
        s.commit()
    pay_token = pay_url.rsplit("/", 1)[1]

    app = create_app(
        {
            "database_url": database_url,
            "var_dir": tmp_path / "var",
            "twilio_auth_token": twilio_token,
            "secret_key": secret_key,
            "environment": "test",
        }
    )
    app.extensions["gateway"].rasa = FailingRasa()
    with serve_app(app, "log-hygiene") as base:
        # A signed SMS with a card number and an SSN (Rasa fails on it).
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": "+12065550134",
            "To": "+18005550100",
            "Body": f"my card is {CARD} and my ssn {SSN}",
        }
        signature = RequestValidator(twilio_token).compute_signature(f"{base}/twilio/sms", params)
        sms = post(f"{base}/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
        assert sms.status_code == 200
        assert post(f"{base}/twilio/sms", data=params).status_code == 403  # unsigned

        # The web chat with the same.
        chat = requests.Session()
        assert chat.get(f"{base}/chat").status_code == 200
        said = chat.post(
            f"{base}/chat/api/messages",
            json={"text": f"card {CARD_DIGITS} ssn {SSN}"},
            headers={"X-Requested-With": "fetch"},
        )
        assert said.status_code == 200

        # A wrong password, then the right one.
        _, wrong = sign_in(base, AGENT, WRONG_PASSWORD)
        assert wrong.status_code == 401
        agent, right = sign_in(base, AGENT, PASSWORD)
        assert right.status_code == 302

        # The API with a valid and an unknown bearer token.
        auth = {"Authorization": f"Bearer {bearer}"}
        assert get(f"{base}/api/v1/handoffs", headers=auth).status_code == 200
        unknown = {"Authorization": "Bearer cat_" + "x" * 43}
        assert get(f"{base}/api/v1/handoffs", headers=unknown).status_code == 401

        # A handoff on Maria's conversation: claimed through the API, a reply and a note
        # with a card number.
        with Session(engine, expire_on_commit=False) as s:
            conv = s.scalar(select(Conversation).where(Conversation.channel == "sms"))
            assert conv is not None
            handoff = request_handoff(s, conv, HandoffReason.HUMAN_REQUEST, now=utcnow())
            handoff_id = handoff.id
            s.commit()
        claimed = post(f"{base}/api/v1/handoffs/{handoff_id}/claim", headers=auth)
        assert claimed.status_code in (200, 409), claimed.text
        replied = post(
            f"{base}/api/v1/handoffs/{handoff_id}/messages",
            json={"text": f"Please never send a card like {CARD} here."},
            headers=auth,
        )
        assert replied.status_code in (201, 409), replied.text
        note = {
            "text": f"debtor typed {CARD} and {SSN}",
            "csrf_token": csrf(agent, f"{base}/agent"),
        }
        noted = agent.post(f"{base}/agent/handoffs/{handoff_id}/note", data=note)
        assert noted.status_code == 200

        # A payment link opened, and a compliance search for a card number.
        assert get(f"{base}/pay/{pay_token}").status_code == 200
        reviewer, _ = sign_in(base, COMPLIANCE, PASSWORD)
        found = reviewer.get(f"{base}/compliance/", params={"text": CARD})
        assert found.status_code == 200
    engine.dispose()

    records = debug_logs.records
    text = debug_logs.text + "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records
    )
    # The run was logged: the request log and the Rasa failure are there.
    assert '"POST /twilio/sms HTTP/1.1" 200' in text
    assert "Rasa unavailable" in text
    assert '"GET /pay/' in text
    forbidden = {
        "card number": CARD,
        "card digits": CARD_DIGITS,
        "card number in a URL": CARD.replace(" ", "+"),
        "card number in a URL (%20)": CARD.replace(" ", "%20"),
        "SSN": SSN,
        "SSN digits": SSN.replace("-", ""),
        "wrong password": WRONG_PASSWORD,
        "password": PASSWORD,
        "bearer token": bearer,
        "bearer token (tail)": bearer[12:],
        "payment-link token": pay_token,
        "Twilio auth token": twilio_token,
        "SECRET_KEY": secret_key,
    }
    leaks = [name for name, value in forbidden.items() if value in text]
    assert leaks == [], f"found in the logs: {leaks}"


def test_the_redacting_filter_masks_what_slips_through(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The last line of defence on its own: whatever a library logs is masked."""
    from bot.logs import install_log_redaction

    install_log_redaction("a-secret-value-0123456789")
    log = logging.getLogger("some.library")
    log.debug("request body: %s", f"card={CARD}&ssn={SSN}")
    log.info("headers: %r", {"Authorization": "Bearer cat_abcdefghijklmnop"})
    log.warning("config secret_key=%s token=%s", "plain-9876543210", "a-secret-value-0123456789")
    try:
        raise ValueError(f"bad input {CARD_DIGITS}")
    except ValueError:
        log.exception("failed")
    text = debug_logs.text
    secrets_seen = (CARD, SSN, "cat_abcdefghijklmnop", "plain-9876543210", "a-secret-value-0123")
    for value in (*secrets_seen, CARD_DIGITS):
        assert value not in text, value
    assert "[card ending 1111]" in text and "***-**-6789" in text
    assert "ValueError: bad input [card ending 1111]" in text
