"""Shared fixtures: the site is built once per test session, one language at a time."""

from __future__ import annotations

import pytest
from _site import DOCS, LANGUAGES, BuiltSite, run_build

# Not test modules: the fixture site's files, and the network guard (importing it would
# switch the network off in the test process itself).
collect_ignore = ["fixture_site", "offline"]


@pytest.fixture(scope="session")
def site() -> BuiltSite:
    """Build every language (source language first) with the project's build script."""
    logs = {}
    for lang in LANGUAGES:
        result = run_build("--lang", lang)
        logs[lang] = result.stdout + result.stderr
        assert result.returncode == 0, f"building {lang!r} failed:\n{logs[lang][-6000:]}"
    return BuiltSite(DOCS / "_build" / "html", logs)
