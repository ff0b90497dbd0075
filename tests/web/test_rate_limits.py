"""Rate limits on the public endpoints (bot/web/limits.py): under each limit requests pass,
over it a 429 with Retry-After in the shape its caller handles; the Twilio signature is checked
before any SMS is counted; health checks are never limited; with RATE_LIMIT_STORAGE_URL on a
Redis that answers, two app instances share one count. Small limits, loopback only."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.config import RateLimits
from bot.models import AuditLog, Message
from bot.services.users import Role, create_user
from tests.gateway.conftest import SMS_URL, TOKEN, sign, sms_params

JAMES, MARIA = "+14045550178", "+12065550134"
CHAT = {"X-Requested-With": "fetch"}
EMAIL, PASSWORD = "limits-agent@test.example", "limits-agent-password"


@pytest.fixture
def limited(make_app) -> Callable[..., Flask]:  # type: ignore[no-untyped-def]
    """An app with the given limits (the rest as shipped), Twilio's token "12345"."""

    def make(storage: str | None = None, **limits: str) -> Flask:
        app = make_app(
            twilio_auth_token=TOKEN,
            rate_limits=RateLimits(**limits),
            rate_limit_storage_url=storage,
        )
        app.config["WTF_CSRF_ENABLED"] = False  # the sign-in tests post the form directly
        return app

    return make


def sms(client: FlaskClient, frm: str = MARIA, *, ip: str = "127.0.0.1", signed: bool = True):  # type: ignore[no-untyped-def]
    params = sms_params("hello", frm=frm)
    signature = sign(SMS_URL, params) if signed else "bm90IGEgc2lnbmF0dXJl"
    return client.post(
        "/twilio/sms",
        data=params,
        headers={"X-Twilio-Signature": signature},
        environ_base={"REMOTE_ADDR": ip},
    )


def assert_retry_after(response: Any, at_most: int) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    value = response.headers.get("Retry-After", "")
    assert value.isdigit() and 1 <= int(value) <= at_most, value


def inbound_count(app: Flask) -> int:
    engine = create_engine(app.extensions["settings"].database_url)
    try:
        with Session(engine) as s:
            return len(s.scalars(select(Message.id).where(Message.direction == "in")).all())
    finally:
        engine.dispose()


def audit_actions(app: Flask, actor: str) -> list[str]:
    engine = create_engine(app.extensions["settings"].database_url)
    try:
        with Session(engine) as s:
            return list(
                s.scalars(
                    select(AuditLog.action).where(AuditLog.actor == actor).order_by(AuditLog.id)
                )
            )
    finally:
        engine.dispose()


# ---------------------------------------------------------------- Twilio SMS


