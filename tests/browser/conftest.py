"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

One browser for the whole session; a fresh context (cookies, storage) per person per test.
Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing
(`.ci/run` installs Chromium). axe-core comes from the npm registry into var/node/ (ignored by
git) the first time; screenshots of the main pages go to var/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from support.models import User

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_VERSION = "4.14.1"
ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "var" / "node"
AXE_FILE = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"

# Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls (making
# tickets, reading results) are plain synchronous code all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the requirement is pinned
    sync_playwright = None  # type: ignore[assignment]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if sync_playwright is None:
        reason = "needs the playwright package (requirements.txt)"
    elif not os.path.exists(CHROMIUM):
        reason = f"needs Debian's Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
    if reason:
        here = str(Path(__file__).parent)
        for item in items:
            if str(item.fspath).startswith(here):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _quick_polling(settings: Any) -> None:
    """Open ticket pages ask for new messages every second instead of every 15 s."""
    settings.WEB_POLL_SECONDS = 1


@pytest.fixture
def open_as(browser: Browser, live_server: Any) -> Iterator[Callable[..., Page]]:
    """A page signed in as `user` (or signed out with None), in its own browser context."""
    contexts: list[BrowserContext] = []

    def make(user: User | None, *, width: int = 1280, height: int = 900) -> Page:
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's browser bundle, installed once from the npm registry into var/node/."""
    if not AXE_FILE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("needs npm to install axe-core from the npm registry")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0 or not AXE_FILE.exists():
            pytest.skip(f"axe-core could not be installed from npm: {done.stderr.strip()[-300:]}")
    return AXE_FILE.read_text()


@pytest.fixture
def check_accessible(axe_script: str) -> Callable[[Page, str], None]:
    """Run axe on the page; fail on any serious or critical violation, naming each."""

    def check(page: Page, name: str) -> None:
        page.add_script_tag(content=axe_script)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
        described = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad]
        assert not bad, f"{name}: " + "; ".join(described)

    return check


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
