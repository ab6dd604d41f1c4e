"""A real headless Chromium for the web UI's tests: Debian's ``chromium``, driven by
Playwright through its executable path (Playwright's own browser download is not used).

``Watched`` records what must never happen on a page: a console error, an uncaught
exception, a Content-Security-Policy violation (reported by the page's own
``securitypolicyviolation`` event, listened to from an init script, which CSP does not govern).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from support.services import require_binary

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "ui"
_LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@contextmanager
def chromium() -> Iterator[Browser]:
    path = require_binary("chromium", "chromium")
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    page: Page
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Console errors, page errors and CSP violations so far."""
        csp = self.page.evaluate("window.__csp || []")
        return [*self.errors, *(f"CSP violation: {v}" for v in csp)]


@contextmanager
def watched_page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Iterator[Watched]:
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.add_init_script(_LISTEN)
    page = context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(f"console: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"page error: {exc}"))
    # Which resource failed: the console only says that one did.
    page.on(
        "response",
        lambda r: watched.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    try:
        yield watched
    finally:
        context.close()


@contextmanager
def clean_page(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> Iterator[Page]:
    """The page at ``url``; on leaving, nothing may have gone wrong on it."""
    with watched_page(browser, viewport) as watched:
        watched.page.goto(url)
        yield watched.page
        assert watched.problems() == []


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
