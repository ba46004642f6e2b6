"""The behaviour matrix page: a measured table, headers in the page's language."""

from __future__ import annotations

import pytest
from _site import LANGUAGES, SOURCE_LANGUAGE, TRANSLATIONS, BuiltSite
from bs4 import Tag

from gradmodes import behaviour_matrix

pytestmark = pytest.mark.site


def matrix_table(site: BuiltSite, lang: str) -> Tag:
    tables = site.soup(lang, "matrix").select("table.behaviour-matrix")
    assert len(tables) == 1
    return tables[0]


def cells(row: Tag) -> list[str]:
    return [cell.get_text(" ", strip=True) for cell in row.select("th, td")]


def data_rows(table: Tag) -> list[tuple[list[str], Tag]]:
    """Each measured row with its settings: its block's (module mode, grad mode), its own."""
    found = []
    block: list[str] = []
    for row in table.select("tbody tr"):
        if "matrix-block" in (row.get("class") or []):
            block = [code.get_text() for code in row.select("code")]
        else:
            found.append(([*block, *cells(row)[:1]], row))
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_cell_is_the_measured_value(site: BuiltSite, lang: str) -> None:
    table = matrix_table(site, lang)
    rows = data_rows(table)
    measured = behaviour_matrix()
    assert len(rows) == len(measured) == 12
    assert len(table.select("tbody tr.matrix-block")) == 6  # 2 module modes x 3 grad modes
    grad_modes = {"grad": "enable_grad()", "no_grad": "no_grad()"}
    for (settings, row), seen in zip(rows, measured, strict=True):
        assert settings == [
            "model.train()" if seen.training else "model.eval()",
            grad_modes.get(seen.grad_mode, f"{seen.grad_mode}()"),
            str(seen.requires_grad),
        ]
        values = cells(row)[1:]
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
        assert len(row.select("th.stub")) == 1  # the row's own setting is its header
    for block in table.select("tbody tr.matrix-block"):
        assert [cell.get("colspan") for cell in block.select("th, td")] == ["7"]


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
    assert len(headers) == 2 + 7  # the two groups, then one header per column
    assert [english for english, other in headers if english == other] == []
    assert translated.caption is not None and source.caption is not None
    assert translated.caption.get_text() != source.caption.get_text()
