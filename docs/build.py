"""Build the site: every language, one after the other, on one shared execution cache.

    python docs/build.py                 # all languages into docs/_build/html/<lang>/
    python docs/build.py --lang ja       # one language
    python docs/build.py --gettext       # regenerate the .pot files (no execution)
    python docs/build.py --site-root /gradmodes/   # where the site is hosted (for 404.html)

The first language executes the notebooks (or takes them from the cache); the next ones
find every notebook in the cache. Languages are built in turn, never at once: two builds
writing one jupyter-cache at the same time hit SQLite locking errors.
"""

from __future__ import annotations

import argparse
import html
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BUILD = DOCS / "_build"
LANGUAGES: dict[str, str] = runpy.run_path(str(DOCS / "conf.py"))["LANGUAGES"]
STRICT = ["-W", "-n", "--keep-going"]
# The 404 page, in every language: (heading, text, link to the language's home page).
NOT_FOUND = {
    "en": ("Page not found", "This page does not exist.", "Go to the English site"),
    "ja": ("ページが見つかりません", "このページは存在しません。", "日本語のサイトへ"),
}
FAVICON = "_static/favicon.svg"  # in every language's output (conf.py: html_favicon)


def sphinx(builder: str, out: Path, doctrees: Path, *options: str) -> None:
    """Run sphinx-build; raise SystemExit with its exit code when it fails.

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
        raise SystemExit(f"sphinx-build failed ({builder} {' '.join(options)}): exit {code}")


def build_language(lang: str, out: Path, extra: list[str]) -> None:
    sphinx("html", out / lang, BUILD / "doctrees" / lang, "-D", f"language={lang}", *extra)


def build_gettext(extra: list[str]) -> Path:
    """Write one .pot per page to _build/gettext (execution off: only prose is extracted)."""
    out = BUILD / "gettext"
    sphinx("gettext", out, BUILD / "doctrees" / "gettext", "-D", "nb_execution_mode=off", *extra)
    # Strings of templates (sphinx.pot) are translated by Sphinx's and the theme's catalogues.
    (out / "sphinx.pot").unlink(missing_ok=True)
    return out


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


def write_404(out: Path, root: str) -> None:
    """The page a host shows for a missing path, in every language.

    A host serves it at the missing URL, at any depth, so its links start from ``root``,
    the path the site is hosted at (``/`` at the root of a host, ``/<repo>/`` on GitHub Pages).
    """
    missing = sorted(set(LANGUAGES) - set(NOT_FOUND))
    if missing:
        raise SystemExit(f"docs/build.py: NOT_FOUND has no 404 message for {missing}")
    sections = "\n".join(
        f'  <section lang="{code}">\n    <h1>{html.escape(NOT_FOUND[code][0])}</h1>\n'
        f"    <p>{html.escape(NOT_FOUND[code][1])} "
        f'<a href="{root}{code}/index.html" hreflang="{code}">'
        f"{html.escape(NOT_FOUND[code][2])}</a></p>\n  </section>"
        for code in LANGUAGES
    )
    first = next(iter(LANGUAGES))
    page = f"""<!DOCTYPE html>
<html lang="{first}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(NOT_FOUND[first][0])} - gradmodes</title>
  <link rel="icon" href="{root}{first}/{FAVICON}">
  <style>body {{ font-family: sans-serif; max-width: 40em; margin: auto; padding: 1em; }}</style>
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
    out = args.out.resolve()
    for lang in args.lang:
        build_language(lang, out, args.sphinx_options)
    write_root(out)
    write_404(out, site_root(args.site_root))
    (out / ".nojekyll").touch()  # a host running Jekyll would hide _static/ and _sources/
    print(f"\nThe site is built. Open {out / 'index.html'} in a browser.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
