"""The site cannot lie silently: every fault below is put into a small site, and is reported.

The fixture site (``_fixture_site.py``) is built by the project's real configuration, build
script and extensions, offline. First the clean site is shown to build in every language,
with every claim verified and its catalogues complete, the same twice, without the network.
Then each test puts one fault in a fresh copy and shows that the build, or the translation
check, fails with a message naming the page and the cause.
"""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from _catalogues import (
    catalogue_path,
    incomplete_entries,
    markup_mismatches,
    stale_entries,
    unmatched_catalogues,
    untranslated_on_pages,
)
from _fixture_site import OFFLINE, Build, build, inject, make_site
from _site import (
    LANGUAGES,
    SOURCE_LANGUAGE,
    TRANSLATIONS,
    notebook_without_measured_outputs,
    pages,
    without_measured_outputs,
)
from bs4 import BeautifulSoup

pytestmark = pytest.mark.faults
PROBLEM = re.compile(r"\b(WARNING|ERROR): ")
FIXTURE_CLAIMS = ["eval.flag", "fixture.order", "fixture.sum"]  # cited by the fixture's index


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Build]:
    """The fixture site without faults, built from scratch in every language."""
    docs = make_site(tmp_path_factory.mktemp("clean"))
    return docs, build(docs)


@pytest.fixture(scope="module")
def cache(clean: tuple[Path, Build]) -> Path:
    """The clean build's execution cache: a notebook that no fault changed is not run again."""
    (keyed,) = (clean[0] / "_build" / ".jupyter_cache").iterdir()  # one key: one setup
    return keyed


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A fresh copy of the fixture site to put one fault in."""
    return make_site(tmp_path)


def build_language(docs: Path, lang: str, cache: Path) -> Build:
    return build(docs, "--lang", lang, "--", "-D", f"nb_execution_cache_path={cache}")


def soup(docs: Path, lang: str, page: str) -> BeautifulSoup:
    html = docs / "_build" / "html" / lang / f"{page}.html"
    return BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")


# --- the clean site ------------------------------------------------------------------------


def test_the_clean_site_builds_in_every_language_with_its_claims_verified(
    clean: tuple[Path, Build],
) -> None:
    docs, result = clean
    assert result.returncode == 0, result.log[-5000:]
    assert PROBLEM.findall(result.log) == []
    for lang in LANGUAGES:
        page = soup(docs, lang, "index")
        marks = page.select("a.claim-mark")
        assert sorted(str(m["href"]).rsplit("#claim-", 1)[1] for m in marks) == FIXTURE_CLAIMS
        assert all("claim-verified" in m["class"] for m in marks), lang
        listed = soup(docs, lang, "verification").select("[id^=claim-]")
        assert sorted(str(t["id"]) for t in listed) == ["claim-fixture.order", "claim-fixture.sum"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_footer_names_the_torch_the_claims_ran_on(
    clean: tuple[Path, Build], lang: str
) -> None:
    docs, _ = clean
    for page in pages(docs):
        footer = soup(docs, lang, page).select_one(".checked-with a")
        assert footer is not None and torch.__version__ in footer.get_text(), page
        assert footer["href"] == ("" if page == "verification" else "verification.html")


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_the_clean_site_passes_every_translation_check(
    clean: tuple[Path, Build], lang: str
) -> None:
    docs, _ = clean
    gettext = build(docs, "--gettext")
    assert gettext.returncode == 0, gettext.log[-3000:]
    assert unmatched_catalogues(docs, lang) == []
    assert incomplete_entries(docs, lang) == []
    assert markup_mismatches(docs, lang) == []
    assert stale_entries(docs, lang) == []
    assert untranslated_on_pages(docs, docs / "_build" / "html" / lang, lang) == []


# --- offline and deterministic ---------------------------------------------------------------


def test_the_build_needs_no_network(clean: tuple[Path, Build]) -> None:
    """The guard was on in the build, in Sphinx and in the kernel, and refused nothing."""
    _, result = clean
    processes = [line for line in result.netlog.splitlines() if line.startswith("on ")]
    assert any("-m sphinx -b html" in line for line in processes), result.netlog
    assert any("ipykernel_launcher" in line for line in processes), result.netlog
    assert [line for line in result.netlog.splitlines() if line.startswith("refused")] == []


GUARD_PROOF = """
import socket
import sitecustomize as guard

