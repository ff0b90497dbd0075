"""The Flask application factory: the single front door (webhook, chat, agent, compliance, API)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from bot.config import load_settings


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(**(overrides or {}))
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.extensions["settings"] = settings

    from bot import cli
    from bot.web import health

    app.register_blueprint(health.bp)
    cli.register(app)
    return app
