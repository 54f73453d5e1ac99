"""A request's many same-name cookies cost a bounded amount of work (S-9.5).

An attacker can send thousands of cookies with the session's name in one
request. Each one tried costs a MAC check (and, for a server-side store, a
backend read of the ID it names) and a log line. These tests send 1000 and
count what the store did: decodes, backend reads and log records.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from conformance import Browser
from reference_impl import CookieStore, MemoryStore
from reference_impl._store.core import MAX_SAME_NAME_COOKIES
from reference_impl.aio import AsyncMemoryStore
from spec.errors import MacInvalidError, SessionNotFoundError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import HASH

COPIES = 1000


class _CountingCodec:
    """Wraps a store's codec and counts ``decode`` calls (the per-cookie cost)."""

    def __init__(self, codec: Any, counts: dict[str, int]) -> None:
        self._codec = codec
        self._counts = counts

    def encode(self, name: str, value: object) -> str:
        return str(self._codec.encode(name, value))

    def decode(self, name: str, value: str) -> object:
        self._counts["decode"] += 1
        return self._codec.decode(name, value)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._codec, attr)


def _count(store: Any) -> dict[str, int]:
    counts = {"decode": 0, "read": 0}
    store.core.codecs = [_CountingCodec(codec, counts) for codec in store.core.codecs]
    memory = getattr(store, "_memory", None)  # the records of a (sync or async) memory store
    if memory is not None:
        read = memory.read

        def counting_read(session_id: str) -> Any:
            counts["read"] += 1
            return read(session_id)

        memory.read = counting_read
    return counts


def _logged_out_cookie(store: Any) -> str:
    """A cookie with a valid MAC whose server-side record is gone (a logout)."""
    browser = Browser()
    session = browser.visit(store, user="alice")
    session.options = session.options.replace(max_age=-1)
    request = SimpleRequest(f"app={browser.cookie()}")
    cookie = browser.cookie()
    session.save(request, RecordingResponse())
    return cookie


def _forged() -> str:
    """A well-formed cookie signed with a key the store does not have (fails its MAC)."""
    browser = Browser()
    browser.visit(CookieStore(b"an attacker's own 32-byte hash k"), user="mallory")
    return browser.cookie()


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sessionspec.security"]


def _summary(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if "tried the first" in r.getMessage()]


def test_s9_5_the_cap_is_eight() -> None:
    """S-9.5: the documented number."""
    assert MAX_SAME_NAME_COOKIES == 8


def test_s9_5_thousand_forged_cookies_cost_eight_decodes(caplog: pytest.LogCaptureFixture) -> None:
    """S-9.5: 1000 forged cookies: 8 decodes, 8 WARNING lines and one summary line."""
    store = CookieStore(HASH)
    counts = _count(store)
    header = "; ".join([f"app={_forged()}"] * COPIES)
    with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
        session = store.new(SimpleRequest(header), "app")
    assert session.is_new and isinstance(session.load_error, MacInvalidError)
    assert counts["decode"] == MAX_SAME_NAME_COOKIES
    records = _records(caplog)
    assert len(records) == MAX_SAME_NAME_COOKIES + 1
    assert _summary(records) == [f"{COPIES} cookies named 'app' in CookieStore; tried the first 8"]
    assert all(r.levelno == logging.WARNING for r in records)


def test_s9_5_thousand_stale_cookies_cost_eight_backend_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S-9.5: one logged-out cookie sent 1000 times: 8 decodes, 8 backend reads, 9 log lines."""
    store = MemoryStore(HASH)
    stale = _logged_out_cookie(store)
    counts = _count(store)
    header = "; ".join([f"app={stale}"] * COPIES)
    with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
        session = store.new(SimpleRequest(header), "app")
    assert session.is_new and isinstance(session.load_error, SessionNotFoundError)
    assert counts == {"decode": MAX_SAME_NAME_COOKIES, "read": MAX_SAME_NAME_COOKIES}
    records = _records(caplog)
    assert len(records) == MAX_SAME_NAME_COOKIES + 1
    assert len(_summary(records)) == 1


def test_s9_5_async_stores_share_the_bound(caplog: pytest.LogCaptureFixture) -> None:
    """S-9.5: the async twin runs the same plan: 8 backend reads for 1000 cookies."""
    sync_store = MemoryStore(HASH)
    stale = _logged_out_cookie(sync_store)
    store = AsyncMemoryStore(HASH)
    counts = _count(store)
    header = "; ".join([f"app={stale}"] * COPIES)
    with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
        session = asyncio.run(store.new(SimpleRequest(header), "app"))
    assert session.is_new and isinstance(session.load_error, SessionNotFoundError)
    assert counts == {"decode": MAX_SAME_NAME_COOKIES, "read": MAX_SAME_NAME_COOKIES}
    records = _records(caplog)
    assert len(records) == MAX_SAME_NAME_COOKIES + 1
    assert _summary(records) == [
        f"{COPIES} cookies named 'app' in AsyncMemoryStore; tried the first 8"
    ]


def test_s9_5_no_summary_when_nothing_was_skipped(caplog: pytest.LogCaptureFixture) -> None:
    """S-9.5: exactly 8 bad cookies are all tried and logged one by one, with no summary."""
    store = CookieStore(HASH)
    header = "; ".join([f"app={_forged()}"] * MAX_SAME_NAME_COOKIES)
    with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
        store.new(SimpleRequest(header), "app")
    records = _records(caplog)
    assert len(records) == MAX_SAME_NAME_COOKIES and _summary(records) == []
