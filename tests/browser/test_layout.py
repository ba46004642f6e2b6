"""Layout on a desktop and on a phone; screenshots of a few pages to look at.

The screenshots go to docs/_build/screenshots/ (``<viewport>-<lang>-<page>.png``), taken
by the survey (``_survey.py``).
"""

from __future__ import annotations

import pytest
from _survey import EACH_VIEWPORT, Surveys, translated


@pytest.mark.parametrize("viewport", EACH_VIEWPORT)
def test_the_language_switcher_sits_beside_the_page_buttons(
    surveys: Surveys, viewport: str
) -> None:
    misplaced = {}
    for path, seen in surveys[viewport].items():
        if not translated(path):
            continue
        switcher, buttons = seen.switcher
        assert switcher and buttons, path
        middle = switcher["y"] + switcher["height"] / 2
        beside = buttons["y"] <= middle <= buttons["y"] + buttons["height"]
        if not (beside and switcher["x"] + switcher["width"] <= buttons["x"]):
            misplaced[path] = (switcher, buttons)
    assert not misplaced


@pytest.mark.parametrize("viewport", EACH_VIEWPORT)
def test_table_row_labels_stay_on_one_line(surveys: Surveys, viewport: str) -> None:
    labels = 0
    wrapped = {}
    for path, seen in surveys[viewport].items():
        if not translated(path):
            continue
        labels += len(seen.row_labels)
        if broken := [text for text, count in seen.row_labels if count != 1]:
            wrapped[path] = broken
    assert not wrapped
    assert labels  # the comparison table's labels were found
