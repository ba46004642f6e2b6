"""Nothing is cut off, and nothing needs sideways scrolling but code blocks, which show a
scrollbar: every page in every language, on a desktop (1280 px) and on a phone (390 px).

One tab visits each page at desktop width, measures, narrows to phone width and measures
again. Each measurement is one script run in the page: it opens every ``<details>`` and
shows every tab of a tab set, then compares, for every element the reader can see, its
``scrollWidth`` with its ``clientWidth`` (and, where its overflow is hidden, its height) and
reads its overflow style:

- a code block (``pre``) wider than its box must scroll with a visible scrollbar, and on a
  desktop the code of a cell must fit (a line of ``CODE_WIDTH`` characters, and the cell);
- any other element wider than its box is a problem: it scrolls sideways (overflow
  ``auto``/``scroll``), is cut (``hidden``/``clip``), or, in the article, spills out of it;
- so is an element whose overflow is hidden and whose content is taller than its box, and a
  page wider than the window.

The browser shows scrollbars as a desktop reader sees them (``_browser.CHROMIUM_IGNORED``;
headless Chromium hides them by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from _browser import DESKTOP, PHONE, ROOT, Watch, visit
from _site import CODE_WIDTH

if TYPE_CHECKING:
    from playwright.sync_api import Page

OpenPage = Callable[..., tuple["Page", Watch]]

MEASURE = """async ({desktop, codeWidth}) => {
  await document.fonts.ready;
  document.querySelectorAll("details").forEach(d => (d.open = true));
  const style = document.createElement("style");
  style.textContent = ".sd-tab-content { display: block !important; }";
  document.head.append(style);
  const px = value => parseFloat(value) || 0;
  const name = el => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    for (const cls of [...el.classList].slice(0, 2)) text += "." + cls;
    return text;
  };
  const where = el => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 3; e = e.parentElement)
      parts.unshift(name(e));
    return parts.join(" > ");
  };
  const article = document.querySelector("article.bd-article");
  const problems = [];
  const report = (el, what) => problems.push(
    `${what}: ${where(el)} (content ${el.scrollWidth}x${el.scrollHeight} px, ` +
    `box ${el.clientWidth}x${el.clientHeight} px): ` +
    JSON.stringify((el.innerText || "").trim().slice(0, 60)));
  let codeCells = 0;
  for (const el of document.body.querySelectorAll("*")) {
    const wide = el.scrollWidth > el.clientWidth + 1;
    if (!wide && el.scrollHeight <= el.clientHeight + 1 && el.tagName !== "PRE") continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // visually hidden (screen readers)
    const css = getComputedStyle(el);
    const cell = el.tagName === "PRE" && el.closest("div.cell_input");
    if (el.tagName === "PRE") {
      const bar = el.offsetHeight - el.clientHeight - px(css.borderTopWidth) -
        px(css.borderBottomWidth);
      if (wide && !(["auto", "scroll"].includes(css.overflowX) && bar > 0 &&
                    css.scrollbarWidth !== "none"))
        report(el, "code block cut or scrolling without a visible scrollbar");
      if (desktop && cell) {
        codeCells += 1;
        if (wide) report(el, "code cell wider than the column");
        const probe = document.createElement("span");
        probe.textContent = "0".repeat(codeWidth);
        el.append(probe);
        const room = el.clientWidth - px(css.paddingLeft) - px(css.paddingRight);
        if (probe.getBoundingClientRect().width > room)
          report(el, `a line of ${codeWidth} characters does not fit this code cell`);
        probe.remove();
      }
      continue;
    }
    if (el.closest("pre")) continue;  // inside a code block: the block is what scrolls
    if (wide) {
      if (["auto", "scroll"].includes(css.overflowX)) report(el, "scrolls sideways");
      else if (["hidden", "clip"].includes(css.overflowX)) report(el, "content cut");
      else if (article && article.contains(el)) report(el, "content spills out");
    }
    if (["hidden", "clip"].includes(css.overflowY) && el.scrollHeight > el.clientHeight + 1)
      report(el, "content cut at the bottom");
  }
  const root = document.scrollingElement;
  if (root.scrollWidth > root.clientWidth)
    problems.push(`the page scrolls sideways: ${root.scrollWidth} px in ${root.clientWidth} px`);
  style.remove();
  return {problems, codeCells};
}"""


def measure(page: Page, desktop: bool) -> dict[str, Any]:
    return page.evaluate(MEASURE, {"desktop": desktop, "codeWidth": CODE_WIDTH})


def test_nothing_is_cut_off_and_only_code_scrolls_sideways(
    pages: list[str], open_page: OpenPage, server: str
) -> None:
    page, _ = open_page()
    problems: dict[str, list[str]] = {}
    code_cells = 0
    for path in pages:
        page.set_viewport_size(DESKTOP)
        if path == ROOT:
            visit(page, server, path)  # without its redirecting script
        else:
            page.goto(f"{server}/{path}")  # the measurement waits for the fonts
        desktop = measure(page, desktop=True)
        page.set_viewport_size(PHONE)
        phone = measure(page, desktop=False)
        code_cells += desktop["codeCells"]
        for width, found in ((DESKTOP["width"], desktop), (PHONE["width"], phone)):
            if found["problems"]:
                problems[f"{path} at {width} px"] = found["problems"]
    assert not problems, "\n".join(
        f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items()
    )
    assert code_cells > 100  # the code cells were found and measured


def test_the_measurement_sees_what_it_must_refuse(open_page: OpenPage, server: str) -> None:
    """A wide table, a cut line and a code block without a scrollbar are all reported."""
    page, _ = open_page()
    page.goto(f"{server}/404.html")
    page.set_content(
        """<html><body><article class="bd-article">
        <div style="width: 200px; overflow-x: auto"><table><tr><td>"""
        + "wide " * 5
        + "x" * 80
        + """</td></tr></table></div>
        <p style="width: 200px; overflow: hidden; white-space: nowrap">"""
        + "cut " * 80
        + """</p><p style="width: 200px">"""
        + "spill" * 80
        + """</p><pre style="width: 200px; overflow-x: auto; scrollbar-width: none">"""
        + "code " * 80
        + """</pre><pre style="width: 200px; overflow-x: auto">"""
        + "fine " * 80
        + "</pre></article></body></html>"
    )
    found = measure(page, desktop=False)["problems"]
    kinds = sorted(problem.split(":", 1)[0] for problem in found)
    assert kinds == [
        "code block cut or scrolling without a visible scrollbar",
        "content cut",
        "content spills out",
        "content spills out",  # the article itself, too: it holds the spilling paragraph
        "scrolls sideways",
        "the page scrolls sideways",
    ], found
