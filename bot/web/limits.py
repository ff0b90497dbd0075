"""Rate limits on the public endpoints (Flask-Limiter over the `limits` library).

| endpoint | counted per | default (Settings.rate_limits, env RATE_LIMIT_*) |
|---|---|---|
| POST /twilio/sms | sender phone (`From`), after the signature check | 20/minute, 200/hour |
| POST /twilio/sms | client IP, after the signature check | 3000/minute |
| POST /chat/api/messages | chat session; client IP | 30/minute, 300/hour; 300/minute |
| GET /chat/api/messages (polling) | chat session; client IP | 240/minute; 3000/minute |
| POST /login | email typed; client IP (failed sign-ins only) | 5 per 15 minutes; 20 per 15 min |
| GET /pay/<token> | client IP | 30/minute |

Counts live in memory (one process) or, with RATE_LIMIT_STORAGE_URL=redis://..., in Redis,
shared by every gateway worker. Windows are moving windows: exact, no burst at a boundary.
A Redis that stops answering never takes the front door down: the limits are skipped (and
logged) until it is back. Health endpoints are never limited.

The SMS limits run inside the signed view (`sms_limited`), so a request with a bad signature is
a 403 that spends nobody's budget. Each signed SMS spends from three windows (the sender's two,
its address's one); with Redis, in one round trip (`spend`). Twilio does not retry a webhook
that answered 429: it logs error 11200 and the message stays in the account's message log, but
the assistant never reads it. So the per-phone limit sits far above any human pace (a person
sends a few texts a minute): only a script or an auto-responder loop reaches it.

A breach is a 429 with Retry-After: empty (no TwiML, nothing is sent back) for Twilio, the
login page with a message for a sign-in, JSON `{"error": ...}` for the chat and JSON APIs, the
HTML error page otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, cast

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import RateLimiter
from redis import Redis
from redis.exceptions import NoScriptError
from werkzeug.exceptions import TooManyRequests

from bot.config import RateLimits, Settings
from bot.services.audit import audit
from bot.services.verification import normalize_phone
from bot.web.deps import sessions

EXTENSION = "rate_limits"
KEY_PREFIX = "collections"  # every count's key starts with it (shared Redis, other apps)
UNLIMITED_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- keys
def client_ip() -> str:
    """The client's address (the load balancer's X-Forwarded-For, through ProxyFix)."""
    return "ip:" + (request.remote_addr or "unknown")


def sender_phone() -> str:
    sender = request.form.get("From", "").strip()
    return "phone:" + (normalize_phone(sender) or sender[:32])


def chat_session() -> str:
    """The browser's chat handle; a client without one (no cookie: a script) is counted by
    its address instead."""
    from bot.web.chat import browser_key

    key = browser_key()
    return f"chat:{key}" if key else client_ip()


def login_email() -> str:
    return "email:" + request.form.get("email", "").strip().lower()[:254]


def sign_in_failed(response: Response) -> bool:
    return response.status_code == 401


# ---------------------------------------------------------------------------- spending
@dataclass(frozen=True)
class Budget:
    """One limit on one key: `item` counted for `identifiers` (key, scope)."""

    item: RateLimitItem
    identifiers: tuple[str, ...]


def spend(strategy: RateLimiter, budgets: list[Budget]) -> Budget | None:
    """Spend one request from each budget; the first one that had none left, or None.
    Counts in Redis are spent in one round trip (a pipeline of the moving-window script that
    `strategy.hit` runs, on the same keys); any other storage, one budget at a time."""
    storage = strategy.storage
    if type(storage) is RedisStorage:
        try:
            spent = _spend_in_redis(storage, budgets)
        except NoScriptError:  # Redis restarted and forgot the script: `hit` loads it again
            spent = [strategy.hit(b.item, *b.identifiers) for b in budgets]
    else:
        spent = [strategy.hit(b.item, *b.identifiers) for b in budgets]
    return next((b for b, ok in zip(budgets, spent, strict=True) if not ok), None)


def _spend_in_redis(storage: RedisStorage, budgets: list[Budget]) -> list[bool]:
    now = time.time()
    sha = storage.lua_acquire_moving_window.sha
    client = cast(Redis, storage.get_connection())
    pipe = client.pipeline(transaction=False)
    for b in budgets:
        key = storage.prefixed_key(b.item.key_for(*b.identifiers))
        pipe.evalsha(sha, 1, key, now, b.item.amount, b.item.get_expiry(), 1)
    return [bool(ok) for ok in pipe.execute()]


# ---------------------------------------------------------------------------- the extension
@dataclass(frozen=True)
class AppLimits:
    limiter: Limiter
    limits: RateLimits
    sms_per_phone: tuple[RateLimitItem, ...]
    sms_per_ip: tuple[RateLimitItem, ...]

    def check_sms(self) -> None:
        """Spend the signed SMS from its sender's and its address's budgets; a 429 when one
        had none left. Storage down: logged, and the message goes through. Limits switched
        off (Flask-Limiter's RATELIMIT_ENABLED): nothing counted, as on the other routes."""
        if not self.limiter.enabled:
            return
        phone, ip = sender_phone(), client_ip()
        budgets = [Budget(item, (KEY_PREFIX, phone, "sms")) for item in self.sms_per_phone]
        budgets += [Budget(item, (KEY_PREFIX, ip, "sms")) for item in self.sms_per_ip]
        try:
            breached = spend(self.limiter.limiter, budgets)
        except Exception:  # as Flask-Limiter's swallow_errors: never take the front door down
            log.exception("rate limit storage failed: SMS not counted")
            return
        if breached is not None:
            g.breached_budget = breached
            raise TooManyRequests()


def _validated(limits: RateLimits) -> RateLimits:
    for name, value in vars(limits).items():
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"RATE_LIMIT_{name.upper()}={value!r} is not a limit") from exc
    return limits


