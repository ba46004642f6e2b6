"""One visit of every page at one width, shared by the tests that read what it saw.

Most browser tests check one property of every page. Loading each page once per test made
the browser tests take 13 minutes on two cores; :func:`survey` visits each page once per
viewport (desktop, phone) and keeps what the tests read: the problems the tab's watch saw,
the page's language and width, its links, its table row labels, where its language
switcher sits, its axe-core violations (desktop) and its fit (``MEASURE``). The tests
assert on that, each its own property, as before.

The readings that change the page come last: axe-core adds its script, and ``MEASURE``
opens every ``<details>`` and tab (it is the last reading, so the others see the page as
it loads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from _browser import DESKTOP, PHONE, SCREENSHOTS, Watch, settle, visit, watch
from _site import CODE_WIDTH, LANGUAGES

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# pytest-xdist: the tests that read one viewport's survey run on one worker, which surveys
# once; the two surveys run on two workers at once.
ON_DESKTOP = pytest.mark.xdist_group("desktop")
ON_PHONE = pytest.mark.xdist_group("phone")
# A test of both viewports: parametrize it with these (the viewport's name).
EACH_VIEWPORT = [pytest.param("desktop", marks=ON_DESKTOP), pytest.param("phone", marks=ON_PHONE)]
# A page whose measurement finds a problem is measured again once, this much later: in two
# CI runs one phone-width page each (a different one each time, both fitting in the other
# run and in a local run) measured 2 and 6 px too wide right after loading.
SETTLE_MS = 1000
SHOTS = {"index", "comparison"}  # pages to screenshot, in every language
ROW_LABELS = "table td:first-child > p > strong:only-child"

AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))"""

MEASURE = """async ({desktop, codeWidth}) => {
  await document.fonts.ready;
  document.querySelectorAll("details").forEach(d => (d.open = true));
  const style = document.createElement("style");
  style.textContent = ".sd-tab-content { display: block !important; }";
  document.head.append(style);
  // two frames for the layout of what was opened: a code block whose width changed with it
  // once showed no scrollbar yet (a CI run under load)
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
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
      // A wide block hides the text past its visible box (its padding included): scrollWidth
      // also counts the end padding, and a block whose text reached into that padding only,
      // all of it visible, showed no scrollbar in some runs. (The text's box alone is not
      // enough: the spaces that end the lines of a wrapping block hang past its box.)
      const text = document.createRange();
      text.selectNodeContents(el);
      const right = text.getBoundingClientRect().right - box.left - el.clientLeft + el.scrollLeft;
      const hidden = wide && right > el.clientWidth + 1;
      if (hidden && !(["auto", "scroll"].includes(css.overflowX) && bar > 0 &&
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
    """``MEASURE`` in ``page``: what is cut off or scrolls sideways, and the code cells seen."""
    return page.evaluate(MEASURE, {"desktop": desktop, "codeWidth": CODE_WIDTH})


@dataclass(frozen=True)
class Seen:
    """What one visit of a page found."""

    problems: list[str]  # console errors, exceptions, failed or outside requests
    lang: str  # <html lang>
    scroll_width: int  # of the page, in px
    links: list[str]  # every a[href], resolved
    row_labels: list[tuple[str, int]]  # (text, lines) of each table row label
    switcher: tuple[dict[str, float] | None, dict[str, float] | None]  # switcher, buttons
    axe: list[dict[str, Any]] | None  # axe-core's violations (None: not run)
    fit: dict[str, Any]  # measure()


def translated(path: str) -> bool:
    """Whether ``path`` is a page of one language (not the root or 404 page)."""
    return path.split("/", 1)[0] in LANGUAGES


@dataclass
class Surveys:
    """Each viewport's survey (``surveys["phone"]``), made when first asked for."""

    browser: Browser
    server: str
    pages: list[str]
    axe_source: str
    done: dict[str, dict[str, Seen]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> dict[str, Seen]:
        if name not in self.done:
            axe = self.axe_source if name == "desktop" else None
            self.done[name] = survey(self.browser, self.server, self.pages, name, axe)
        return self.done[name]


def survey(
    browser: Browser,
    server: str,
    pages: list[str],
    name: str,
    axe_source: str | None,
) -> dict[str, Seen]:
    """Visit every page in one tab at the viewport ``name`` (``VIEWPORTS``); run axe-core
    where ``axe_source`` is given; screenshot the ``SHOTS`` pages."""
    context = browser.new_context(viewport=VIEWPORTS[name], locale="en-US")
    try:
        page = context.new_page()
        seen = watch(page, server)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return {path: _visit(page, seen, server, path, name, axe_source) for path in pages}
    finally:
        context.close()


def _visit(
    page: Page, seen: Watch, server: str, path: str, name: str, axe_source: str | None
) -> Seen:
    visit(page, server, path)
    switcher: tuple[dict[str, float] | None, dict[str, float] | None] = (None, None)
    if translated(path):
        switcher = (
            page.locator("nav.lang-switcher").bounding_box(),
            page.locator(".article-header-buttons").bounding_box(),
        )
        lang, docname = path.split("/", 1)
        if docname.removesuffix(".html") in SHOTS:
            page.screenshot(path=SCREENSHOTS / f"{name}-{lang}-{docname[:-5]}.png")
    found = {
        "lang": page.evaluate("document.documentElement.lang"),
        "scroll_width": page.evaluate("document.scrollingElement.scrollWidth"),
        "links": page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"),
        "row_labels": [
            tuple(label)
            for label in page.eval_on_selector_all(
                ROW_LABELS,
                "labels => labels.map(l => [l.innerText, l.getClientRects().length])",
            )
        ],
    }
    axe = None
    if axe_source is not None:
        page.add_script_tag(content=axe_source)
        axe = page.evaluate(AXE_RUN)
    fit = measure(page, desktop=name == "desktop")
    if fit["problems"]:  # measured right after loading: once more, SETTLE_MS later
        page.wait_for_timeout(SETTLE_MS)
        fit = measure(page, desktop=name == "desktop")
    settle(page)
    return Seen(seen.take(), switcher=switcher, axe=axe, fit=fit, **found)
