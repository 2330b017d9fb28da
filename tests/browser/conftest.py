"""Real-browser fixtures: Playwright (sync API) driving Debian's Chromium against live_server.

Never downloads a browser: `playwright install` is not needed and must not be run. A test that
uses `page` is skipped when /usr/bin/chromium is missing (it fails instead when
REQUIRE_SERVICES=1). Screenshots go to test-artifacts/ (gitignored) through `save_screenshot`.

    @pytest.mark.browser
    def test_something(page, live_server, login, learner):
        login(page, learner)
        page.goto(live_server.url + "/dashboard/")
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from tests.conftest import skip_or_fail
from tests.factories import DEFAULT_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000  # generous: the test machine may be busy


@pytest.fixture
def live_server_db(transactional_db):
    """live_server runs in another thread: it only sees committed rows, hence transactional_db."""
    return transactional_db


@pytest.fixture
def browser_context(tmp_path, monkeypatch, live_server_db):
    """A Chromium persistent context with a fresh user-data dir, closed after the test."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is not installed (make browser-deps)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still
    # synchronous, so Django's async-safety check must not refuse them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=DESKTOP,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context):
    """A page whose console errors and failed requests are collected in page.problems."""
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))

    def on_console(message):
        # The browser's own favicon probe is not the page's problem.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            page.problems.append(f"console {message.type}: {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("requestfailed", lambda request: page.problems.append(f"request failed: {request.url}"))
    return page


@pytest.fixture
def login(live_server):
    """login(page, user, password=DEFAULT_PASSWORD): sign in through the real /accounts/login/ form."""

    def sign_in(page, user, password=DEFAULT_PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_login", user.email)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        # Wait for the redirect away from the form, not for the landing page's every resource.
        try:
            page.wait_for_url(lambda url: "/accounts/login/" not in url, wait_until="commit")
        except PlaywrightTimeoutError:
            raise AssertionError(f"login failed for {user.email}: {page.inner_text('main')[:300]}") from None
        page.wait_for_load_state("domcontentloaded")
        return page

    return sign_in


@pytest.fixture
def save_screenshot(request):
    """save_screenshot(page, name) -> Path under test-artifacts/, full page."""

    def save(page, name):
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{request.node.name}-{name}")
        path = ARTIFACTS_DIR / f"{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