def init_app(app: Flask, settings: Settings) -> AppLimits:
    """Wire the limits into `app`, after its blueprints are registered."""
    limits = _validated(settings.rate_limits)
    limiter = Limiter(
        key_func=client_ip,
        storage_uri=settings.rate_limit_storage_url or "memory://",
        strategy="moving-window",
        key_prefix=KEY_PREFIX,
        swallow_errors=True,  # storage down: serve without limits rather than fail
        headers_enabled=False,  # Retry-After is set on the 429 itself
    )
    limiter.init_app(app)
    limiter.request_filter(lambda: request.endpoint in UNLIMITED_ENDPOINTS)

    def limit(endpoint: str, *decorators: Callable[[Any], Any]) -> None:
        view = app.view_functions[endpoint]
        for decorate in decorators:
            view = decorate(view)
        app.view_functions[endpoint] = view

    limit(
        "chat.send",
        limiter.limit(limits.chat_per_session, key_func=chat_session, scope="session"),
        limiter.limit(limits.chat_per_ip, key_func=client_ip, scope="ip"),
    )
    limit(
        "chat.poll",
        limiter.limit(limits.chat_poll_per_session, key_func=chat_session, scope="session"),
        limiter.limit(limits.chat_poll_per_ip, key_func=client_ip, scope="ip"),
    )
    limit(
        "auth.login",
        limiter.limit(
            limits.login_per_email,
            key_func=login_email,
            scope="email",
            methods=["POST"],
            deduct_when=sign_in_failed,
        ),
        limiter.limit(
            limits.login_per_ip,
            key_func=client_ip,
            scope="ip",
            methods=["POST"],
            deduct_when=sign_in_failed,
        ),
    )
    limit("pay.payment_page", limiter.limit(limits.pay_per_ip, key_func=client_ip))
    app.register_error_handler(429, too_many_requests)
    extension = AppLimits(
        limiter=limiter,
        limits=limits,
        sms_per_phone=tuple(parse_many(limits.sms_per_phone)),
        sms_per_ip=tuple(parse_many(limits.sms_per_ip)),
    )
    app.extensions[EXTENSION] = extension
    return extension


def sms_limited(view):  # type: ignore[no-untyped-def]
    """Count a signed SMS against its sender's and its address's budgets (placed under
    `twilio_signed`, so only a request Twilio signed is counted)."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        extension: AppLimits | None = current_app.extensions.get(EXTENSION)
        if extension is not None:
            extension.check_sms()
        return view(*args, **kwargs)

    return limited


# ---------------------------------------------------------------------------- the 429
def retry_after() -> int:
    """Seconds until the breached limit lets a request through again (at least 1)."""
    extension: AppLimits | None = current_app.extensions.get(EXTENSION)
    if extension is None:
        return 60
    budget: Budget | None = g.get("breached_budget")
    if budget is not None:  # an SMS (see AppLimits.check_sms)
        window = budget.item.get_expiry()
        reset_at = time.time() + window
        with contextlib.suppress(Exception):  # storage gone since: the whole window
            stats = extension.limiter.limiter.get_window_stats(budget.item, *budget.identifiers)
            reset_at = stats.reset_time
    else:
        current = extension.limiter.current_limit
        if current is None:
            return 60
        window, reset_at = current.limit.get_expiry(), current.reset_at
    return min(window, max(1, math.ceil(reset_at - time.time())))


def _wants_json() -> bool:
    if request.path.startswith(("/chat/api/", "/api/")):
        return True
    if request.headers.get("X-Requested-With") == "fetch":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def too_many_requests(exc: TooManyRequests) -> Response:
    seconds = retry_after()
    if request.path.startswith("/twilio/"):
        # No TwiML: nothing is sent to the phone. Twilio logs error 11200 for it.
        response = Response("", status=429, mimetype="text/plain")
    elif request.endpoint == "auth.login":
        response = _login_throttled(seconds)
    elif _wants_json():
        message = f"Too many requests. Please wait {_wait_words(seconds)} and try again."
        response = jsonify(error="too_many_requests", message=message)
        response.status_code = 429
    else:
        page = render_template(
            "error.html",
            title="Too many requests",
            message=f"That was a lot of requests in a short time. Please wait "
            f"{_wait_words(seconds)} and try again.",
        )
        response = make_response(page, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _login_throttled(seconds: int) -> Response:
    from bot.web.auth import LoginForm

    email = request.form.get("email", "").strip().lower()[:254]
    extension: AppLimits = current_app.extensions[EXTENSION]
    # One audit row per email (or address) and window, however hard a script keeps trying.
    guard = parse_many("1/15 minutes")[0]
    try:
        if extension.limiter.limiter.hit(guard, "login-throttled", login_email(), client_ip()):
            with sessions().begin() as session:
                audit(
                    session,
                    "login.throttled",
                    actor=email or "anonymous",
                    ip=(request.remote_addr or "")[:64] or None,
                    detail={"retry_after": seconds},
                )
    except Exception:  # the 429 stands even when the audit row cannot be written
        log.exception("could not audit a throttled sign-in")
    flash(f"Too many sign-in attempts. Please wait {_wait_words(seconds)} and try again.", "error")
    return make_response(render_template("login.html", form=LoginForm()), 429)
