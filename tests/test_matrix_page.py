"""The behaviour matrix page: a measured table, headers in the page's language."""

from __future__ import annotations

import pytest
from _site import LANGUAGES, SOURCE_LANGUAGE, TRANSLATIONS, BuiltSite
from bs4 import BeautifulSoup, Tag

from gradmodes import behaviour_matrix

pytestmark = pytest.mark.site


def matrix_table(site: BuiltSite, lang: str) -> Tag:
    page = BeautifulSoup(site.page(lang, "matrix").read_text(encoding="utf-8"), "html.parser")
    tables = page.select("table.behaviour-matrix")
    assert len(tables) == 1
    return tables[0]


def cells(row: Tag) -> list[str]:
    return [cell.get_text(" ", strip=True) for cell in row.select("th, td")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_cell_is_the_measured_value(site: BuiltSite, lang: str) -> None:
    rows = matrix_table(site, lang).select("tbody tr")
    measured = behaviour_matrix()
    assert len(rows) == len(measured) == 12
    for row, seen in zip(rows, measured, strict=True):
        values = cells(row)[3:]
        assert values == [
            str(seen.dropout_active),
            str(seen.bn_stats_updated),
            str(seen.output_requires_grad),
            str(seen.saved_bytes),
            str(seen.saved_storage_bytes),
            str(seen.backward_ok),
        ]
        for cell in row.select(".matrix-bool"):  # the visual mark follows the value
            assert f"matrix-{cell.get_text().lower()}" in cell["class"]
        assert len(row.select("th.stub")) == 3  # the settings are row headers


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_headers_are_translated_and_values_are_shared(site: BuiltSite, lang: str) -> None:
    source, translated = matrix_table(site, SOURCE_LANGUAGE), matrix_table(site, lang)
    assert [cells(r) for r in translated.select("tbody tr")] == [
        cells(r) for r in source.select("tbody tr")
    ]
    headers = [
        (english, other)
        for source_row, row in zip(source("tr"), translated("tr"), strict=True)
        if source_row.parent.name == "thead"
        for english, other in zip(cells(source_row), cells(row), strict=True)
    ]
    assert len(headers) == 2 + 9  # the two groups, then one header per column
    assert [english for english, other in headers if english == other] == []
    assert translated.caption is not None and source.caption is not None
    assert translated.caption.get_text() != source.caption.get_text()
