"""The demo app (``examples/demo``) in a real browser: Debian's Chromium, headless.

What only a browser can tell: which cookies it keeps, with which attributes,
across a restart; that a flash shows exactly once across real navigations;
that a deleted session's cookie, replayed, signs nobody in; and what happens
to a cookie at the 4096-byte limit.

The demo runs under uvicorn on a free 127.0.0.1 port for the module. A
missing Chromium or Playwright skips these tests, or fails them under
``CI=true`` (see ``tests/e2e/_browser.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from examples.demo import DemoConfig, build_app
from examples.demo.app import AUTH_COOKIE, NOTE_COOKIE, UI_COOKIE
from reference_impl import CookieStore
from spec.errors import ValueTooLongError
from spec.http import RecordingResponse, SimpleRequest
from tests.e2e._browser import (
    CHROMIUM_ARGS,
    StepRecorder,
    chromium_executable,
    missing,
    restart_browser,
)
from tests.integrations._servers import serve_asgi

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Cookie, Page, Response

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the install
    sync_playwright = None  # type: ignore[assignment]

NEW_KEYS = (bytes(range(32)), bytes(range(32, 64)))
OLD_KEYS = (bytes(range(64, 96)), bytes(range(96, 128)))
THIRTY_DAYS = 30 * 86400
TIMEOUT_MS = 10_000


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (each test gets its own context)."""
    if sync_playwright is None:
        missing("the `playwright` package is not installed (pip install playwright)")
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def demo_config(directory: Path, *, secure: bool = False) -> DemoConfig:
    """The demo's configuration with a rotated key set: new pair first, old pair kept."""
    return DemoConfig(
        key_pairs=(*NEW_KEYS, *OLD_KEYS), session_dir=directory, secure_cookies=secure
    )


@pytest.fixture(scope="module")
def sessions_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FilesystemStore's directory for the module's server."""
    return tmp_path_factory.mktemp("demo-sessions")


@pytest.fixture(scope="module")
def base_url(browser: Browser, sessions_dir: Path) -> Iterator[str]:
    """The demo under uvicorn on a free 127.0.0.1 port, stopped after the module."""
    with serve_asgi(build_app(demo_config(sessions_dir))) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (cookie jar) for one test."""
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def steps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepRecorder]:
    """Screenshots of each step, kept (and their directory printed) only on failure."""
    recorder = StepRecorder(tmp_path_factory.mktemp("e2e-screenshots"))
    yield recorder
    recorder.cleanup()


# -- helpers ----------------------------------------------------------------------------


def submit(page: Page, button: str) -> Response:
    """Click a form's submit button and wait for the page it leads to; return its response."""
    with page.expect_navigation() as navigation:
        page.click(button)
    response = navigation.value
    assert response is not None
    return response


def log_in(page: Page, base_url: str, user: str, *, remember: bool) -> Response:
    """Open the home page and sign in through the form."""
    page.goto(base_url)
    page.fill("#username", user)
    if remember:
        page.check("#remember")
    return submit(page, "#login")


