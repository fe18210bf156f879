"""What every browser test shares: Playwright driving Debian's Chromium (`.ci/run` installs it)
against a real `selchat serve`; the ``browser`` fixture is registered in conftest.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import DEADLINE, ServerProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - a dev install has it
    sync_playwright = expect = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None or sync_playwright is None,
                       reason="Chromium (Debian's chromium) or playwright (pip) is not installed"),
    # Playwright keeps an idle executor pool, and its driver process a watcher thread until it is reaped
    pytest.mark.foreign_threads("asyncio_", "asyncio-waitpid"),
]
WAIT_MS = DEADLINE * 1000
if sync_playwright is not None:
    expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_playwright() as p:  # type: ignore[misc]
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, server: ServerProcess, name: str, dialogs: list[str] | None = None,
              viewport: dict[str, int] | None = None) -> Page:
    page = browser.new_page(viewport=viewport or {"width": 1100, "height": 640})
    page.set_default_timeout(WAIT_MS)
    if dialogs is not None:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"http://127.0.0.1:{server.port}/")
    page.fill("#name", name)
    page.click("button[type=submit]")
    expect(page.locator("#chat")).to_be_visible()
    return page


def say(page: Page, text: str) -> None:
    page.fill("#line", text)
    page.press("#line", "Enter")
