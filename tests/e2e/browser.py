"""Debian's chromium driven by Python playwright, for the browser tests.

The browser is the system one (``apt-get install chromium``), never one that playwright
downloads: the machines have no network. Chromium is told not to reach out on its own
(component updates, sync, background fetches); with no network those attempts stall it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> Path:
    """Debian's chromium; a clear failure when it is missing (``make test`` installs it)."""
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None and (which := shutil.which("chromium")):
        found = Path(which)
    if found is None:
        raise RuntimeError("chromium is not installed: apt-get install -y chromium")
    return found


@contextmanager
def launch_chromium(headless: bool = True, extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """A headless chromium for the duration of the block; ``extra_args`` are more command
    line switches (e.g. a fake microphone: :func:`fake_microphone`)."""
    with sync_playwright() as playwright:
        browser = _launch(playwright, headless, [*ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def fake_microphone(wav: Path | None = None, allow: bool = True) -> list[str]:
    """Switches for a microphone without hardware: chromium's fake device (a beep every
    second) or, with ``wav``, that file (looped); ``allow`` grants every page access to it
    without the permission prompt."""
    args = ["--use-fake-device-for-media-stream"]
    if allow:
        args.append("--use-fake-ui-for-media-stream")
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    return args


def _launch(playwright: Playwright, headless: bool, args: list[str]) -> Browser:
    return playwright.chromium.launch(executable_path=str(chromium_path()), headless=headless,
                                      args=args, timeout=60_000)


@contextmanager
def checked_page(browser: Browser, width: int = 1200, height: int = 800) -> Iterator[Page]:
    """A page in a fresh context; a JavaScript error on it fails the test at the end."""
    context = browser.new_context(viewport={"width": width, "height": height})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
