"""Debian's Chromium under Playwright, for the end-to-end browser tests.

Chromium comes from apt (``chromium``); ``playwright install`` is never
used. Without it a browser test is skipped, or fails when
``AEGISTRY_REQUIRE_BROWSER=1`` (as in CI). Screenshots go to
``$AEGISTRY_ARTIFACTS`` (default ``tests/artifacts/``, git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.example_server import ROOT

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine's network is closed: no calls home, no updates.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The https app uses a self-signed certificate made by the test.
    "--ignore-certificate-errors",
]
TIMEOUT_MS = 15_000


def chromium() -> str:
    """The Chromium executable; skip (or fail in CI) without one."""
    path = shutil.which("chromium")
    if path is not None:
        return path
    message = (
        "Debian Chromium is not installed (apt-get install chromium); "
        "the browser tests need it"
    )
    if os.environ.get("AEGISTRY_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " and AEGISTRY_REQUIRE_BROWSER=1 is set")
    pytest.skip(message)


@contextlib.contextmanager
def launch() -> Iterator[Browser]:
    """A headless Chromium for the duration of the ``with`` block."""
    executable = chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=LAUNCH_ARGS,
        )
        try:
            yield browser
        finally:
            browser.close()


def artifacts() -> Path:
    """Where screenshots go (created if missing)."""
    folder = Path(
        os.environ.get("AEGISTRY_ARTIFACTS", ROOT / "tests" / "artifacts"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder
