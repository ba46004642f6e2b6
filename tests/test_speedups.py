"""The build's speed-ups (docs/_ext/speedups.py, parallel_read.py) keep what the build gives."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from _site import DOCS
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser as RSTParser
from sphinx.search.ja import DefaultSplitter

sys.path.insert(0, str(DOCS / "_ext"))
from speedups import JapaneseSplitter, LazyDomXML, make_document


def site_texts() -> list[str]:
    """Every Japanese message of the site's catalogues and every line of its pages' sources."""
    texts = []
    for catalogue in sorted((DOCS / "locale" / "ja" / "LC_MESSAGES").glob("*.po")):
        texts += re.findall(r'^msgstr "(.*)"$', catalogue.read_text(encoding="utf-8"), re.M)
    for page in sorted(DOCS.glob("*.md")):
        texts += page.read_text(encoding="utf-8").splitlines()
    return texts


def test_the_japanese_splitter_splits_the_site_as_sphinx_does() -> None:
    texts = site_texts()
    assert len(texts) > 1000
    fast, sphinx = JapaneseSplitter({}), DefaultSplitter({})
    assert [fast.split(t) for t in texts] == [sphinx.split(t) for t in texts]
    assert [fast.split(t) for t in texts[:50]] == [sphinx.split(t) for t in texts[:50]]  # memo


def test_the_japanese_splitter_handles_empty_mixed_and_padding_like_text() -> None:
    fast, sphinx = JapaneseSplitter({}), DefaultSplitter({})
    for text in ["", " ", "B1", "E3 B3", "x", "no_grad() の中では", "１２３ａｂｃ！？", "\n\t"]:
        assert fast.split(text) == sphinx.split(text), text


def test_make_document_gives_fresh_default_settings_each_time() -> None:
    first, second = make_document("a"), make_document("b")
    fresh = {**vars(get_default_settings(RSTParser)), "record_dependencies": None}
    assert {**vars(first.settings), "record_dependencies": None} == fresh
    assert first.settings.record_dependencies is not second.settings.record_dependencies
    assert first.settings is not second.settings
    first.settings.tab_width = 99
    assert make_document().settings.tab_width == 8


def test_sphinx_passes_the_xml_of_a_node_only_to_debug_messages() -> None:
    """So that the XML made when a message shows it (LazyDomXML) changes nothing else."""
    from sphinx.util import nodes as sphinx_nodes

    tree = ast.parse(inspect.getsource(sphinx_nodes))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "repr_domxml"]
    debug_args = [
        arg
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "logger.debug"
        for arg in call.args
        if isinstance(arg, ast.Call) and ast.unparse(arg.func) == "repr_domxml"
    ]
    assert len(uses) >= 4 and len(uses) == len(debug_args)


def test_the_lazy_xml_of_a_node_is_sphinxs_xml_when_shown_and_not_made_otherwise() -> None:
    from docutils import nodes
    from sphinx.util import nodes as sphinx_nodes

    long = nodes.section("", nodes.paragraph("", "x" * 200))
    for node, length in [(long, 80), (long, 0), (nodes.paragraph("", "x"), 80)]:
        shown = LazyDomXML(node, length)
        assert str(shown) == f"{shown}" == sphinx_nodes.repr_domxml(node, length)

    made = []

    class Watched(nodes.paragraph):
        def asdom(self, dom=None):  # type: ignore[no-untyped-def]
            made.append(self)
            return super().asdom(dom)

    skipped = Watched("", "text", translatable=False)  # skipped, with a debug message
    assert not sphinx_nodes.is_translatable(skipped) and made == [skipped]  # Sphinx's own
    made.clear()
    replaced = sphinx_nodes.repr_domxml
    try:
        sphinx_nodes.repr_domxml = LazyDomXML  # type: ignore[assignment]
        assert not sphinx_nodes.is_translatable(skipped) and made == []
    finally:
        sphinx_nodes.repr_domxml = replaced


def test_a_build_with_few_pages_to_read_reads_and_writes_them_in_one_process() -> None:
    """``parallel_min_pages``: a rebuild reading a few pages forks no readers."""
    from parallel_read import reorder

    def app() -> SimpleNamespace:
        config = SimpleNamespace(measured_pages=["performance"], parallel_min_pages=4)
        return SimpleNamespace(parallel=2, config=config)

    few, many = app(), app()
    reorder(few, None, ["index", "verification"])  # type: ignore[arg-type]
    names = ["performance", "index", "matrix", "no-grad", "verification"]
    reorder(many, None, names)  # type: ignore[arg-type]
    assert few.parallel == 1 and many.parallel == 2
    assert names[-1] == "performance"


FAILING_WRITER = """
import os
import time
from pathlib import Path


