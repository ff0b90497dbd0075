"""Every staff route (/agent, /compliance, /api/v1) declares the roles it admits: its view
carries a `roles` attribute, set by `role_required` or `api_auth`. A new route without one fails
here. And an anonymous request to each gets the login page (302) or a JSON 401, never content."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

PROTECTED_PREFIXES = ("/agent", "/compliance", "/api/v1")


@pytest.fixture
def full_app(app: Flask) -> Flask:
    from bot.web import api, auth

    if "api" not in app.blueprints:  # until bot/web/__init__.py registers it
        app.register_blueprint(api.bp)
        auth.csrf.exempt(api.bp)
    # So that an anonymous POST to a staff form is judged by its login check, not by CSRF.
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def protected_rules(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if any(
            rule.rule == prefix or rule.rule.startswith(prefix + "/")
            for prefix in PROTECTED_PREFIXES
        )
    ]


def sample_url(rule: Rule) -> str:
    """The rule's path with a plausible value for each variable: 1 for numbers, else "x"."""
    path = re.sub(r"<(?:int|float)(?:\([^)]*\))?:\w+>", "1", rule.rule)
    return re.sub(r"<[^>]+>", "x", path)


def test_the_api_routes_are_there(full_app: Flask) -> None:
    rules = {r.rule for r in protected_rules(full_app)}
    assert {
        "/api/v1/accounts/<account_ref>",
        "/api/v1/handoffs",
        "/api/v1/handoffs/<int:handoff_id>/claim",
        "/api/v1/handoffs/<int:handoff_id>/messages",
        "/api/v1/handoffs/<int:handoff_id>/release",
        "/api/v1/handoffs/<int:handoff_id>/close",
    } <= rules


def test_every_staff_route_declares_its_roles(full_app: Flask) -> None:
    missing = []
    for rule in protected_rules(full_app):
        view = full_app.view_functions[rule.endpoint]
        roles = getattr(view, "roles", None)
        if not roles or not all(r in ("agent", "compliance", "admin") for r in roles):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert missing == [], "staff routes without role_required/api_auth: " + ", ".join(missing)


def test_anonymous_requests_never_get_content(full_app: Flask) -> None:
    client = full_app.test_client()
    checked = 0
    for rule in protected_rules(full_app):
        url = sample_url(rule)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            response = client.open(url, method=method, json={} if method != "GET" else None)
            where = f"{method} {url} ({rule.endpoint})"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], where
            else:
                assert response.status_code == 401, f"{where}: {response.status_code}"
                assert response.is_json and response.get_json().get("error"), where
            checked += 1
    assert checked >= 6


def test_sample_url_fills_every_variable() -> None:
    rule = Rule("/api/v1/handoffs/<int:handoff_id>/claim")
    Flask(__name__).url_map.add(rule)
    assert sample_url(rule) == "/api/v1/handoffs/1/claim"
