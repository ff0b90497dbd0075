"""The Flask application factory: the single front door (webhook, chat, agent, compliance, API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from bot.config import Settings, load_settings, local_secret
from bot.logs import install_log_redaction


class RowId(IntegerConverter):
    """`<int:...>` in every route: a row id, so at most the largest 64-bit integer. A larger
    number matches no route (404) instead of overflowing the database driver (500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _dev_twilio_token(settings: Settings) -> str | None:
    """In development without TWILIO_AUTH_TOKEN, a local token (var/dev_twilio_token, 0600
    in a 0700 var/) lets the SMS simulator sign requests exactly as Twilio does. Never in
    production."""
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    if settings.environment != "development":
        return None
    return local_secret(Path(settings.var_dir), "dev_twilio_token", generate=24)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(**(overrides or {}))
    app = Flask(__name__)
    app.url_map.converters["int"] = RowId
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    # Behind one proxy (load balancer): trust its X-Forwarded-Proto/Host for url building
    # and for the URL Twilio signed.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions["settings"] = settings
    app.extensions["twilio_token"] = _dev_twilio_token(settings)
    # Card numbers, SSNs, tokens and these secrets never reach a log line, whoever logs it.
    install_log_redaction(settings.secret_key, app.extensions["twilio_token"])

    from bot import cli
    from bot.db import session_factory
    from bot.gateway.pipeline import Gateway
    from bot.web import health, sms

    app.extensions["gateway"] = Gateway(settings, session_factory(settings.database_url))
    from bot.web import api, auth, chat, pay

    auth.init_app(app)  # staff sign-in; CSRF on every form of every blueprint below
    for blueprint in (health.bp, sms.bp, chat.bp, pay.bp):
        app.register_blueprint(blueprint)
    # Not forms: Twilio signs its webhooks; the chat API requires a same-origin JSON header.
    auth.csrf.exempt(sms.bp)
    auth.csrf.exempt(chat.bp)
    app.register_blueprint(api.bp)
    auth.csrf.exempt(api.bp)  # bearer-token JSON API, not forms
    from bot.web import agent, compliance

    app.register_blueprint(agent.bp)  # its forms carry the CSRF token
    app.register_blueprint(compliance.bp)  # review form carries the CSRF token; views audited
    from bot.web import dashboard

    app.register_blueprint(dashboard.bp)  # the numbers: GET only, page and JSON
    if settings.environment == "development":
        from bot.web import dev

        app.register_blueprint(dev.bp)
        auth.csrf.exempt(dev.bp)

    from bot.web import limits

    limits.init_app(app, settings)  # after every blueprint: it wraps their public views

    @app.context_processor
    def company() -> dict[str, str]:
        return {"company_name": settings.company_name, "support_phone": settings.support_phone}

    cli.register(app)
    return app