def failed(app):
    return Path(app.outdir).parent / "failed"


def write(app, pagename, templatename, context, doctree):
    if pagename == "d03":  # in the first chunk, written by a forked process
        failed(app).write_text(str(os.getpid()))
        raise RuntimeError("writing d03 failed")


def ended(pid):
    # Whether process pid has exited: a zombie until Sphinx joins it (Linux's /proc).
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def resolved(app, doctree, docname):
    # The last chunk is resolved, in the main process, once the first one's writer has
    # failed and exited (its failure sent): the failure then comes while Sphinx adds the
    # next task.
    for _ in range(600):
        if docname != "index" or (failed(app).exists() and ended(failed(app).read_text())):
            return
        time.sleep(0.1)


def setup(app):
    app.add_config_value("nb_execution_mode", "off", "env")  # myst-nb's, read by parallel_read
    app.add_config_value("nb_execution_cache_path", "", "env")
    app.connect("html-page-context", write)
    app.connect("doctree-resolved", resolved)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
"""


def build_with_a_failing_writer(tmp_path: Path, extensions: list[str]) -> tuple[int, str, Path]:
    """Build 31 pages with ``-j 2``; the forked process writing the first chunk fails."""
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    (source / "failing_writer.py").write_text(FAILING_WRITER, encoding="utf-8")
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(source)!r}, {str(DOCS / '_ext')!r}]\n"
        f"extensions = {extensions!r}\n",
        encoding="utf-8",
    )
    names = [f"d{i:02d}" for i in range(30)]
    toctree = "".join(f"   {name}\n" for name in names)
    (source / "index.rst").write_text(f"Index\n=====\n\n.. toctree::\n\n{toctree}", "utf-8")
    for name in names:
        (source / f"{name}.rst").write_text(f"{name}\n===\n\ntext\n", encoding="utf-8")
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "2", str(source), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr, out


def test_sphinx_alone_loses_a_failure_of_a_parallel_writer(tmp_path: Path) -> None:
    """Why ``keep_failures`` exists: without it the build 'succeeds' with pages missing."""
    code, log, out = build_with_a_failing_writer(tmp_path, ["failing_writer"])
    assert code == 0 and "writing d03 failed" not in log
    assert not (out / "index.html").exists() and not (out / "d03.html").exists()


def test_a_failure_of_a_parallel_writer_fails_the_build_naming_it(tmp_path: Path) -> None:
    code, log, _ = build_with_a_failing_writer(tmp_path, ["failing_writer", "parallel_read"])
    assert code == 2, log  # an exception: build.py builds again in one process
    assert "writing d03 failed" in log


def test_a_build_taking_its_templates_from_the_cache_writes_the_same_html(tmp_path: Path) -> None:
    """``template_cache``: the first build compiles the templates and stores them; the second
    takes every one from the store (nothing is stored again) and writes the same pages."""
    source, doctrees = tmp_path / "src", tmp_path / "doctrees"
    source.mkdir()
    (source / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\nextensions = ['speedups']\n",
        encoding="utf-8",
    )
    (source / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   a\n", "utf-8")
    (source / "a.rst").write_text("A\n=\n\nSome *text*.\n", encoding="utf-8")

    def build(out: Path) -> dict[str, int]:
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "-E"]
        command += ["-d", str(doctrees), str(source), str(out)]
        subprocess.run(command, check=True)
        return {p.name: p.stat().st_mtime_ns for p in doctrees.glob("jinja-*/*")}

    stored = build(tmp_path / "compiled")
    assert len(stored) >= 10  # the basic theme's templates, one file each
    assert build(tmp_path / "cached") == stored
    for page in ("index.html", "a.html", "genindex.html", "search.html"):
        compiled = (tmp_path / "compiled" / page).read_text(encoding="utf-8")
        assert (tmp_path / "cached" / page).read_text(encoding="utf-8") == compiled
