"""Ready to host: nothing loads from another host, a 404 page, links to the sources."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from _site import DOCS, LANGUAGES, BuiltSite, parsed
from bs4 import BeautifulSoup

BUILD: dict[str, Any] = runpy.run_path(str(DOCS / "build.py"))
CONF: dict[str, Any] = runpy.run_path(str(DOCS / "conf.py"))
# Resources a page may load from another host: each must degrade gracefully offline, shown
# by a browser test with the host blocked. None so far. (Math, for one, would load MathJax
# from a CDN: vendor it, e.g. with sphinx-mathjax-offline, rather than allow it here.)
ALLOWED_EXTERNAL: frozenset[str] = frozenset()
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //
CSS_URL = re.compile(r"""(?:url\(\s*|@import\s+)["']?([^"')\s]+)""")
NOT_RESOURCES = {"canonical", "alternate", "search", "index", "next", "prev", "author"}


def resources(page: BeautifulSoup) -> list[str]:
    """URLs a browser loads for ``page`` by itself: scripts, styles, images, frames, icons."""
    found = [str(tag["src"]) for tag in page.select("[src]")]
    found += [str(tag["data"]) for tag in page.select("object[data]")]
    found += [
        str(link["href"])
        for link in page.select("link[href]")
        if not set(link.get("rel") or []) <= NOT_RESOURCES
    ]
    return found


def external(urls: list[str]) -> list[str]:
    return [url for url in urls if EXTERNAL.match(url) and url not in ALLOWED_EXTERNAL]


@pytest.mark.site
def test_no_page_or_stylesheet_loads_from_another_host(site: BuiltSite) -> None:
    pages = sorted(site.html.rglob("*.html"))
    stylesheets = sorted(site.html.rglob("*.css"))
    assert len(pages) > len(LANGUAGES) and stylesheets
    found = {}
    for path in pages:
        if urls := external(resources(parsed(path))):
            found[str(path.relative_to(site.html))] = urls
    for path in stylesheets:
        if urls := external(CSS_URL.findall(path.read_text(encoding="utf-8"))):
            found[str(path.relative_to(site.html))] = urls
    assert found == {}


def test_the_resource_check_sees_external_scripts_styles_and_imports() -> None:
    page = BeautifulSoup(
        '<script src="https://cdn.example/m.js"></script><script src="_static/a.js"></script>'
        '<link rel="stylesheet" href="//fonts.example/f.css"><link rel="canonical" '
        'href="https://example.org/p.html"><img src="data:image/png;base64,AA==">',
        "html.parser",
    )
    assert external(resources(page)) == ["https://cdn.example/m.js", "//fonts.example/f.css"]
    css = '@import "https://fonts.example/x.css"; a { background: url(../img/a.png) }'
    assert external(CSS_URL.findall(css)) == ["https://fonts.example/x.css"]


@pytest.mark.site
def test_the_site_has_a_404_page_and_no_jekyll_marker(site: BuiltSite) -> None:
    page = BeautifulSoup((site.html / "404.html").read_text(encoding="utf-8"), "html.parser")
    links = {str(a["hreflang"]): str(a["href"]) for a in page.select("a[hreflang]")}
    assert links == {code: f"/{code}/index.html" for code in LANGUAGES}  # default root: /
    assert sorted(str(s["lang"]) for s in page.select("section[lang]")) == sorted(LANGUAGES)
    assert (site.html / ".nojekyll").is_file()


def test_the_404_page_links_from_the_site_root(tmp_path: Path) -> None:
    BUILD["write_404"](tmp_path, BUILD["site_root"]("gradmodes"))
    page = BeautifulSoup((tmp_path / "404.html").read_text(encoding="utf-8"), "html.parser")
    hrefs = sorted(str(a["href"]) for a in page.select("a[hreflang]"))
    assert hrefs == sorted(f"/gradmodes/{code}/index.html" for code in LANGUAGES)
    assert page.select_one("link[rel=icon]")["href"].startswith("/gradmodes/")


@pytest.mark.parametrize(
    ("given", "root"), [("", "/"), ("/", "/"), ("gradmodes", "/gradmodes/"), ("/a/b/", "/a/b/")]
)
def test_site_root(given: str, root: str) -> None:
    assert BUILD["site_root"](given) == root


def test_pages_link_to_their_source_on_github_only_when_built_there() -> None:
    source_links = CONF["source_links"]
    assert source_links({}) == {}  # a local build: deterministic, the .md download only
    options = source_links(
        {
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_REPOSITORY": "someone/gradmodes",
            "GITHUB_REF_NAME": "main",
        }
    )
    assert options["repository_url"] == "https://github.example/someone/gradmodes"
    assert options["use_source_button"] and options["path_to_docs"] == "docs"
    assert CONF["html_copy_source"]  # the download button's .md exists
