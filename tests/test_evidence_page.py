"""Recorded evidence on the site: the fixture site built with records from other platforms.

Records of Linux, macOS, Windows and a GPU machine, one stale and one with a false claim, are
fabricated in the fixture's temporary copy (never committed as evidence). The page built from
them describes every environment and shows each claim's status in each one, the same way
whatever the platform; a stale record is never shown as verified.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fixture_site import EVIDENCE_PAGE, build, fixture_record, make_site
from bs4 import BeautifulSoup

pytestmark = pytest.mark.fixture

LINUX = {"torch": "2.1.2+cu121", "platform": "Linux x86_64", "cpu": "AMD EPYC 7B13"}
ENVIRONMENTS = {
    "linux": LINUX,
    "macos": {
        "torch": "2.4.1",
        "torch_cuda": None,
        "platform": "Darwin arm64",
        "os": "macOS-14.5-arm64-arm-64bit",
        "cpu": "Apple M2",
        "python": "3.12.4",
    },
    "windows": {
        "torch": "2.5.1+cpu",
        "torch_cuda": None,
        "platform": "Windows AMD64",
        "os": "Windows-11-10.0.22631-SP0",
        "cpu": "Intel64 Family 6 Model 154 Stepping 3, GenuineIntel",
    },
    "gpu": {
        "torch": "2.6.0+cu124",
        "torch_cuda": "12.4",
        "platform": "Linux x86_64",
        "cpu": "Intel(R) Xeon(R) Platinum 8480+",
        "cuda_devices": ["NVIDIA H100 80GB HBM3 (sm 9.0)"],
    },
    "stale": {"torch": "2.2.2+cu121", "platform": "Linux x86_64"},
    "false": {"torch": "2.3.1+cu121", "platform": "Linux x86_64"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture site (English) with an evidence page and the fabricated records."""
    where = tmp_path_factory.mktemp("evidence-site")
    docs = make_site(where)
    (docs / "evidence.md").write_text(EVIDENCE_PAGE, encoding="utf-8")
    genuine = fixture_record()
    folder = docs / "_data" / "evidence"
    folder.mkdir(parents=True)
    for name, changes in ENVIRONMENTS.items():
        record = json.loads(json.dumps(genuine))
        record["environment"].update(changes, torch_git=f"{name}0123456789abcdef")
        if name == "stale":
            record["claims"]["fixture.sum"]["fingerprint"] = "0" * 16
        if name == "false":
            record["claims"]["fixture.order"].update(status="false", failure="0 < 1: False")
        if name == "macos":  # a record older than the claim fixture.order
            del record["claims"]["fixture.order"]
        (folder / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    result = build(docs, "--lang", "en")
    assert result.returncode == 0, result.log[-4000:]
    return docs / "_build" / "html" / "en"


def _page(built: Path, name: str) -> BeautifulSoup:
    return BeautifulSoup((built / f"{name}.html").read_text(encoding="utf-8"), "html.parser")


def _statuses(row: object) -> list[str]:
    cells = row.select("abbr.rec")  # type: ignore[attr-defined]
    return [next(c for c in cell["class"] if c.startswith("rec-")) for cell in cells]


def test_every_environment_is_described_whatever_its_platform(built: Path) -> None:
    page = _page(built, "evidence")
    boxes = page.select(".record-environment")
    assert len(boxes) == len(ENVIRONMENTS)
    text = {box["id"]: box.get_text(" ", strip=True) for box in boxes}
    for name, changes in ENVIRONMENTS.items():
        described = text[f"env-{name}"]
        for value in changes.values():
            shown = ", ".join(value) if isinstance(value, list) else value
            assert shown is None or str(shown) in described, (name, shown)
        assert f"{name}0123456789abcdef" in described and f"{name}.json" in described


def test_the_matrix_shows_each_claims_status_in_each_environment(built: Path) -> None:
    page = _page(built, "evidence")
    header = [th.get_text(strip=True) for th in page.select(".evidence-matrix thead th")[1:]]
    # Oldest torch first: 2.1.2 linux, 2.2.2 stale, 2.3.1 false, 2.4.1 macos, 2.5.1, 2.6.0.
    assert header == ["2.1.2", "2.2.2", "2.3.1", "2.4.1", "2.5.1", "2.6.0"]
    rows = {
        row.select_one("code").get_text(): _statuses(row)
        for row in page.select(".evidence-matrix tbody tr")
    }
    verified = "rec-verified"
    assert rows == {
        "fixture.order": [verified, verified, "rec-false", "rec-not-recorded", verified, verified],
        "fixture.sum": [verified, "rec-stale", verified, verified, verified, verified],
    }
    links = page.select(".evidence-matrix tbody a")
    assert {a["href"] for a in links} == {
        "verification.html#claim-fixture.sum",
        "verification.html#claim-fixture.order",
    }


def test_each_claims_entry_shows_its_row_of_environments(built: Path) -> None:
    page = _page(built, "verification")
    entry = page.select_one("#claim-fixture\\.sum")
    row = entry.select_one(".record-row")
    assert _statuses(row) == ["rec-verified", "rec-stale", *["rec-verified"] * 4]
    assert [a["href"] for a in row.select("a")][:2] == [
        "evidence.html#env-linux",
        "evidence.html#env-stale",
    ]
    assert "stale" in row.select("abbr.rec")[1]["title"]


def test_the_footer_names_the_build_torch_and_the_recorded_range(built: Path) -> None:
    footer = _page(built, "index").select_one(".checked-with")
    assert "recorded on torch 2.1.2+cu121 – 2.6.0+cu124" in footer.get_text(" ", strip=True)
    assert footer.select("a")[-1]["href"] == "evidence.html"
