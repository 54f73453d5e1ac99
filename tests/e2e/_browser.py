"""Helpers for the real-browser tests: Debian's Chromium driven by Playwright.

Nothing here downloads a browser: Playwright is pointed at the system's
``/usr/bin/chromium`` (``.ci/apt-install.sh chromium`` installs it), never at
``playwright install``'s own builds.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam
    from playwright.sync_api import Browser, BrowserContext, Page

__all__ = [
    "CHROMIUM_ARGS",
    "StepRecorder",
    "chromium_executable",
    "missing",
    "restart_browser",
]

#: Headless, sandbox-less (root in a container) and silent on the network:
#: this machine has none, and the browser must not try to update or sync.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing(reason: str) -> NoReturn:
    """Skip the test for a missing browser or driver, or fail under ``CI=true``.

    CI installs both (``.ci/apt-install.sh chromium`` and the ``test`` extra), so
    there a missing one is a broken install, not a reason to skip.
    """
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: e2e tests must run)", pytrace=False)
    pytest.skip(reason)


def chromium_executable() -> str:
    """The system Chromium (``$CHROMIUM`` or ``/usr/bin/chromium``), or skip/fail."""
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing(f"Chromium not found at {path}: run `bash .ci/apt-install.sh chromium`")
    return path


def restart_browser(
    browser: Browser, context: BrowserContext, *, timeout_ms: float = 10_000
) -> BrowserContext:
    """Close ``context`` and open a new one holding only its persistent cookies.

    This is what quitting and restarting a browser does: cookies with an
    expiry (``Max-Age``/``Expires``) survive, browser-session cookies
    (``expires == -1`` in Playwright) are dropped.
    """
    kept: list[SetCookieParam] = [
        {
            "name": cookie["name"],
            "value": cookie["value"],
            "domain": cookie["domain"],
            "path": cookie["path"],
            "expires": cookie["expires"],
            "httpOnly": cookie["httpOnly"],
            "secure": cookie["secure"],
            "sameSite": cookie["sameSite"],
        }
        for cookie in context.cookies()
        if cookie["expires"] != -1
    ]
    context.close()
    fresh = browser.new_context()
    fresh.set_default_timeout(timeout_ms)
    fresh.add_cookies(kept)
    return fresh


class StepRecorder:
    """Names the steps of a browser test and screenshots each one.

    Every step ends with a screenshot in ``directory``; a failing step adds a
    ``-FAILED`` screenshot and prints the directory's path (shown in pytest's
    report). :meth:`cleanup` deletes the directory of a test that passed.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.failed = False

    def _shoot(self, page: Page, name: str) -> None:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        try:
            page.screenshot(path=str(self.directory / f"{self.count:02d}-{slug}.png"))
        except Exception as exc:  # a closed page must not hide the real failure
            print(f"screenshot of step {name!r} failed: {exc}", file=sys.stderr)

    @contextmanager
    def step(self, name: str, page: Page) -> Iterator[None]:
        """Run one step; screenshot ``page`` after it, and keep the shots if it fails."""
        self.count += 1
        try:
            yield
        except BaseException:
            self.failed = True
            self._shoot(page, f"{name}-FAILED")
            print(f"e2e step {self.count} {name!r} failed; screenshots in {self.directory}")
            raise
        self._shoot(page, name)

    def cleanup(self) -> None:
        """Delete the screenshots unless a step failed."""
        if not self.failed:
            shutil.rmtree(self.directory, ignore_errors=True)