assert socket.socket.connect is guard.connect, "the guard is not installed"
server = socket.create_server(("127.0.0.1", 0))
with socket.create_connection(server.getsockname()):
    print("loopback: connected")
# Whatever the guard decides, nothing may leave: the real functions only record their calls.
reached = []
guard.REAL["connect"] = lambda sock, address: reached.append(address)
guard.REAL["getaddrinfo"] = lambda *args, **kwargs: reached.append(args[0])
for attempt in (
    lambda: socket.socket().connect(("192.0.2.1", 80)),
    lambda: socket.getaddrinfo("docs.invalid", 443),
):
    try:
        attempt()
    except guard.NetworkDisabled as refused:
        print("refused:", refused)
print("reached:", reached)
"""


def test_the_network_guard_refuses_everything_but_loopback(tmp_path: Path) -> None:
    """Proof that the guard used by the builds above would have stopped a network access."""
    netlog = tmp_path / "netlog.txt"
    env = {**os.environ, "PYTHONPATH": str(OFFLINE), "GRADMODES_NETLOG": str(netlog)}
    result = subprocess.run(
        [sys.executable, "-c", GUARD_PROOF], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "loopback: connected",
        "refused: the network is switched off for this build: connect to ('192.0.2.1', 80)",
        "refused: the network is switched off for this build: getaddrinfo 'docs.invalid'",
        "reached: []",
    ]
    refused = [line for line in netlog.read_text().splitlines() if line.startswith("refused")]
    assert refused == ["refused connect to ('192.0.2.1', 80)", "refused getaddrinfo 'docs.invalid'"]


def site_files(html: Path) -> list[str]:
    """Every file of a built site, except myst-nb's executed-notebook scratch folder."""
    return sorted(
        p.relative_to(html).as_posix()
        for p in html.rglob("*")
        if p.is_file() and "jupyter_execute" not in p.relative_to(html).parts
    )


def test_two_clean_builds_give_the_same_site_apart_from_measured_timings(
    clean: tuple[Path, Build], tmp_path: Path
) -> None:
    first = clean[0] / "_build" / "html"
    again = make_site(tmp_path)  # another folder, its own output, doctrees and cache
    result = build(again)
    assert result.returncode == 0, result.log[-5000:]
    second = again / "_build" / "html"

    assert site_files(first) == site_files(second)
    differ = [name for name in site_files(first) if not filecmp.cmp(first / name, second / name)]
    # The measured cell printed a different timing (on the page and in its downloaded
    # notebook), and nothing else differs.
    assert differ == sorted(
        f"{lang}/{name}" for lang in LANGUAGES for name in ("index.html", "_sources/index.ipynb")
    )
    for name in differ:
        one, two = ((site / name).read_text(encoding="utf-8") for site in (first, second))
        if name.endswith(".ipynb"):
            assert notebook_without_measured_outputs(one) == notebook_without_measured_outputs(
                two
            ), name
        else:
            assert without_measured_outputs(one) == without_measured_outputs(two), name


def test_a_build_into_another_folder_gives_every_page_and_its_downloads(
    clean: tuple[Path, Build], tmp_path: Path
) -> None:
    """The doctrees are up to date, so no page needs reading: the notebook pages are read
    again all the same, since their notebooks are in the first build's folder only."""
    docs, _ = clean
    elsewhere = tmp_path / "elsewhere"
    result = build(docs, "--lang", SOURCE_LANGUAGE, "--out", str(elsewhere))
    assert result.returncode == 0, result.log[-5000:]
    assert "building again in one process" not in result.log  # build.py's retry after a crash
    first = docs / "_build" / "html" / SOURCE_LANGUAGE
    assert site_files(elsewhere / SOURCE_LANGUAGE) == site_files(first)
    assert (elsewhere / SOURCE_LANGUAGE / "_sources" / "index.ipynb").is_file()


# --- faults in the build -------------------------------------------------------------------


