"""Real Chromium for browser tests: Debian's package, driven by Playwright.

Playwright's own browser download does not work on these machines; Debian's
``chromium`` is installed by ``scripts/system.sh`` (run by ``make test``). A missing
Chromium fails the tests that need it: it is never a reason to skip them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from supportbot.devstack import ROOT

ARTIFACTS = ROOT / "test-artifacts"
"""Screenshots and other files a test leaves for a person to look at (gitignored)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError(
            "Chromium is not installed; `make test` installs it (scripts/system.sh), "
            "or: apt-get install -y chromium chromium-driver"
        )
    return path


def launch_browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifact_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
