"""The verification and evidence pages are read again exactly when what they show changed.

They show more than their own source (``docs/_ext/generated_pages.py``): the claims'
evidence, the records, the pages citing each claim. A rebuild reads them again only when
one of those inputs changed and writes the verification page again when the pages citing a
claim changed; it writes every page again when the navigation (a title) or what the footer
shows (the recorded releases, the link to the evidence page) changed. One fixture site,
rebuilt after each kind of change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _fixture_site import EVIDENCE_PAGE, build, fixture_record, inject, make_site
from bs4 import BeautifulSoup

pytestmark = pytest.mark.fixture

GENERATED = ("verification", "evidence")
# A page that cites nothing and lists no page: Sphinx writes it only when it was read, or when
# an extension asks.
PLAIN = "---\norphan: true\n---\n\n# Plain\n\nNothing here depends on the claims.\n"


def test_the_generated_pages_are_read_again_exactly_when_what_they_show_changed(
    tmp_path: Path,
) -> None:
    docs = make_site(tmp_path)
    (docs / "evidence.md").write_text(EVIDENCE_PAGE, encoding="utf-8")
    (docs / "plain.md").write_text(PLAIN, encoding="utf-8")
    records = docs / "_data" / "evidence"
    records.mkdir(parents=True)
    doctrees, html = docs / "_build" / "doctrees" / "en", docs / "_build" / "html" / "en"

    def rebuild() -> tuple[set[str], set[str]]:
        """Build English again: the pages it read, and the pages it wrote (of those with a
        source: Sphinx writes its index and search pages in every build)."""
        before = {p.stem: p.stat().st_mtime_ns for p in doctrees.glob("*.doctree")}
        pages = [html / f"{name}.html" for name in every_page()]
        written = {p.stem: p.stat().st_mtime_ns if p.exists() else 0 for p in pages}
        result = build(docs, "--lang", "en")
        assert result.returncode == 0, result.log[-4000:]
        read = {
            p.stem for p in doctrees.glob("*.doctree") if p.stat().st_mtime_ns != before.get(p.stem)
        }
        wrote = {p.stem for p in pages if p.stat().st_mtime_ns != written[p.stem]}
        return read, wrote

    def every_page() -> list[str]:
        return [md.stem for md in docs.glob("*.md")]

    def page(name: str) -> BeautifulSoup:
        return BeautifulSoup((html / f"{name}.html").read_text(encoding="utf-8"), "html.parser")

    first = build(docs, "--lang", "en")
    assert first.returncode == 0, first.log[-4000:]

    read, wrote = rebuild()  # nothing changed
    assert read == set() and wrote == set()

    inject(docs / "index.md", "One plus one is two.", "One plus one is two, as ever.")
    read, wrote = rebuild()  # prose: only the edited page is read and written
    assert read == {"index"} and wrote == {"index"}

    (docs / "plain.md").write_text(PLAIN + "One plus one is two. {claim}`fixture.sum`\n")
    read, wrote = rebuild()  # a new citation: the verification page lists its page
    # (and Sphinx writes the pages whose table of contents lists a page written: the index)
    assert read == {"plain"} and wrote == {"plain", "verification", "index"}
    entry = page("verification").select_one("#claim-fixture\\.sum")
    assert "Plain" in entry.get_text(" ", strip=True)

    inject(docs / "index.md", "# Fixture site\n", "# Fixture site, retitled\n")
    read, wrote = rebuild()  # a title: every page's navigation shows it
    assert read == {"index"} and wrote == set(every_page())
    assert "Fixture site, retitled" in page("verification").select_one("#claim-fixture\\.sum").text
    assert "Fixture site, retitled" in page("evidence").select_one("nav.bd-links").text

    record = fixture_record()
    record["environment"].update(torch="2.1.2+cu121")  # type: ignore[union-attr]
    (records / "linux.json").write_text(json.dumps(record), encoding="utf-8")
    read, wrote = rebuild()  # a new record: the pages showing records, and every footer
    assert read == set(GENERATED) and wrote == set(every_page())
    footer = page("plain").select_one(".checked-with")
    assert "recorded on torch 2.1.2+cu121" in footer.text
    assert footer.select("a")[-1]["href"] == "evidence.html"
    assert "env-linux" in {a.get("id") for a in page("evidence").select("[id]")}

    (docs / "evidence.md").unlink()
    read, wrote = rebuild()  # no evidence page: no footer links to it
    assert wrote == set(every_page())
    footer = page("plain").select_one(".checked-with")
    assert "recorded on torch 2.1.2+cu121" in footer.text
    assert [a["href"] for a in footer.select("a")] == ["verification.html"]
    (docs / "evidence.md").write_text(EVIDENCE_PAGE, encoding="utf-8")
    rebuild()

    claims = docs / "_ext" / "fixture_claims.py"
    claims.write_text(claims.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    read, _ = rebuild()  # a claim's module: what its check observes may have changed
    assert set(GENERATED) <= read