class BuildFault(NamedTuple):
    name: str
    file: str  # in the fixture's docs folder
    old: str
    new: str
    where: str  # how the log names the page (or, for an uncited claim, the claim)
    cause: str  # how the log names the cause


SUM_CLAIM = "{claim}`fixture.sum`"
ORDER = "Zero is less than one. {claim}`fixture.order`"
ORDER_JA = "0 は 1 より小さいです。{claim}`fixture.order`"
ASSERT = "assert total == 2\n```"
CUDA_CLAIM = "{claim}`perf.cuda-saved`"  # a real claim of the project that needs CUDA
BUILD_FAULTS = [
    BuildFault(
        "false-claim",
        "_ext/fixture_claims.py",
        'obs.expect("1 + 1", 1 + 1, 2)',
        'obs.expect("1 + 1", 1 + 1, 3)',
        "page 'index' cites claim 'fixture.sum'",
        "claim 'fixture.sum' is false: 1 + 1: expected 3, observed 2",
    ),
    BuildFault(
        "unknown-claim",
        "index.md",
        ORDER,
        ORDER + " {claim}`fixture.zero`",
        "page 'index' cites claim 'fixture.zero'",
        "unknown claim id 'fixture.zero'",
    ),
    BuildFault(
        "uncited-claim",
        "index.md",
        ORDER,
        "Zero is less than one.",
        "claim 'fixture.order' (fixture_claims)",
        "is registered but no page cites it",
    ),
    BuildFault(
        "cuda-only-claim-outside-its-block",
        "index.md",
        ORDER,
        f"{ORDER} The GPU saves the same bytes. {CUDA_CLAIM}",
        "page 'index' cites claim 'perf.cuda-saved'",
        "is CUDA-only: cite it only inside an `{only} cuda` block",
    ),
    BuildFault(
        "cell-raises",
        "index.md",
        ASSERT,
        'assert total == 2\nraise ValueError("an injected fault")\n```',
        "index.md: WARNING: Executing notebook failed",
        "ValueError: an injected fault",
    ),
    BuildFault(
        "cell-assert-fails",
        "index.md",
        ASSERT,
        "assert total == 3\n```",
        "index.md: WARNING: Executing notebook failed",
        "AssertionError",
    ),
    BuildFault(
        "cell-writes-to-stderr",
        "index.md",
        ASSERT,
        f'{ASSERT}\n\n```{{code-cell}} python\nimport warnings\nwarnings.warn("injected")\n```',
        "index.md:",
        "WARNING: stderr was found in the cell outputs",
    ),
]


@pytest.mark.parametrize("fault", BUILD_FAULTS, ids=lambda f: f.name)
def test_a_fault_fails_the_build_naming_page_and_cause(
    docs: Path, cache: Path, fault: BuildFault
) -> None:
    inject(docs / fault.file, fault.old, fault.new)
    result = build_language(docs, SOURCE_LANGUAGE, cache)
    assert result.returncode != 0, f"the build passed with the fault {fault.name!r}"
    assert fault.where in result.log, result.log[-5000:]
    assert fault.cause in result.log, result.log[-5000:]


TAG = ":tags: [raises-exception]"
DECLARED = ':raises: ZeroDivisionError\n:raises-match: "division by zero"'
# Error cells that do not prove their error (all in one build: one build is one kernel start).
FAULTY_ERROR_CELLS = [
    (
        f'{TAG}\n:raises: RuntimeError\n:raises-match: "division by zero"\n\ntotal / zero',
        "declares RuntimeError but raised NameError: name 'zero' is not defined",
    ),
    (
        f'{TAG}\n:raises: ZeroDivisionError\n:raises-match: "modulo by zero"\n\ntotal / 0',
        "raised ZeroDivisionError: division by zero, whose message does not contain "
        "'modulo by zero'",
    ),
    (
        f"{TAG}\n{DECLARED}\n\ntotal / 1",
        "declares ZeroDivisionError ('division by zero') but raised nothing",
    ),
    (
        f"{TAG}\n\ntotal / 0",
        "is tagged raises-exception but declares no raises: (the exception class) and no "
        "raises-match: (a fragment of its message) (it raised ZeroDivisionError: division by zero)",
    ),
    (
        f"{DECLARED}\n\ntotal / 1",
        "declares raises: and raises-match: but is not tagged raises-exception",
    ),
]


