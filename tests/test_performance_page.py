"""The performance page: exact bytes outside the measured blocks; CPU figures; an honest GPU tab."""

from __future__ import annotations

import pytest
import torch
from _site import LANGUAGES, TRANSLATIONS, BuiltSite
from bs4 import BeautifulSoup

from gradmodes.measure import SETTINGS, WORKLOADS

pytestmark = pytest.mark.site
PAGE = "performance"
NOT_RUN = {"en": "Not run in this build.", "ja": "このビルドでは実行していません。"}


def soup(site: BuiltSite, lang: str) -> BeautifulSoup:
    return BeautifulSoup(site.page(lang, PAGE).read_text(encoding="utf-8"), "html.parser")


def tabs(page: BeautifulSoup) -> dict[str, BeautifulSoup]:
    labels = [label.get_text(strip=True) for label in page.select(".sd-tab-set label")]
    contents = page.select(".sd-tab-set .sd-tab-content")
    return dict(zip(labels, contents, strict=True))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cpu_tab_has_the_measured_table_and_figure(site: BuiltSite, lang: str) -> None:
    cpu = tabs(soup(site, lang))["CPU"]
    measured = cpu.select_one(".tag_measured")
    assert measured is not None
    rows = [
        [td.get_text(strip=True) for td in tr.select("td")] for tr in measured.select("tbody tr")
    ]
    assert [(r[0], r[1]) for r in rows] == [(w, s) for w in WORKLOADS for s in SETTINGS]
    assert measured.select_one("img") is not None
    assert "torch_threads" in measured.get_text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_measured_figures_are_only_inside_measured_blocks(site: BuiltSite, lang: str) -> None:
    """What is left after removing `.tag_measured` must not depend on timings."""
    page = soup(site, lang)
    for block in page.select(".tag_measured"):
        block.decompose()
    text = page.get_text()
    assert all("median_us" not in table.get_text() for table in page.select("table"))
    assert page.select("img") == []  # the only figure is measured
    assert "load_average_1min" not in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a build without CUDA")
@pytest.mark.parametrize("lang", LANGUAGES)
def test_gpu_tab_says_plainly_it_was_not_run(site: BuiltSite, lang: str) -> None:
    gpu = tabs(soup(site, lang))["GPU"]
    assert NOT_RUN[lang] in gpu.get_text()
    assert gpu.select("table") == [] and gpu.select("img") == []
    marks = {str(a["href"]).rsplit("#claim-", 1)[1]: a["class"] for a in gpu.select("a.claim-mark")}
    # The CUDA-only claim is stated only in the `{only} cuda` block, which this build leaves out.
    assert "perf.cuda-saved" not in marks
    assert all("claim-verified" in classes for classes in marks.values())
    assert "claim-verified" in marks["perf.autocast"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_claim_mark_on_the_page_is_verified(site: BuiltSite, lang: str) -> None:
    """No sentence states a claim this build did not check (a CUDA-only one, without CUDA)."""
    marks = soup(site, lang).select("a.claim-mark")
    assert marks and all("claim-verified" in mark["class"] for mark in marks)


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translations_reuse_the_claim_evidence(site: BuiltSite, lang: str) -> None:
    """The first language's build checked the claims; a translation's build reuses them."""
    assert "claims: 0 checked," in site.logs[lang]
