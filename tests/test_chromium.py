"""How the browser tests get their Chromium (tests/browser/chromium.py), without downloading it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pytest
from chromium import HOW_TO, NoChromium, get_chromium, has_japanese_font, system_chromium

SYSTEM = {"chromium": "/usr/bin/chromium"}.get
NONE = {}.get


class Runs:
    """A stand-in for subprocess.run: records each command, answers with ``code``."""

    def __init__(self, code: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.commands: list[list[str]] = []
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        return subprocess.CompletedProcess(command, self.code, self.stdout, self.stderr)


INSTALL = [sys.executable, "-m", "playwright", "install", "chromium"]


def test_the_systems_chromium_is_used_and_nothing_is_downloaded() -> None:
    runs = Runs()
    assert get_chromium({}, SYSTEM, runs) == "/usr/bin/chromium"
    assert runs.commands == []


def test_the_variable_wins_over_the_system() -> None:
    which = {"chromium": "/usr/bin/chromium", "/opt/chromium/chrome": "/opt/chromium/chrome"}.get
    assert system_chromium({"GRADMODES_CHROMIUM": "/opt/chromium/chrome"}, which) == (
        "/opt/chromium/chrome"
    )


def test_a_variable_naming_no_executable_says_so_and_downloads_nothing() -> None:
    runs = Runs()
    with pytest.raises(NoChromium, match="GRADMODES_CHROMIUM='/nowhere' is not an executable"):
        get_chromium({"GRADMODES_CHROMIUM": "/nowhere"}, SYSTEM, runs)
    assert runs.commands == []


def test_without_a_system_chromium_playwright_installs_its_own() -> None:
    runs = Runs()
    assert get_chromium({}, NONE, runs) is None  # None: launch Playwright's own
    assert runs.commands == [INSTALL]


def test_where_playwright_cannot_download_either_the_message_says_what_to_do() -> None:
    runs = Runs(code=1, stderr="Error: getaddrinfo EAI_AGAIN (the download failed)")
    with pytest.raises(NoChromium) as raised:
        get_chromium({}, NONE, runs)
    message = str(raised.value)
    assert "Playwright could not download its own (exit 1: Error: getaddrinfo" in message
    assert message.endswith(HOW_TO)
    assert "apt-get install chromium fonts-noto-cjk" in HOW_TO
    assert "GRADMODES_CHROMIUM" in HOW_TO and "playwright install" in HOW_TO


def test_a_japanese_font_is_looked_up_with_fontconfig() -> None:
    found, none = Runs(stdout="Noto Sans CJK JP\n"), Runs(stdout="")
    assert has_japanese_font(found) is True
    assert has_japanese_font(none) is False
    assert found.commands == [["fc-list", ":lang=ja", "family"]]

    def no_fc_list(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError(command[0])

    assert has_japanese_font(no_fc_list) is None