def test_an_error_cell_that_does_not_prove_its_error_fails_the_build_naming_the_cell(
    docs: Path, cache: Path
) -> None:
    """Another type, another message, no error, no declaration, a declaration without the tag."""
    cells = "".join(f"\n\n```{{code-cell}} python\n{body}\n```" for body, _ in FAULTY_ERROR_CELLS)
    inject(docs / "index.md", ASSERT, ASSERT + cells)
    result = build_language(docs, SOURCE_LANGUAGE, cache)
    assert result.returncode != 0, "the build passed with error cells that prove nothing"
    lines = (docs / "index.md").read_text(encoding="utf-8").splitlines()
    starts = [number for number, line in enumerate(lines, 1) if line == "```{code-cell} python"]
    for start, (_, cause) in zip(starts[1:], FAULTY_ERROR_CELLS, strict=False):
        assert f"page 'index', the cell at line {start}: {cause}" in result.log, result.log[-5000:]
    assert len(re.findall(r"ERROR: page 'index', the cell at line", result.log)) == len(
        FAULTY_ERROR_CELLS
    )  # and the clean fixture's own error cell, which raises what it declares, is not reported


def test_a_cuda_only_claim_may_be_cited_inside_an_only_cuda_block(docs: Path, cache: Path) -> None:
    """There a build without CUDA leaves the sentence out, and a build with CUDA checks it."""
    sentence = "The GPU saves the same bytes."
    inject(docs / "index.md", ORDER, f"{ORDER}\n\n:::{{only}} cuda\n{sentence} {CUDA_CLAIM}\n:::")
    result = build_language(docs, SOURCE_LANGUAGE, cache)
    assert result.returncode == 0, result.log[-5000:]
    assert PROBLEM.findall(result.log) == []
    page = soup(docs, SOURCE_LANGUAGE, "index")
    assert (sentence in page.get_text()) == torch.cuda.is_available()


def test_an_unknown_claim_cited_only_in_japanese_fails_the_japanese_build(
    docs: Path, cache: Path
) -> None:
    """The English build cannot see it: only checking every language catches it."""
    inject(
        catalogue_path(docs, "ja", "index"),
        f'msgstr "{ORDER_JA}"',
        f'msgstr "{ORDER_JA} {{claim}}`fixture.zero`"',
    )
    assert build_language(docs, "en", cache).returncode == 0
    result = build_language(docs, "ja", cache)
    assert result.returncode != 0
    assert "page 'index' cites claim 'fixture.zero': unknown claim id" in result.log


def test_a_translation_sphinx_cannot_apply_fails_the_build_naming_page_and_message(
    docs: Path, cache: Path
) -> None:
    """A heading translated as "1. ..." parses as a list: Sphinx used to drop it silently."""
    heading = 'msgstr "フィクスチャのサイト"'
    inject(catalogue_path(docs, "ja", "index"), heading, 'msgstr "1. 見出し"')
    result = build_language(docs, "ja", cache)
    assert result.returncode != 0, "the build passed with a translation that never reached a page"
    assert "page 'index': Sphinx could not apply the translation of 'Fixture site'" in result.log, (
        result.log[-5000:]
    )
    # The page was written all the same (--keep-going): the check of the HTML sees it too.
    shown = untranslated_on_pages(docs, docs / "_build" / "html" / "ja", "ja")
    assert "index: English of index.po shown: 'Fixture site'" in shown, shown


# --- faults in the translations --------------------------------------------------------------

SUM_JA = '"障害注入テストのための小さなサイトです。1 たす 1 は 2 です。"\n'


class CatalogueFault(NamedTuple):
    name: str
    old: str  # in the Japanese catalogue of the page "index"
    new: str
    reported: str


