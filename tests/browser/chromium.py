"""The Chromium the browser tests drive: the system's where there is one, else Playwright's own.

    python tests/browser/chromium.py    # run by `nox` (and `nox -s browser`) before the tests

In this order:

1. ``GRADMODES_CHROMIUM``, when set: a Chromium executable (a path or a command name);
2. the system's Chromium (``chromium`` or ``chromium-browser`` on the ``PATH``);
3. Playwright's own Chromium: where neither is found, this script runs ``playwright install
   chromium``, which downloads it once (it needs access to Playwright's downloads) and
   does nothing when it is there already.

Where none of them works, it stops and says what to install. It also warns when no font
covers Japanese (the Japanese pages would show empty boxes). The site build needs none of
this: only the browser tests do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

SYSTEM_NAMES = ("chromium", "chromium-browser")
VARIABLE = "GRADMODES_CHROMIUM"
OWN = "Playwright's own Chromium"  # how messages name it
HOW_TO = (
    "install Chromium and a Japanese font (Debian/Ubuntu: sudo apt-get install chromium "
    "fonts-noto-cjk), or set GRADMODES_CHROMIUM to a Chromium executable, or let Playwright "
    "download its own (python -m playwright install --with-deps chromium, with internet access)"
)
Which = Callable[[str], "str | None"]
Run = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class NoChromium(Exception):
    """No Chromium can be had; the message says what to do."""


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def system_chromium(
    environ: Mapping[str, str] = os.environ, which: Which = shutil.which
) -> str | None:
    """The Chromium named by ``GRADMODES_CHROMIUM``, or else the system's; None if neither.

    >>> system_chromium({}, {"chromium-browser": "/usr/bin/chromium-browser"}.get)
    '/usr/bin/chromium-browser'
    >>> system_chromium({"GRADMODES_CHROMIUM": "/opt/chrome"}, {"/opt/chrome": "/opt/chrome"}.get)
    '/opt/chrome'
    >>> system_chromium({}, {}.get) is None
    True
    """
    wanted = environ.get(VARIABLE)
    if wanted:
        found = which(wanted)
        if found is None:
            raise NoChromium(f"{VARIABLE}={wanted!r} is not an executable: {HOW_TO}")
        return found
    for name in SYSTEM_NAMES:
        if found := which(name):
            return found
    return None


def get_chromium(
    environ: Mapping[str, str] = os.environ, which: Which = shutil.which, run: Run = _run
) -> str | None:
    """The Chromium to launch: the system's path, or None for Playwright's own, which this
    installs (``playwright install chromium``) when the system has none."""
    found = system_chromium(environ, which)
    if found:
        return found
    result = run([sys.executable, "-m", "playwright", "install", "chromium"])
    if result.returncode:
        raise NoChromium(
            "no Chromium on this system, and Playwright could not download its own "
            f"(exit {result.returncode}: {(result.stderr or result.stdout).strip()[-500:]}): "
            f"{HOW_TO}"
        )
    return None


def has_japanese_font(run: Run = _run) -> bool | None:
    """Whether fontconfig knows a font covering Japanese; None without ``fc-list``."""
    try:
        result = run(["fc-list", ":lang=ja", "family"])
    except FileNotFoundError:
        return None
    return result.returncode == 0 and bool(result.stdout.strip())


def main() -> int:
    try:
        found = get_chromium()
    except NoChromium as problem:
        print(f"browser tests: {problem}", file=sys.stderr)
        return 1
    print(f"browser tests: {found or OWN}")
    if has_japanese_font() is False:
        print(
            "browser tests: warning: no font covers Japanese, so the Japanese pages and their "
            "screenshots show empty boxes (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
