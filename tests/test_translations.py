"""Every page is fully translated, from the current English, with its markup intact.

The checks themselves live in ``_catalogues.py``; ``test_faults.py`` shows that each one
reports the fault it is for.
"""

from __future__ import annotations

from collections import Counter

import pytest
from _catalogues import (
    incomplete_entries,
    markup,
    markup_mismatches,
    stale_entries,
    unmatched_catalogues,
)
from _site import DOCS, TRANSLATIONS, run_build


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_every_page_has_a_catalogue_and_every_catalogue_a_page(lang: str) -> None:
    assert unmatched_catalogues(DOCS, lang) == []


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_no_entry_is_untranslated_fuzzy_or_obsolete(lang: str) -> None:
    assert incomplete_entries(DOCS, lang) == []


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_keep_roles_links_and_code(lang: str) -> None:
    problems = markup_mismatches(DOCS, lang)
    assert problems == [], "\n".join(problems)


def test_markup_counts_roles_links_and_code_spans() -> None:
    text = "A {claim}`eval.flag` and [PyTorch](https://pytorch.org) and `x.grad` and `y`."
    assert markup(text) == Counter(
        ["{claim}`eval.flag`", "link:https://pytorch.org", "code:x.grad", "code:y"]
    )
    assert markup("only `x.grad`") != markup(text)


@pytest.mark.site
@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_catalogues_match_the_current_english(lang: str) -> None:
    """An English sentence edited after translation must show up here, not fall back silently."""
    result = run_build("--gettext")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stale = stale_entries(DOCS, lang)
    assert stale == [], "run `nox -s i18n` and translate:\n" + "\n".join(stale)
