"""Shared fixtures: the site, built once for every test that reads it (``_site.shared_site``)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from _site import LANGUAGES, SOURCE_LANGUAGE, BuiltSite, run_build, shared_site, site_key

# Not test modules: the fixture site's files, and the network guard (importing it would
# switch the network off in the test process itself).
collect_ignore = ["fixture_site", "offline"]

# torch.compile (the co.* claims) creates its cache folder, TORCHINDUCTOR_CACHE_DIR, when dynamo
# is first imported; by default a folder of the system's temporary directory that stays. The
# tests use a temporary one, removed when they end.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="gradmodes-compile-cache-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _COMPILE_CACHE
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)


def build_site(html: Path) -> dict[str, str]:
    """Build every language (source language first) into ``html`` with the build script."""
    logs = {}
    for lang in LANGUAGES:
        # The translations read every page afresh (-E), so their logs show that each notebook
        # came from the cache that the source language filled.
        fresh = ["--", "-E"] if lang != SOURCE_LANGUAGE else []
        result = run_build("--lang", lang, "--out", str(html), *fresh)
        logs[lang] = result.stdout + result.stderr
        assert result.returncode == 0, f"building {lang!r} failed:\n{logs[lang][-6000:]}"
    return logs


# pytest-xdist (--dist loadgroup): the tests that read the built site run on one worker, first,
# so that it builds the site while the others run the rest. Each other group shares a module
# fixture that a worker makes for itself: its tests run on one worker, so it is made once (the
# fault tests' clean build, test_faults.py; the fixture site with records, test_evidence_page.py;
# the record of every claim, test_records.py).
XDIST_GROUPS = ("site", "faults", "fixture", "records")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist: each group of XDIST_GROUPS on one worker, the groups first."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        for group in XDIST_GROUPS:
            if item.get_closest_marker(group):
                item.add_marker(pytest.mark.xdist_group(group))
                break

    def rank(item: pytest.Item) -> int:
        marks = [m.kwargs.get("name", *m.args) for m in item.iter_markers("xdist_group")]
        return next((XDIST_GROUPS.index(m) for m in marks if m in XDIST_GROUPS), len(XDIST_GROUPS))

    items.sort(key=rank)
    if config.getoption("loadgroup", False):
        for item in items:
            _schedule_with_group(item)


def _schedule_with_group(item: pytest.Item) -> None:
    """Give ``item`` the node id ``<id>@<group>`` that ``--dist loadgroup`` schedules by.

    pytest-xdist 3.8 sets it through ``item._nodeid``, which pytest 9 no longer reads (its
    node ids live in ``item._id``): without this, every group's tests spread over the
    workers (test_scheduling.py checks that they do not).
    """
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    if not names or "@" in item.nodeid.rpartition("]")[2].rpartition("::")[2]:
        return  # no group, or pytest-xdist's own suffix took effect
    suffixed = f"{item.nodeid}@{'_'.join(sorted(names))}"
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # pytest before 9: pytest-xdist's own suffix works
        return
    item._id = coerce_node_id(suffixed)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def site() -> BuiltSite:
    """The site in every language, built once for all tests, workers and sessions."""
    return shared_site(site_key(), build_site)


# What each pytest-xdist worker hands the controller: the counterfactuals it tried.
TRIALS = "gradmodes counterfactual trials"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand the counterfactuals' outcomes to the controller."""
    output = getattr(session.config, "workeroutput", None)
    module = sys.modules.get("counterfactuals")
    if output is not None and module is not None:
        output[TRIALS] = [
            (t.counterfactual.claim_id, t.counterfactual.description, t.outcome)
            for t in module.TRIED
        ]


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, in its controller
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect what a worker tried, for the summary below."""
    trials = getattr(node, "workeroutput", {}).get(TRIALS)
    if trials:
        from counterfactuals import TRIED, Counterfactual, Trial

        TRIED.extend(Trial(Counterfactual(c, d, print), o, "") for c, d, o in trials)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After tests/test_counterfactuals.py: claims killed by a counterfactual / all claims."""
    module = sys.modules.get("counterfactuals")
    if module is None:
        return
    from gradmodes.claims import all_claims

    terminalreporter.write_sep("-", "counterfactual coverage")
    line = module.coverage([c.id for c in all_claims()], module.TRIED, len(module.discover()))
    terminalreporter.write_line(line)
