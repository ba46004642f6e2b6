"""Shared fixtures: the site is built once per test session, one language at a time."""

from __future__ import annotations

import sys

import pytest
from _site import DOCS, LANGUAGES, SOURCE_LANGUAGE, BuiltSite, run_build

# Not test modules: the fixture site's files, and the network guard (importing it would
# switch the network off in the test process itself).
collect_ignore = ["fixture_site", "offline"]


@pytest.fixture(scope="session")
def site() -> BuiltSite:
    """Build every language (source language first) with the project's build script."""
    logs = {}
    for lang in LANGUAGES:
        # The translations read every page afresh (-E), so their logs show that each notebook
        # came from the cache that the source language filled.
        fresh = ["--", "-E"] if lang != SOURCE_LANGUAGE else []
        result = run_build("--lang", lang, *fresh)
        logs[lang] = result.stdout + result.stderr
        assert result.returncode == 0, f"building {lang!r} failed:\n{logs[lang][-6000:]}"
    return BuiltSite(DOCS / "_build" / "html", logs)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After tests/test_counterfactuals.py: claims killed by a counterfactual / all claims."""
    module = sys.modules.get("counterfactuals")
    if module is None:
        return
    from gradmodes.claims import all_claims

    terminalreporter.write_sep("-", "counterfactual coverage")
    line = module.coverage([c.id for c in all_claims()], module.TRIED, len(module.discover()))
    terminalreporter.write_line(line)
