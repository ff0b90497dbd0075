"""Liveness and readiness for the load balancer."""

from __future__ import annotations

import requests
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from bot.db import session_scope

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    settings = current_app.extensions["settings"]
    checks: dict[str, bool] = {}
    try:
        with session_scope(settings.database_url) as session:
            session.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # any failure means not ready
        checks["database"] = False
    checks["rasa"] = all(_answers(f"{url}/version") for url in settings.rasa_urls)
    checks["action_server"] = _answers(f"{settings.action_server_url}/health")
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
