"""What the browser tests share: the pages of the build, a local server, a page watcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _site import DOCS, LANGUAGES, SOURCE_LANGUAGE
from chromium import NoChromium, system_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = DOCS / "_build" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ROOT = "index.html"  # the root page: redirects by the browser's language
NOT_FOUND = "404.html"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Playwright starts headless Chromium with --hide-scrollbars: test_fit.py checks that code
# blocks show their scrollbar, and a desktop reader's scrollbar takes room from the page.
CHROMIUM_IGNORED = ["--hide-scrollbars"]


def chromium_executable() -> str | None:
    """The Chromium to drive: ``GRADMODES_CHROMIUM``, the system's, or None for Playwright's
    own (``chromium.py``: ``nox`` installs it where the system has none)."""
    try:
        return system_chromium()
    except NoChromium as problem:
        pytest.fail(str(problem))


def built_pages(html: Path) -> list[str]:
    """Every HTML page of a built site, as URL paths from its root (``ja/index.html``)."""
    return sorted(
        path.relative_to(html).as_posix()
        for path in html.rglob("*.html")
        if not any(
            part.startswith("_") or part == "jupyter_execute"
            for part in path.relative_to(html).parts
        )
    )


def page_language(url_path: str) -> str:
    """The language of a page: its top folder, or the source language at the root.

    >>> page_language("ja/comparison.html"), page_language("404.html")
    ('ja', 'en')
    """
    top = url_path.split("/", 1)[0]
    return top if top in LANGUAGES else SOURCE_LANGUAGE


class QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without logging; a missing path gets ``404.html``, as GitHub Pages does."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / NOT_FOUND
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@dataclass
class Watch:
    """What went wrong in a tab: console errors, exceptions, failed or outside requests."""

    problems: list[str] = field(default_factory=list)

    def take(self) -> list[str]:
        """The problems so far, forgotten (to check one page after another in one tab)."""
        problems, self.problems = self.problems, []
        return problems


def watch(page: Page, server: str) -> Watch:
    """Record what goes wrong in ``page``; block (and record) requests to any other host."""
    seen = Watch()

    def on_outside(route: Route) -> None:
        seen.problems.append(f"request to another host (blocked): {route.request.url}")
        route.abort()

    page.on(
        "console",
        lambda message: (
            seen.problems.append(f"console error: {message.text} ({message.location['url']})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: seen.problems.append(f"uncaught exception: {error}"))
    page.on(
        "requestfailed",
        lambda request: (
            # net::ERR_ABORTED: the tab navigated on before the request ended (not the site's)
            seen.problems.append(f"request failed: {request.url} {request.failure}")
            if request.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            seen.problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.route(lambda url: not url.startswith(server + "/"), on_outside)
    return seen


def visit(page: Page, server: str, path: str) -> None:
    """Open ``path`` and wait for its ``load`` event (:func:`settle` waits for the rest).

    The root page redirects at once with JavaScript: it is shown without its scripts, as a
    reader without JavaScript sees it (the redirect itself is tested on its own).
    """
    url = f"{server}/{path}"
    if path == ROOT:
        page.route(url, without_scripts)
    page.goto(url, wait_until="load")


def settle(page: Page) -> None:
    """Wait until the tab's network has been idle for 500 ms (Playwright's ``networkidle``):
    by then its watch has seen every request the page made as it loaded.

    Every page asks for one thing after its ``load`` event (its icon); the time this waits
    runs alongside whatever was read from the page since it loaded (a survey's readings),
    instead of before it.
    """
    page.wait_for_load_state("networkidle")


def without_scripts(route: Route) -> None:
    response = route.fetch()
    body = response.text()
    while (start := body.find("<script")) >= 0:
        body = body[:start] + body[body.index("</script>", start) + len("</script>") :]
    route.fulfill(response=response, body=body)