def test_sms_over_the_per_phone_limit_is_an_empty_429_and_not_processed(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(sms_per_phone="3/minute")
    client = app.test_client()
    for _ in range(3):
        assert sms(client).status_code == 200
    stored = inbound_count(app)
    over = sms(client)
    assert_retry_after(over, 60)
    assert over.get_data() == b""  # no TwiML: nothing is sent to the phone
    assert inbound_count(app) == stored
    assert sms(client, frm=JAMES).status_code == 200  # another sender has its own budget


def test_sms_over_the_per_ip_limit_is_refused_other_addresses_pass(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(sms_per_ip="3/minute")
    client = app.test_client()
    for n in range(3):
        assert sms(client, frm=f"+1206555{n:04d}", ip="10.0.0.7").status_code == 200
    assert_retry_after(sms(client, frm="+12065559999", ip="10.0.0.7"), 60)
    assert sms(client, frm="+12065559999", ip="10.0.0.8").status_code == 200


def test_limits_switched_off_leave_sms_and_chat_alone(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(sms_per_phone="1/minute", chat_per_ip="1/minute")
    app.extensions["rate_limits"].limiter.enabled = False  # RATELIMIT_ENABLED=False
    client = browser(app)
    for _ in range(3):
        assert sms(client).status_code == 200
        assert say(client).status_code != 429
    assert inbound_count(app) == 6  # three texts and three chat messages, all stored


def test_signature_is_checked_before_any_sms_is_counted(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(sms_per_phone="3/minute", sms_per_ip="5/minute")
    client = app.test_client()
    for _ in range(20):  # an unsigned flood in Maria's name spends none of her budget
        assert sms(client, signed=False).status_code == 403
    for _ in range(3):
        assert sms(client).status_code == 200
    assert_retry_after(sms(client), 60)
    assert sms(client, signed=False).status_code == 403  # a 403 stays a 403 over the limit


# ---------------------------------------------------------------- web chat


def say(client: FlaskClient, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/chat/api/messages",
        json={"text": "hello"},
        headers=CHAT,
        environ_base={"REMOTE_ADDR": ip},
    )


def browser(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.get("/chat").status_code == 200  # the page gives the session its handle
    return client


def test_chat_messages_over_the_per_session_limit_get_json_429(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(chat_per_session="3/minute")
    client = browser(app)
    for _ in range(3):
        assert say(client).status_code == 200
    over = say(client)
    assert_retry_after(over, 60)
    assert over.is_json and over.get_json()["error"] == "too_many_requests"
    assert "try again" in over.get_json()["message"]
    assert say(browser(app)).status_code == 200  # another browser, same address


def test_chat_messages_over_the_per_ip_limit_are_refused(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(chat_per_ip="3/minute")
    for _ in range(3):
        assert say(browser(app), ip="10.0.0.9").status_code == 200
    assert_retry_after(say(browser(app), ip="10.0.0.9"), 60)
    assert say(browser(app), ip="10.0.0.10").status_code == 200


def test_a_client_without_a_chat_session_is_counted_by_address(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(chat_per_session="2/minute")
    # Never loaded /chat and keeps no cookie, like a script: a new client each time.
    assert say(app.test_client(), ip="10.0.1.1").status_code == 200
    assert say(app.test_client(), ip="10.0.1.1").status_code == 200
    assert_retry_after(say(app.test_client(), ip="10.0.1.1"), 60)
    assert say(app.test_client(), ip="10.0.1.2").status_code == 200


def test_chat_polling_is_limited_per_session(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(chat_poll_per_session="3/minute")
    client = browser(app)
    for _ in range(3):
        assert client.get("/chat/api/messages?after=0", headers=CHAT).status_code == 200
    over = client.get("/chat/api/messages?after=0", headers=CHAT)
    assert_retry_after(over, 60)
    assert over.get_json()["error"] == "too_many_requests"


def test_shipped_chat_limits_leave_a_person_alone(limited) -> None:  # type: ignore[no-untyped-def]
    """A person typing a message every few seconds while the page polls every second."""
    app = limited()
    client = browser(app)
    for second in range(60):
        assert client.get("/chat/api/messages?after=0", headers=CHAT).status_code == 200
        if second % 5 == 0:
            assert say(client).status_code == 200


# ---------------------------------------------------------------- sign-in


WRONG = "wrong-password"


def login(client: FlaskClient, email: str = EMAIL, password: str = WRONG, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


@pytest.fixture
def staff(session: Session) -> None:
    create_user(session, EMAIL, Role.AGENT, PASSWORD)
    session.commit()


def test_five_failed_sign_ins_then_429_even_with_the_right_password(limited, staff) -> None:  # type: ignore[no-untyped-def]
    app = limited()  # as shipped: 5 failures per 15 minutes per email
    client = app.test_client()
    for _ in range(5):
        assert login(client).status_code == 401
    over = login(client, password=PASSWORD)
    assert_retry_after(over, 15 * 60)
    page = over.get_data(as_text=True)
    assert "Too many sign-in attempts" in page and re.search(r"wait \d+ (minutes|seconds)", page)
    assert 'name="password"' in page  # still the sign-in page
    for _ in range(3):
        assert login(client).status_code == 429
    assert audit_actions(app, EMAIL) == ["login.failed"] * 5 + ["login.throttled"]
    # Another address guessing another email is not affected.
    assert login(client, email="other@test.example", ip="10.0.2.2").status_code == 401


def test_successful_sign_ins_are_not_counted(limited, staff) -> None:  # type: ignore[no-untyped-def]
    app = limited(login_per_email="2/15 minutes", login_per_ip="2/15 minutes")
    for _ in range(4):
        response = login(app.test_client(), password=PASSWORD)
        assert response.status_code == 302
    assert "login.failed" not in audit_actions(app, EMAIL)


def test_failed_sign_ins_from_one_address_are_limited_across_emails(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(login_per_ip="3/15 minutes")
    client = app.test_client()
    for n in range(3):
        assert login(client, email=f"guess{n}@test.example", ip="10.0.3.3").status_code == 401
    assert_retry_after(login(client, email="guess9@test.example", ip="10.0.3.3"), 15 * 60)
    assert login(client, email="guess9@test.example", ip="10.0.3.4").status_code == 401


def test_the_password_is_never_in_the_audit_trail(limited, staff) -> None:  # type: ignore[no-untyped-def]
    app = limited()
    login(app.test_client(), password="Hunter2-secret-guess")
    engine = create_engine(app.extensions["settings"].database_url)
    with Session(engine) as s:
        rows = s.scalars(select(AuditLog)).all()
        assert rows and all("Hunter2" not in repr((r.actor, r.detail)) for r in rows)
    engine.dispose()


# ---------------------------------------------------------------- pay page, health


def test_pay_page_over_the_per_ip_limit_gets_the_html_error_page(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(pay_per_ip="3/minute")
    client = app.test_client()
    for _ in range(3):
        assert client.get("/pay/not-a-token").status_code == 404
    over = client.get("/pay/not-a-token", headers={"Accept": "text/html"})
    assert_retry_after(over, 60)
    assert over.mimetype == "text/html" and "Too many requests" in over.get_data(as_text=True)


def test_health_endpoints_are_never_limited(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(**{name: "1/hour" for name in vars(RateLimits())})
    client = app.test_client()
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)


def test_a_malformed_limit_setting_fails_at_start(make_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="RATE_LIMIT_SMS_PER_PHONE"):
        make_app(rate_limits=RateLimits(sms_per_phone="lots"))


def test_limits_are_read_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RATE_LIMIT_SMS_PER_PHONE", "7/minute")
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", "redis://127.0.0.1:6379/0")
    from bot.config import load_settings

    settings = load_settings(secret_key="x" * 32)
    assert settings.rate_limits.sms_per_phone == "7/minute"
    assert settings.rate_limits.login_per_email == RateLimits().login_per_email
    assert settings.rate_limit_storage_url == "redis://127.0.0.1:6379/0"


# ---------------------------------------------------------------- Redis, shared


def redis_url() -> str:
    """RATE_LIMIT_STORAGE_URL when set, else the local Redis; skip when it does not answer."""
    url = os.environ.get("RATE_LIMIT_STORAGE_URL") or "redis://127.0.0.1:6379/0"
    if not url.startswith(("redis://", "rediss://")):
        pytest.skip(f"RATE_LIMIT_STORAGE_URL is not Redis: {url}")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    return url


def test_two_app_instances_on_one_redis_share_the_count(limited) -> None:  # type: ignore[no-untyped-def]
    import redis

    url = redis_url()
    phone = f"+1206{uuid.uuid4().int % 10**7:07d}"  # fresh keys on a shared Redis
    first = limited(storage=url, sms_per_phone="3/minute").test_client()
    second_app = limited(storage=url, sms_per_phone="3/minute")
    second = second_app.test_client()
    assert sms(first, frm=phone).status_code == 200
    assert sms(second, frm=phone).status_code == 200
    assert sms(first, frm=phone).status_code == 200
    assert_retry_after(sms(second, frm=phone), 60)
    assert_retry_after(sms(first, frm=phone), 60)
    keys = redis.Redis.from_url(url).keys(f"*{phone}*")
    assert keys, "the counts are in Redis"
    assert second_app.extensions["rate_limits"].limiter.storage.check()


def test_a_redis_that_forgot_its_scripts_still_counts(limited) -> None:  # type: ignore[no-untyped-def]
    import redis

    url = redis_url()
    phone = f"+1206{uuid.uuid4().int % 10**7:07d}"
    client = limited(storage=url, sms_per_phone="2/minute").test_client()
    assert sms(client, frm=phone).status_code == 200
    redis.Redis.from_url(url).script_flush()  # as after a Redis restart
    assert sms(client, frm=phone).status_code == 200
    assert_retry_after(sms(client, frm=phone), 60)


def test_sms_are_answered_while_the_limit_store_is_down(limited, caplog) -> None:  # type: ignore[no-untyped-def]
    app = limited(storage="redis://127.0.0.1:1/0", sms_per_phone="1/minute")  # nothing there
    client = app.test_client()
    for _ in range(3):
        response = sms(client)
        assert response.status_code == 200, response.get_data(as_text=True)
    assert inbound_count(app) == 3
    logged = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    assert logged and "Connection refused" in str(logged[0].exc_info[1])  # type: ignore[index]