def cookie(context: BrowserContext, name: str) -> Cookie | None:
    """The browser's own record of cookie ``name`` (``None`` if it kept none)."""
    found = [c for c in context.cookies() if c["name"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


def assert_safe_attributes(kept: Cookie) -> None:
    """The attributes every demo cookie is sent with, as the browser stored them."""
    assert kept["path"] == "/"
    assert kept["httpOnly"] is True
    assert kept["sameSite"] == "Lax"
    assert kept["secure"] is False  # plain http://127.0.0.1: a non-Secure cookie is kept
    assert kept["domain"] == "127.0.0.1"


def assert_persistent(kept: Cookie, seconds: int) -> None:
    """``kept`` expires ``seconds`` from now (a persistent cookie: Max-Age/Expires)."""
    assert kept["expires"] != -1, "expected a persistent cookie"
    assert abs(kept["expires"] - (time.time() + seconds)) < 120


def note_cookie_size(note: str) -> int:
    """The bytes ``demo_note=<value>`` takes for ``note`` (raises ValueTooLongError).

    Computed with the library and the demo's current keys, as the demo does.
    """
    store = CookieStore(*NEW_KEYS, *OLD_KEYS)
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, NOTE_COOKIE)
    session.values["note"] = note
    session.save(request, response)
    return len(response.set_cookie_headers()[0].split(";", 1)[0])


def longest_note_that_fits() -> int:
    """The longest note (in ASCII characters) whose cookie stays within 4096 bytes."""
    low, high = 0, 4096  # fits, does not fit
    while high - low > 1:
        middle = (low + high) // 2
        try:
            note_cookie_size("x" * middle)
        except ValueTooLongError:
            high = middle
        else:
            low = middle
    return low


# -- tests ------------------------------------------------------------------------------


def test_login_flash_once_browser_session_cookie(
    browser: Browser, context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """Sign in without "remember me": flash shown once; the login ends with the browser."""
    page = context.new_page()
    with steps.step("home page, signed out", page):
        page.goto(base_url)
        expect(page.locator("#status")).to_have_text("Not signed in.")
        expect(page.locator("#flashes li")).to_have_count(0)

    with steps.step("sign in, flash shown", page):
        response = log_in(page, base_url, "alice", remember=False)
        assert response.status == 200
        assert response.request.redirected_from is not None  # POST, 303, GET /
        expect(page.locator("#flashes li")).to_have_count(1)
        expect(page.locator("#flashes li")).to_have_text("Welcome, alice!")
        expect(page.locator("#status")).to_contain_text("alice, until you close the browser")

    with steps.step("reload, flash gone", page):
        page.reload()
        expect(page.locator("#flashes li")).to_have_count(0)
        expect(page.locator("#status")).to_contain_text("Signed in as alice")

    with steps.step("cookie attributes as the browser kept them", page):
        auth = cookie(context, AUTH_COOKIE)
        ui = cookie(context, UI_COOKIE)
        assert auth is not None and ui is not None
        assert_safe_attributes(auth)
        assert_safe_attributes(ui)
        assert auth["expires"] == -1, "without remember me: a browser-session cookie"
        assert_persistent(ui, THIRTY_DAYS)

    context = restart_browser(browser, context)
    page = context.new_page()
    with steps.step("after a browser restart: signed out, visits kept", page):
        assert cookie(context, AUTH_COOKIE) is None
        page.goto(base_url)
        expect(page.locator("#status")).to_have_text("Not signed in.")
        # The persistent visits cookie survived: two home pages, the page after
        # signing in, the reload, and now.
        expect(page.locator("#visits")).to_contain_text(": 5")
    context.close()


def test_remember_me_survives_browser_restart(
    browser: Browser, context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """Sign in with "remember me": a 30-day cookie that outlives the browser."""
    page = context.new_page()
    with steps.step("sign in, remembered", page):
        log_in(page, base_url, "bob", remember=True)
        expect(page.locator("#flashes li")).to_have_text(["Welcome, bob!"])
        expect(page.locator("#status")).to_contain_text("bob, remembered for 30 days")
        auth = cookie(context, AUTH_COOKIE)
        assert auth is not None
        assert_safe_attributes(auth)
        assert_persistent(auth, THIRTY_DAYS)

    context = restart_browser(browser, context)
    page = context.new_page()
    with steps.step("after a browser restart: still signed in, no flash again", page):
        page.goto(base_url)
        expect(page.locator("#status")).to_contain_text("Signed in as bob, remembered")
        expect(page.locator("#flashes li")).to_have_count(0)
    context.close()


def test_logout_deletes_cookie_and_replay_fails(
    browser: Browser, context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """Signing out deletes the session: the old cookie, replayed, signs nobody in."""
    page = context.new_page()
    with steps.step("sign in, remembered", page):
        log_in(page, base_url, "carol", remember=True)
        expect(page.locator("#status")).to_contain_text("Signed in as carol")
        before = cookie(context, AUTH_COOKIE)
        assert before is not None

    with steps.step("sign out", page):
        response = submit(page, "#logout")
        posted = response.request.redirected_from
        assert posted is not None and posted.method == "POST"
        logout_response = posted.response()
        assert logout_response is not None and logout_response.status == 303
        deletions = [
            h["value"]
            for h in logout_response.headers_array()
            if h["name"].lower() == "set-cookie" and h["value"].startswith(f"{AUTH_COOKIE}=")
        ]
        assert len(deletions) == 1
        assert deletions[0].startswith(f"{AUTH_COOKIE}=;")
        assert "Max-Age=0" in deletions[0]
        expect(page.locator("#flashes li")).to_have_text(["You have been signed out."])
        expect(page.locator("#status")).to_have_text("Not signed in.")

    with steps.step("the old cookie is gone from the browser", page):
        after = cookie(context, AUTH_COOKIE)
        # The page just shown handed out a fresh anonymous session (for its CSRF
        # token); the signed-in one is gone and was not persisted.
        assert after is None or (after["value"] != before["value"] and after["expires"] == -1)

    replay = browser.new_context()
    replay.set_default_timeout(TIMEOUT_MS)
    replay.add_cookies([{"name": AUTH_COOKIE, "value": before["value"], "url": base_url}])
    page = replay.new_page()
    with steps.step("replaying the old cookie signs nobody in", page):
        page.goto(base_url)
        expect(page.locator("#status")).to_have_text("Not signed in.")
    replay.close()


def test_post_without_csrf_token_is_refused(
    context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """A POST without the session's CSRF token is answered 403 and changes nothing."""
    page = context.new_page()
    with steps.step("sign in", page):
        log_in(page, base_url, "dave", remember=False)
        expect(page.locator("#status")).to_contain_text("Signed in as dave")

    with steps.step("forged sign-out is refused", page):
        missing_token = page.request.post(f"{base_url}/logout", form={})
        wrong_token = page.request.post(f"{base_url}/logout", form={"csrf_token": "forged"})
        assert missing_token.status == 403
        assert wrong_token.status == 403
        page.reload()
        expect(page.locator("#status")).to_contain_text("Signed in as dave")


def test_key_rotation_reads_old_cookies_and_writes_new_ones(
    context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """A cookie signed with the old key pair is read; its replacement uses the new pair."""
    request, response = SimpleRequest(), RecordingResponse()
    old_store = CookieStore(*OLD_KEYS)
    session = old_store.get(request, UI_COOKIE)
    session.values["visits"] = 41
    session.save(request, response)
    old_value = response.set_cookie_headers()[0].split(";", 1)[0].split("=", 1)[1]
    context.add_cookies([{"name": UI_COOKIE, "value": old_value, "url": base_url}])

    page = context.new_page()
    with steps.step("old-key cookie accepted and re-signed", page):
        page.goto(base_url)
        expect(page.locator("#visits")).to_contain_text(": 42")
        renewed = cookie(context, UI_COOKIE)
        assert renewed is not None and renewed["value"] != old_value
        new_only = CookieStore(*NEW_KEYS).get(
            SimpleRequest(f"{UI_COOKIE}={renewed['value']}"), UI_COOKIE
        )
        assert new_only.load_error is None
        assert new_only.values["visits"] == 42


def test_cookie_at_the_4096_byte_limit(
    context: BrowserContext, base_url: str, steps: StepRecorder
) -> None:
    """The longest note that fits is kept by the browser; one byte more is refused unsent."""
    fits = longest_note_that_fits()
    expected_size = note_cookie_size("x" * fits)
    assert 4096 - 8 < expected_size <= 4096  # close to the limit, within it
    with pytest.raises(ValueTooLongError) as too_long:
        note_cookie_size("x" * (fits + 1))
    refused_size = too_long.value.length
    assert refused_size > 4096 and too_long.value.limit == 4096

    page = context.new_page()
    with steps.step("a note whose cookie just fits is kept", page):
        page.goto(base_url)
        page.fill("#note", "x" * fits)
        submit(page, "#save-note")
        expect(page.locator("#flashes li")).to_have_text(
            [f"Note saved: its cookie is {expected_size} bytes."]
        )
        kept = cookie(context, NOTE_COOKIE)
        assert kept is not None, "Chromium dropped a cookie within the 4096-byte limit"
        assert len(kept["name"]) + 1 + len(kept["value"]) == expected_size
        assert_safe_attributes(kept)
        expect(page.locator("#note-info")).to_have_text(
            f"{fits} characters, cookie {expected_size} bytes of 4096."
        )

    with steps.step("one byte more is refused before sending", page):
        page.fill("#note", "x" * (fits + 1))
        response = submit(page, "#save-note")
        assert response.status == 413
        set_cookies = [
            h["value"] for h in response.headers_array() if h["name"].lower() == "set-cookie"
        ]
        assert not [line for line in set_cookies if line.startswith(f"{NOTE_COOKIE}=")]
        expect(page.locator("#error")).to_contain_text(
            f"the note cookie would be {refused_size} bytes, over the 4096-byte limit"
        )
        expect(page.locator("#note")).to_have_value("x" * fits)  # the kept note
        after = cookie(context, NOTE_COOKIE)
        assert after is not None and after["value"] == kept["value"]


def test_secure_cookie_kept_on_localhost(
    browser: Browser, tmp_path: Path, steps: StepRecorder
) -> None:
    """With ``SESSION_SECURE=1`` the cookies are ``Secure``; Chromium keeps them on localhost.

    ``http://localhost`` is a potentially trustworthy origin, where Chromium
    accepts ``Secure`` cookies without HTTPS.
    """
    with serve_asgi(build_app(demo_config(tmp_path, secure=True))) as url:
        local_url = url.replace("127.0.0.1", "localhost")
        ctx = browser.new_context()
        ctx.set_default_timeout(TIMEOUT_MS)
        page = ctx.new_page()
        try:
            with steps.step("secure cookies over http://localhost", page):
                page.goto(local_url)
                ui = cookie(ctx, UI_COOKIE)
                assert ui is not None
                assert ui["secure"] is True
                assert ui["httpOnly"] is True and ui["sameSite"] == "Lax"
        finally:
            ctx.close()
