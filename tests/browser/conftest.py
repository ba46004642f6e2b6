"""Browser fixtures: the built site served on localhost, and Chromium driven by Playwright.

The site is built once (the ``site`` fixture of ``tests/conftest.py``: the build the other
tests read, when they ran first) and served by a ``http.server`` thread on 127.0.0.1 at a
random port. Chromium is the system's where there is one, else Playwright's own
(``chromium.py``). Every tab from ``open_page`` is watched (``_browser.watch``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _browser import (
    AXE,
    CHROMIUM_ARGS,
    CHROMIUM_IGNORED,
    DESKTOP,
    HERE,
    NOT_FOUND,
    ROOT,
    QuietHandler,
    Watch,
    built_pages,
    chromium_executable,
    watch,
)
from _site import BuiltSite
from _survey import Surveys
from chromium import HOW_TO, OWN

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (``-m browser`` / ``-m 'not browser'``)."""
    for item in items:
        if Path(str(item.path)).is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def server(site: BuiltSite) -> Iterator[str]:
    """The built site on http://127.0.0.1:<random port>; yields that base URL (no slash)."""
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site.html))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="session")
def pages(site: BuiltSite) -> list[str]:
    """Every built page, found in the output: a new page is covered without listing it."""
    found = built_pages(site.html)
    assert ROOT in found and NOT_FOUND in found, found
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright is not installed: run these tests with `nox`, or install "
            "the 'browser' dependency group (pip install --group browser)"
        )
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                ignore_default_args=CHROMIUM_IGNORED,
            )
        except Error as problem:
            pytest.fail(f"{executable or OWN} does not start: {problem}\n{HOW_TO}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from npm (package-lock.json) by ``nox``."""
    if not AXE.is_file():
        pytest.fail("axe-core is not installed: run `npm ci --prefix tests/browser`")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def surveys(browser: Browser, server: str, pages: list[str], axe_source: str) -> Surveys:
    """Every page visited once per viewport (``_survey.py``): ``surveys["desktop"][path]``."""
    return Surveys(browser, server, pages, axe_source)


@pytest.fixture
def open_page(browser: Browser, server: str) -> Iterator[Callable[..., tuple[Page, Watch]]]:
    """``open_page(**context_options)``: a watched tab in a new context (desktop, en-US)."""
    contexts = []

    def new(**options: Any) -> tuple[Page, Watch]:
        context = browser.new_context(**{"viewport": DESKTOP, "locale": "en-US", **options})
        contexts.append(context)
        page = context.new_page()
        return page, watch(page, server)

    yield new
    for context in contexts:
        context.close()
