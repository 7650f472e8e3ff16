"""Browser tests of the console: Playwright driving Debian's Chromium against a live server in
deployed mode (DEBUG off, static files served by WhiteNoise, not by Django's test handler).

Skipped when /usr/bin/chromium is missing (`.ci/run` installs it). Screenshots of every page a
test visits go to test-artifacts/<test name>/ (gitignored).
"""

import os
import re
from pathlib import Path

import pytest
from django.db import connections
from django.test.testcases import LiveServerThread

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# The page width point 6 of docs/operations.md's console section is checked at.
VIEWPORT = {"width": 1400, "height": 1000}

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def live_url(transactional_db):
    """A threaded live server whose static files go through the app's own middleware
    (WhiteNoise), as under gunicorn: Django's test handler for /static/ is left out."""
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread = LiveServerThread(
        "127.0.0.1", static_handler=lambda handler: handler, connections_override=shared, port=0
    )
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    # The shared in-memory connection stays shareable: the request thread of a connection the
    # browser keeps alive closes it (a no-op in memory) only when the browser lets go.


@pytest.fixture(scope="module")
def chromium():
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it
    is open, which Django takes for an async context; its documented escape hatch is allowed
    only as long as the browser module runs."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Shots:
    """Saves a full-page screenshot of each page visited, numbered in visiting order."""

    def __init__(self, page, folder: Path):
        self.page, self.folder, self.count = page, folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)


@pytest.fixture
def page(chromium, live_url, request, settings):
    """A 1,400 px wide tab; it closes before the live server stops (it depends on it)."""
    # Deployed mode: DEBUG off (the live server renders errors as a production would).
    settings.DEBUG = False
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.shots = Shots(page, ARTIFACTS / re.sub(r"[^\w.-]", "_", request.node.name))
    yield page
    context.close()
