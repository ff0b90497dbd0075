"""Browser fixtures: the real Rasa stack (tests/e2e), the Flask app served over HTTP on a
loopback port, and headless Chromium (the Debian package) driven by Playwright.

Without /usr/bin/chromium or the playwright package these tests skip, unless REQUIRE_BROWSER=1
(as `make test` sets), where they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.e2e.conftest import Stack, free_port, stack  # noqa: F401  (the session fixture)

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def live_url(
    browser: Any,
    stack: Stack,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The webhook app on http://127.0.0.1:<free port>, talking to the real Rasa. Asks for the
    browser first, so a missing browser skips before Rasa spends a minute starting."""
    from bot.web import create_app

    app = create_app(
        {
            "database_url": stack.database_url,
            "rasa_url": stack.rasa_url,
            "action_server_url": stack.action_url,
            "var_dir": tmp_path_factory.mktemp("web-var"),
        }
    )
    with serve_app(app, "live-app") as url:
        yield url


@contextmanager
def serve_app(app: Any, name: str) -> Iterator[str]:
    """Serve a Flask app on a free loopback port in a thread; its base URL while open."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


AGENT_EMAIL = "console-agent@browser.example"
AGENT_PASSWORD = "console-agent-password"


def console_app(stack: Stack, var_dir: Path, **overrides: Any) -> Any:  # noqa: F811
    """The whole app over the stack's database and Rasa, with an agent who can sign in."""
    from bot.services.users import Role, create_user, get_user
    from bot.web import create_app

    app = create_app(
        {
            "database_url": stack.database_url,
            "rasa_url": stack.rasa_url,
            "action_server_url": stack.action_url,
            "var_dir": var_dir,
        }
        | overrides
    )
    with stack.session() as session:
        if get_user(session, AGENT_EMAIL) is None:
            create_user(session, AGENT_EMAIL, Role.AGENT, AGENT_PASSWORD)
            session.commit()
    return app


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    """The agent's desktop page (1280x800)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized page (390x844, like an iPhone 12-15)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
