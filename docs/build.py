"""Build the site: every language, one after the other, on one shared execution cache.

    python docs/build.py                 # all languages into docs/_build/html/<lang>/
    python docs/build.py --lang ja       # one language
    python docs/build.py --gpu           # a GPU build: CUDA required, GPU claims must pass
    python docs/build.py --gettext       # regenerate the .pot files (no execution)
    python docs/build.py --site-root /gradmodes/   # where the site is hosted (for 404.html)

The first language executes the notebooks (or takes them from the cache); the next ones
find every notebook in the cache, and reuse the first one's claim evidence. Languages are
built in turn, never at once: two builds writing one jupyter-cache at the same time hit
SQLite locking errors. Each language reads its pages in parallel (``--jobs``, default one
process per CPU): the source language (English) runs their notebooks, the pages that time
code (``measured_pages`` in conf.py) last, so that their notebooks run after the others
(``_ext/parallel_read.py``); the translations find their notebooks in the cache (on a
2-core machine, a clean Japanese build took 16.2-16.8 s in two processes, 17.7-17.8 s in
one).
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
BUILD = DOCS / "_build"


def conf_value(name: str, conf: Path = DOCS / "conf.py") -> Any:
    """The literal that ``conf.py`` assigns to ``name``, read without running ``conf.py``
    (running it hashes torch's installed files, for the execution cache's key).

    >>> conf_value("LANGUAGES")["en"]
    'English'
    """
    for node in ast.parse(conf.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit(f"{conf} assigns no literal to {name}")


# What the build reads from conf.py (CONF: the interface catalogue's settings and text).
CONF = {name: conf_value(name) for name in ("project", "author", "copyright", "locale_dirs")}
LANGUAGES: dict[str, str] = conf_value("LANGUAGES")
STRICT = ["-W", "-n", "--keep-going"]
CRASHED = 2  # sphinx-build's exit code for an exception (warnings under -W give 1)
sys.path.insert(0, str(DOCS / "_ext"))
from ui_text import N_, catalogue_path, translator, write_pot  # noqa: E402 (docs/_ext)

# The 404 page, in every language (translated in each language's interface catalogue).
NOT_FOUND = (
    N_("Page not found"),
    N_("This page does not exist."),
    # Translators: the link to the home page of this language (say its name in it).
    N_("Go to the English site"),
)
FAVICON = "_static/favicon.svg"  # in every language's output (conf.py: html_favicon)


def sphinx(builder: str, out: Path, doctrees: Path, *options: str, check: bool = True) -> int:
    """Run sphinx-build and return its exit code; with ``check``, SystemExit if it fails.

    A failed build forgets its saved environment: otherwise the next build would skip the
    pages that failed (they are unchanged) and pass without showing their errors again.
    """
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        builder,
        *STRICT,
        "-d",
        str(doctrees),
        *options,
        str(DOCS),
        str(out),
    ]
    print("$", " ".join(command), flush=True)
    code = subprocess.call(command)
    if code:
        shutil.rmtree(doctrees, ignore_errors=True)
        if check:
            raise SystemExit(f"sphinx-build failed ({builder} {' '.join(options)}): exit {code}")
    return code


def build_language(lang: str, out: Path, extra: list[str], jobs: str = "auto") -> None:
    """Build one language into ``out/lang``, reading pages in ``jobs`` processes.

    When a parallel process stops with an exception (a notebook cell that raises, say),
    Sphinx reports only the exception: the messages that process logged, such as the
    cell's traceback, are lost. The build then runs again in one process, which takes
    every notebook that passed from the cache and shows in full what failed.
    """
    options = ["-D", f"language={lang}", *extra]
    doctrees = BUILD / "doctrees" / lang
    if jobs != "1":
        code = sphinx("html", out / lang, doctrees, "-j", jobs, *options, check=False)
        if code != CRASHED:
            if code:
                raise SystemExit(f"sphinx-build failed (html {' '.join(options)}): exit {code}")
            return
        print(
            "\nA parallel process stopped; building again in one process, to show why.\n",
            flush=True,
        )
    sphinx("html", out / lang, doctrees, *options)


def build_gettext(extra: list[str]) -> Path:
    """Write one .pot per page to _build/gettext (execution off: only prose is extracted).

    Without execution there are no glued outputs: their warnings are silenced here only.
    """
    out = BUILD / "gettext"
    options = ["-D", "nb_execution_mode=off", "-D", "suppress_warnings=mystnb.glue"]
    options += extra
    sphinx("gettext", out, BUILD / "doctrees" / "gettext", *options)
    # The interface catalogue's template: the templates' strings the gettext build found,
    # plus those marked in the extensions and this script (docs/_ext/ui_text.py).
    sources = [*sorted((DOCS / "_ext").glob("*.py")), Path(__file__).resolve()]
    write_pot(out / "sphinx.pot", sources, CONF)
    # The labels of what the checks observe, as the checks write them (imports torch).
    import observation_text

    observation_text.write_pot(out / f"{observation_text.DOMAIN}.pot", str(CONF["project"]))
    return out


def require_cuda() -> None:
    """Stop with a clear message unless torch sees a CUDA device (for ``--gpu``)."""
    from devices import cuda_devices, torch_version

    devices = cuda_devices()
    if not devices:
        raise SystemExit(
            f"--gpu needs a CUDA device, and torch {torch_version()} sees none: "
            "build without --gpu, or on a machine with a GPU and a CUDA build of torch."
        )
    print(f"GPU build on {', '.join(devices)}: CUDA-only claims must pass.", flush=True)


def write_root(out: Path) -> None:
    """The root page: sends the reader to their browser's language; plain links without JS."""
    codes = list(LANGUAGES)
    links = "\n".join(
        f'    <li><a href="{code}/index.html" hreflang="{code}" lang="{code}">'
        f"{html.escape(name)}</a></li>"
        for code, name in LANGUAGES.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="{codes[0]}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>gradmodes</title>
  <link rel="icon" href="{codes[0]}/{FAVICON}">
  <script>
    (function () {{
      var codes = {codes!r};
      var wanted = (navigator.languages || [navigator.language || ""]);
      for (var i = 0; i < wanted.length; i++) {{
        var code = String(wanted[i]).toLowerCase().split("-")[0];
        if (codes.indexOf(code) >= 0) {{ location.replace(code + "/index.html"); return; }}
      }}
      location.replace(codes[0] + "/index.html");
    }})();
  </script>
</head>
<body>
  <main>
  <h1>gradmodes</h1>
  <ul>
{links}
  </ul>
  </main>
</body>
</html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")


def site_root(path: str) -> str:
    """The URL path the site is hosted at, with one slash at each end.

    >>> site_root(""), site_root("/"), site_root("gradmodes"), site_root("/a/b/")
    ('/', '/', '/gradmodes/', '/a/b/')
    """
    inner = path.strip("/")
    return f"/{inner}/" if inner else "/"


def not_found_text(lang: str) -> tuple[str, str, str]:
    """The 404 page's heading, sentence and home link in ``lang``."""
    gettext = translator(catalogue_path(DOCS, CONF["locale_dirs"], lang))
    heading, text, link = (gettext(message) for message in NOT_FOUND)
    return heading, text, link


def write_404(out: Path, root: str) -> None:
    """The page a host shows for a missing path, in every language.

    A host serves it at the missing URL, at any depth, so its links start from ``root``,
    the path the site is hosted at (``/`` at the root of a host, ``/<repo>/`` on GitHub Pages).
    Its title and ``lang`` are the source language's; a script switches them to the first of
    the browser's languages that the site has, as the root page chooses.
    """
    text = {code: not_found_text(code) for code in LANGUAGES}
    sections = "\n".join(
        f'  <section lang="{code}">\n    <h1>{html.escape(heading)}</h1>\n'
        f"    <p>{html.escape(sentence)} "
        f'<a href="{root}{code}/index.html" hreflang="{code}">'
        f"{html.escape(link)}</a></p>\n  </section>"
        for code, (heading, sentence, link) in text.items()
    )
    titles = {code: f"{heading} - {CONF['project']}" for code, (heading, _, _) in text.items()}
    first = next(iter(LANGUAGES))
    page = f"""<!DOCTYPE html>
<html lang="{first}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(titles[first])}</title>
  <link rel="icon" href="{root}{first}/{FAVICON}">
  <style>body {{ font-family: sans-serif; max-width: 40em; margin: auto; padding: 1em; }}</style>
  <script>
    (function () {{
      var titles = {json.dumps(titles, ensure_ascii=False)};
      var wanted = (navigator.languages || [navigator.language || ""]);
      for (var i = 0; i < wanted.length; i++) {{
        var code = String(wanted[i]).toLowerCase().split("-")[0];
        if (titles.hasOwnProperty(code)) {{
          document.title = titles[code];
          document.documentElement.lang = code;
          return;
        }}
      }}
    }})();
  </script>
</head>
<body>
<main>
{sections}
</main>
</body>
</html>
"""
    (out / "404.html").write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lang",
        nargs="+",
        choices=list(LANGUAGES),
        default=list(LANGUAGES),
        help="languages to build (default: all)",
    )
    parser.add_argument("--out", type=Path, default=BUILD / "html", help="output folder")
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="a GPU build: fail unless torch sees CUDA; CUDA-only claims must pass",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        default="auto",
        help="processes reading each language's pages (and running the notebooks) "
        "(default: auto, one per CPU)",
    )
    parser.add_argument("--gettext", action="store_true", help="only regenerate the .pot files")
    parser.add_argument(
        "--site-root",
        default="/",
        help="URL path the site is hosted at, for the links of 404.html (default: /)",
    )
    parser.add_argument("sphinx_options", nargs="*", help="passed to sphinx-build (after --)")
    args = parser.parse_args(argv)
    if args.gettext:
        print(f"catalogue templates in {build_gettext(args.sphinx_options)}")
        return 0
    options = list(args.sphinx_options)
    if args.gpu:
        require_cuda()
        options = ["-D", "gradmodes_require_cuda=1", *options]
    out = args.out.resolve()
    for lang in args.lang:
        build_language(lang, out, options, args.jobs)
    write_root(out)
    write_404(out, site_root(args.site_root))
    (out / ".nojekyll").touch()  # a host running Jekyll would hide _static/ and _sources/
    print(f"\nThe site is built. Open {out / 'index.html'} in a browser.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
