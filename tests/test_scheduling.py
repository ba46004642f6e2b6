"""Under pytest-xdist with ``--dist loadgroup`` (how nox runs the tests), the tests of one
``xdist_group`` are scheduled by one group name, so one worker runs them all
(``tests/conftest.py``: the site's tests, the fault tests, each browser survey)."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("scheduling")
@pytest.mark.parametrize("case", ["first", "second"])
def test_the_tests_of_a_group_are_scheduled_by_its_name(
    request: pytest.FixtureRequest, case: str
) -> None:
    if not request.config.getoption("loadgroup", False):
        pytest.skip("only under pytest-xdist --dist loadgroup (nox -s tests)")
    assert request.node.nodeid.endswith(f"[{case}]@scheduling")