CATALOGUE_FAULTS = [
    CatalogueFault("drops-a-claim-role", f'{SUM_JA}"{SUM_CLAIM}"', SUM_JA.strip(), SUM_CLAIM),
    CatalogueFault(
        "drops-a-link",
        "[PyTorch のドキュメント](https://pytorch.org/docs/stable/)と",
        "PyTorch のドキュメントと",
        "link:https://pytorch.org/docs/stable/",
    ),
    CatalogueFault(
        "drops-a-code-span", "`model.eval()` を呼ぶと", "model.eval() を呼ぶと", "code:model.eval()"
    ),
]


@pytest.mark.parametrize("fault", CATALOGUE_FAULTS, ids=lambda f: f.name)
def test_a_translation_that_loses_markup_is_reported(docs: Path, fault: CatalogueFault) -> None:
    inject(catalogue_path(docs, "ja", "index"), fault.old, fault.new)
    problems = markup_mismatches(docs, "ja")
    assert len(problems) == 1
    assert problems[0].startswith("index: ")
    assert f"missing [{fault.reported!r}]" in problems[0]


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        (f'msgstr "{ORDER_JA}"', 'msgstr ""', "index: untranslated: "),
        ('msgid "Zero is less', '#, fuzzy\nmsgid "Zero is less', "index: fuzzy: "),
    ],
    ids=["untranslated", "fuzzy"],
)
def test_an_unfinished_translation_is_reported(
    docs: Path, old: str, new: str, reported: str
) -> None:
    inject(catalogue_path(docs, "ja", "index"), old, new)
    assert incomplete_entries(docs, "ja") == [reported + repr(ORDER)]


def test_an_english_sentence_edited_after_translation_is_reported(docs: Path) -> None:
    inject(docs / "index.md", "Zero is less than one.", "Zero is smaller than one.")
    result = build(docs, "--gettext")
    assert result.returncode == 0, result.log[-3000:]
    edited = ORDER.replace("less", "smaller")
    assert stale_entries(docs, "ja") == [
        f"index: not in the catalogue: {edited!r}",
        f"index: no longer in the page: {ORDER!r}",
    ]


def test_a_page_without_a_japanese_catalogue_is_reported(docs: Path) -> None:
    catalogue_path(docs, "ja", "index").unlink()
    assert unmatched_catalogues(docs, "ja") == ["index: no ja catalogue"]


# --- a counterfactual torch ------------------------------------------------------------------

# Python runs the first sitecustomize on its path at startup, in the build and in the kernels.
# This one loads the network guard it hides, then patches torch as soon as torch is imported:
# nn.Module.eval() returns the module and leaves its training flag alone.
COUNTERFACTUAL_TORCH = f"""
import importlib.abc
import importlib.util
import runpy
import sys

runpy.run_path({str(OFFLINE / "sitecustomize.py")!r})


class PatchTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "torch":
            return None
        sys.meta_path.remove(self)  # find the real torch (a lookup may come before the import)
        try:
            spec = importlib.util.find_spec("torch")
        finally:
            sys.meta_path.insert(0, self)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.nn.Module.eval = lambda self: self

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, PatchTorch())
"""


def test_a_counterfactual_torch_fails_the_build_naming_the_claim_whatever_was_cached(
    docs: Path, tmp_path: Path
) -> None:
    """Both caches hold the real torch's results (the evidence of ``eval.flag`` among them);
    the patched torch uses none of them, and the real one is not held back by its failure."""
    assert build(docs, "--lang", "en").returncode == 0
    patched = tmp_path / "counterfactual-torch"
    patched.mkdir()
    (patched / "sitecustomize.py").write_text(COUNTERFACTUAL_TORCH, encoding="utf-8")

    result = build(docs, "--lang", "en", first_on_path=patched)
    assert result.returncode != 0, "the build passed with a torch whose eval() does nothing"
    assert "page 'index' cites claim 'eval.flag': claim 'eval.flag' is false" in result.log, (
        result.log[-5000:]
    )
    assert "-m sphinx -b html" in result.netlog  # the network guard ran all the same
    executions = sorted(p.name for p in (docs / "_build" / ".jupyter_cache").iterdir())
    assert len(executions) == 2, executions  # the execution cache has a key of its own too

    again = build(docs, "--lang", "en")
    assert again.returncode == 0, again.log[-5000:]
