"""Every staff route (/agent, /compliance, /api/v1) declares the roles it admits: its view
carries a `roles` attribute, set by `role_required` or `api_auth`. Every other route of the app
is on the short public list below, with why it may be public. A new route that is neither fails
here, wherever it is mounted. And an anonymous request to each staff route gets the login page
(302) or a JSON 401, never content; the Twilio webhooks answer an unsigned request with 403."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

from tests.web.conftest import PASSWORD

PROTECTED_PREFIXES = ("/agent", "/compliance", "/api/v1")
STAFF_ROLES = ("agent", "compliance", "admin")
#: The endpoints anyone may reach, and what guards each instead of a staff sign-in.
PUBLIC = {
    "static": "the shared CSS",
    "chat.static": "the chat page's CSS and script",
    "chat.page": "the debtor's web chat",
    "chat.send": "the chat's own API: same-origin fetch only, rate limited",
    "chat.poll": "the chat's own API: same-origin fetch only, rate limited",
    "health.healthz": "the load balancer",
    "health.readyz": "the load balancer",
    "auth.login": "the sign-in form itself: CSRF, throttled",
    "auth.logout": "signed-in staff only (login_required), any role",
    "pay.payment_page": "a signed payment link: the token is the credential",
    "sms.inbound_sms": "Twilio: X-Twilio-Signature required",
    "sms.delivery_status": "Twilio: X-Twilio-Signature required",
    "dev.simulator": "development only (not registered otherwise)",
    "dev.send": "development only (not registered otherwise)",
}


@pytest.fixture
def full_app(app: Flask) -> Flask:
    from bot.web import api, auth

    if "api" not in app.blueprints:  # until bot/web/__init__.py registers it
        app.register_blueprint(api.bp)
        auth.csrf.exempt(api.bp)
    # So that an anonymous POST to a staff form is judged by its login check, not by CSRF.
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def declared_roles(app: Flask, rule: Rule) -> tuple[str, ...]:
    return tuple(getattr(app.view_functions[rule.endpoint], "roles", ()) or ())


def protected_rules(app: Flask) -> list[Rule]:
    """Every rule under a staff prefix, and every rule whose view declares roles."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if declared_roles(app, rule)
        or any(
            rule.rule == prefix or rule.rule.startswith(prefix + "/")
            for prefix in PROTECTED_PREFIXES
        )
    ]


def unprotected(app: Flask) -> list[str]:
    """Rules that neither declare staff roles nor are on the public list (nor are public
    endpoints mounted under a staff prefix)."""
    found = []
    for rule in app.url_map.iter_rules():
        roles = declared_roles(app, rule)
        staff_path = any(
            rule.rule == prefix or rule.rule.startswith(prefix + "/")
            for prefix in PROTECTED_PREFIXES
        )
        if roles and all(r in STAFF_ROLES for r in roles):
            continue
        if rule.endpoint in PUBLIC and not staff_path:
            continue
        found.append(f"{rule.rule} ({rule.endpoint})")
    return found


def sample_url(rule: Rule, number: str = "1") -> str:
    """The rule's path with a value for each variable: `number` for numbers, else "x"."""
    path = re.sub(r"<(?:int|float)(?:\([^)]*\))?:\w+>", number, rule.rule)
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


def test_every_route_of_the_app_is_staff_only_or_known_public(full_app: Flask) -> None:
    rules = list(full_app.url_map.iter_rules())
    assert len(rules) >= 40  # the whole map, not a prefix of it
    assert {"compliance.checks", "compliance.audit_trail", "dashboard.page"} <= {
        r.endpoint for r in rules
    }
    assert unprotected(full_app) == [], "routes with no role and not on the public list"


def test_a_new_unprotected_route_is_caught_wherever_it_is_mounted(full_app: Flask) -> None:
    full_app.add_url_rule("/compliance/leak", "compliance_leak", lambda: "transcripts")
    full_app.add_url_rule("/reports/daily", "reports_daily", lambda: "numbers")
    full_app.add_url_rule("/api/v1/chat", "chat.send")  # a public view under a staff path
    assert set(unprotected(full_app)) == {
        "/compliance/leak (compliance_leak)",
        "/reports/daily (reports_daily)",
        "/api/v1/chat (chat.send)",
    }


def test_twilio_webhooks_refuse_unsigned_requests(full_app: Flask) -> None:
    client = full_app.test_client()
    for path in ("/twilio/sms", "/twilio/status"):
        response = client.post(path, data={"MessageSid": "SM1", "From": "+12065550134"})
        assert response.status_code == 403, path


def test_the_dev_simulator_exists_only_in_development(make_app) -> None:  # type: ignore[no-untyped-def]
    production = make_app(environment="production", twilio_auth_token="12345")
    assert not [r for r in production.url_map.iter_rules() if r.endpoint.startswith("dev.")]


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


def test_an_id_too_large_for_the_database_is_not_found_on_every_route(
    full_app: Flask, tokens: dict[str, str]
) -> None:
    """A number past 64 bits in a URL matches no route (404), even for an admin, rather than
    overflowing the database driver (500)."""
    huge = str(2**64)
    rules = [r for r in full_app.url_map.iter_rules() if "<int" in r.rule]
    assert len(rules) >= 10
    browser = full_app.test_client()  # the tokens fixture made admin@example.com
    signed = browser.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert signed.status_code == 302
    api = full_app.test_client()
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    for rule in rules:
        path = sample_url(rule, number=huge)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            client = api if path.startswith("/api/") else browser
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code)
