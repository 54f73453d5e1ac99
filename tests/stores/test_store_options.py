"""Store-level options of the reference stores (docs/spec.md S-9.14, S-9.15)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reference_impl.cookie_store import CookieStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from spec import ManualClock, Options, Store
from spec.errors import ConfigurationError, ExpiredTimestampError, NoCodecsError
from spec.http import RecordingResponse
from tests.stores._support import HASH, Browser


def _stores(
    tmp_path: Path, clock: ManualClock
) -> list[CookieStore | MemoryStore | FilesystemStore]:
    return [
        CookieStore(HASH, clock=clock),
        MemoryStore(HASH, clock=clock),
        FilesystemStore(tmp_path, HASH, clock=clock),
    ]


def test_max_age_sets_options_and_codecs(tmp_path: Path) -> None:
    """S-9.14: max_age(n) changes the default cookie lifetime and server-side expiry."""
    clock = ManualClock()
    for store in _stores(tmp_path, clock):
        store.max_age(60)
        assert store.options.max_age == 60
        assert all(codec.max_age == 60 for codec in store.codecs)
        browser = Browser()
        browser.visit(store, user="alice")
        assert "Max-Age=60" in browser.last.set_cookie_headers()[0]
        clock.advance(61)
        assert isinstance(browser.load(store).load_error, ExpiredTimestampError)


def test_max_age_refuses_negative_and_warns_on_zero(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S-9.14: a negative store max age is refused; 0 is allowed but logged."""
    store = CookieStore(HASH)
    with pytest.raises(ConfigurationError, match="max_age must be >= 0"):
        store.max_age(-1)
    with caplog.at_level(logging.WARNING, logger="sessionspec.security"):
        store.max_age(0)
    assert "never expire" in caplog.text
    assert all(codec.max_age == 0 for codec in store.codecs)


def test_browser_session_default_keeps_server_side_expiry() -> None:
    """S-9.14: default options with max_age 0 do not switch server-side expiry off."""
    store = CookieStore(HASH, options=Options(max_age=0))
    assert all(codec.max_age == Options().max_age for codec in store.codecs)


def test_no_keys_is_a_configuration_error(tmp_path: Path) -> None:
    """S-1.6: a store without keys fails at construction, not at the first request."""
    for build in (lambda: CookieStore(), lambda: MemoryStore(), lambda: FilesystemStore(tmp_path)):
        with pytest.raises(NoCodecsError):
            build()


def test_remember_me_shortens_but_never_extends() -> None:
    """S-9.15: a per-session max_age sets the cookie; the store's max age caps acceptance."""
    clock = ManualClock()
    store: Store = CookieStore(HASH, clock=clock)
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=10 * Options().max_age)
    session.save(request, response)
    assert f"Max-Age={10 * Options().max_age}" in response.set_cookie_headers()[0]
    browser.receive(response)
    clock.advance(Options().max_age + 1)
    assert isinstance(browser.load(store).load_error, ExpiredTimestampError)
