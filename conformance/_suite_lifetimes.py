"""Lifetime clauses: creation time, absolute and idle timeouts, touches (S-9.22 to S-9.25).

They need a store built with timeouts, which only the backend knows how to
make, so they run when the test class has a
``make_store_with_timeouts(clock, *, absolute_timeout, idle_timeout)``
hook; without it each is a named skip that says so. The clock is the
suite's :class:`~spec.ManualClock`: time passes only when a test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance._base import S, StoreBase, since
from conformance._browser import Browser
from spec import ManualClock, Session, Store, save_all
from spec.errors import AbsoluteTimeoutError, IdleTimeoutError
from spec.http import RecordingResponse

__all__ = ["LifetimeClauses"]

ABSOLUTE = 3600
IDLE = 600

_NO_HOOK = (
    "the factory has no make_store_with_timeouts(clock, *, absolute_timeout, idle_timeout) "
    "hook: add one that builds the store with those limits, so {clause} can check them"
)


def _read_only_visit(browser: Browser, store: Store, *, every_request: bool = False) -> Session:
    """One request that only reads the session, ended as the middlewares end it."""
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    save_all(request, response, only_modified=not every_request)
    browser.receive(response)
    return session


class LifetimeClauses(StoreBase[S]):
    """S-9.22 to S-9.25, for stores built with an idle and an absolute timeout."""

    def timed_store(self, clock: ManualClock, clause: str, *, absolute: int, idle: int) -> S:
        """A store with the given timeouts, or a named skip if the factory cannot make one."""
        hook: Any = getattr(self, "make_store_with_timeouts", None)
        try:
            if hook is None:
                raise NotImplementedError
            store: S = hook(clock, absolute_timeout=absolute, idle_timeout=idle)
        except NotImplementedError:
            pytest.skip(_NO_HOOK.format(clause=clause))
        self._made().append(store)  # closed after the test, like every store the suite makes
        return store

    # S-9.22 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_22_absolute_timeout_ends_an_active_session(self, clock: ManualClock) -> None:
        """Ensure a session busy all along is refused just past absolute_timeout (S-9.22)."""
        store = self.timed_store(clock, "S-9.22", absolute=ABSOLUTE, idle=0)
        browser = Browser()
        created = int(clock())
        first = browser.visit(store, user="alice")
        assert first.created_at == created, (
            f"created_at is {first.created_at!r} after the first save, expected {created}: "
            "set it when a session is first saved"
        )
        for _ in range(3):  # busy: a write every 20 minutes
            clock.advance(ABSOLUTE // 3)
            later = browser.visit(store, n=1)
            assert later.load_error is None, f"refused before the limit: {later.load_error!r}"
            assert later.created_at == created, (
                f"created_at moved from {created} to {later.created_at!r} on a later save: "
                "it must be kept for the session's whole life"
            )
        assert int(clock()) == created + ABSOLUTE  # exactly at the limit: still accepted
        assert browser.load(store).load_error is None
        clock.advance(1)
        refused = browser.load(store)
        assert refused.is_new and isinstance(refused.load_error, AbsoluteTimeoutError), (
            f"a session {ABSOLUTE + 1}s old loaded with load_error={refused.load_error!r}; "
            f"expected AbsoluteTimeoutError past absolute_timeout={ABSOLUTE}"
        )

    @since("1.1")
    def test_s9_22_created_at_survives_regenerate_id(self, clock: ManualClock) -> None:
        """Ensure regenerate_id keeps created_at, so logging in again cannot reset it (S-9.22)."""
        store = self.timed_store(clock, "S-9.22", absolute=ABSOLUTE, idle=0)
        browser = Browser()
        created = int(clock())
        browser.visit(store, user="alice")
        clock.advance(ABSOLUTE // 2)
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.values["role"] = "admin"
        session.save(request, response)
        browser.receive(response)
        assert browser.load(store).created_at == created
        clock.advance(ABSOLUTE // 2 + 1)
        assert isinstance(browser.load(store).load_error, AbsoluteTimeoutError)

    @since("1.1")
    def test_s9_22_absolutely_expired_record_is_deleted(self, clock: ManualClock) -> None:
        """Ensure a server-side record past absolute_timeout is deleted when refused (S-9.22)."""
        self.require("server_side", "S-9.22")
        store = self.timed_store(clock, "S-9.22", absolute=ABSOLUTE, idle=0)
        browser = Browser()
        session_id = browser.visit(store, user="alice").id
        clock.advance(ABSOLUTE + 1)
        assert isinstance(browser.load(store).load_error, AbsoluteTimeoutError)
        assert self.raw(store, session_id, "S-9.22") is None, (
            "the record of a session refused for its absolute timeout is still stored"
        )

    # S-9.23 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_23_reads_keep_a_session_alive_and_silence_ends_it(self, clock: ManualClock) -> None:
        """Ensure reads inside idle_timeout keep a session; one silent window ends it (S-9.23)."""
        store = self.timed_store(clock, "S-9.23", absolute=0, idle=IDLE)
        browser = Browser()
        browser.visit(store, user="alice")
        for _ in range(6):  # three idle windows of reads, no writes
            clock.advance(IDLE // 2)
            seen = _read_only_visit(browser, store)
            assert seen.load_error is None and dict(seen.values) == {"user": "alice"}, (
                f"a session read every {IDLE // 2}s was refused ({seen.load_error!r}): "
                "the request-end save_all(only_modified=True) must touch it"
            )
        assert int(clock()) > IDLE * 3 - 1  # well past one window since the last write
        clock.advance(IDLE + 1)
        ended = browser.load(store)
        assert ended.is_new and isinstance(ended.load_error, IdleTimeoutError), (
            f"a session unused for {IDLE + 1}s loaded with load_error={ended.load_error!r}; "
            f"expected IdleTimeoutError past idle_timeout={IDLE}"
        )

    @since("1.1")
    def test_s9_23_touches_are_throttled(self, clock: ManualClock) -> None:
        """Ensure touches are throttled to one per tenth of the idle window (S-9.23)."""
        store = self.timed_store(clock, "S-9.23", absolute=0, idle=IDLE)
        browser = Browser()
        browser.visit(store, user="alice")
        clock.advance(IDLE // 10 - 1)
        _read_only_visit(browser, store)
        assert browser.last.set_cookie_headers() == [], (
            "a read soon after a write was touched: touch at most once per tenth of the window"
        )
        clock.advance(1)
        _read_only_visit(browser, store)
        assert browser.last.set_cookie_headers(), (
            "a read a tenth of the window later was not touched"
        )

    # S-9.24 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_24_a_touch_never_undoes_a_concurrent_write(self, clock: ManualClock) -> None:
        """Ensure a read-only request ending after a concurrent save keeps that save (S-9.24)."""
        self.require("server_side", "S-9.24")
        store = self.timed_store(clock, "S-9.24", absolute=0, idle=IDLE)
        browser = Browser()
        browser.visit(store, cart="empty")
        clock.advance(IDLE // 2)  # a touch is due for both requests below
        reader_request, reader_response = browser.request(), RecordingResponse()
        reader = store.get(reader_request, "app")
        assert dict(reader.values) == {"cart": "empty"}
        browser.visit(store, cart="full")  # another tab saves meanwhile
        save_all(reader_request, reader_response, only_modified=True)
        assert dict(browser.load(store).values) == {"cart": "full"}, (
            "the read-only request's touch wrote back the values it had loaded, undoing a "
            "concurrent save: touch must re-stamp only a record nobody changed since"
        )

    # S-9.25 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_25_save_every_request_is_a_touch(self, clock: ManualClock) -> None:
        """Ensure save_every_request touches: a concurrent save is never undone (S-9.25)."""
        self.require("server_side", "S-9.25")
        store = self.timed_store(clock, "S-9.25", absolute=0, idle=IDLE)
        browser = Browser()
        browser.visit(store, cart="empty")
        reader_request, reader_response = browser.request(), RecordingResponse()
        store.get(reader_request, "app")
        browser.visit(store, cart="full")
        save_all(reader_request, reader_response, only_modified=False)
        assert dict(browser.load(store).values) == {"cart": "full"}
