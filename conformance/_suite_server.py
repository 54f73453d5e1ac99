"""Clauses for stores whose cookie holds only a signed ID (docs/spec.md S-10)."""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest

from conformance._base import S, StoreBase, id_sample_size, missing_reason
from conformance._browser import Browser
from spec import ManualClock
from spec.errors import (
    ExpiredTimestampError,
    InvalidSessionIDError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)
from spec.http import RecordingResponse, SimpleRequest

__all__ = ["ServerSideClauses"]

_ID = re.compile(r"[A-Z2-7]{52}")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class ServerSideClauses(StoreBase[S]):
    """S-10: ID-in-cookie stores. Every test skips unless the store is server-side.

    Server-side is observed (:meth:`StoreBase.has`), not taken from the
    declaration: a store whose cookie carries an ID meets these clauses
    whatever it declares.
    """

    @pytest.fixture(autouse=True)
    def _server_side_only(self, request: pytest.FixtureRequest) -> None:
        if request.function.__name__.startswith("test_s10_"):
            self.require("server_side", "S-10")

    def break_backend(self, store: S) -> object:
        """Optional hook: make every later backend operation of ``store`` fail.

        May be ``async def`` for an async store (the suite awaits it).
        """
        raise NotImplementedError

    # S-10.1 ------------------------------------------------------------------

    def test_s10_1_cookie_holds_only_a_signed_id(self, store: S) -> None:
        """Ensure a 52-char base32 ID is issued and the values stay out of the cookie (S-10.1)."""
        browser = Browser()
        session = browser.visit(store, blob="v" * 2000)
        assert _ID.fullmatch(session.id)
        assert len(browser.cookie()) < 400
        assert browser.load(store).values == {"blob": "v" * 2000}

    def test_s10_1_ids_are_unpredictable(self, store: S) -> None:
        """Ensure fresh IDs never repeat and use the whole base32 alphabet (S-10.1)."""
        count = id_sample_size(self.capabilities)
        ids = []
        for _ in range(count):
            request, response = SimpleRequest(), RecordingResponse()
            session = store.get(request, "app")
            session.save(request, response)
            ids.append(session.id)
        assert len(set(ids)) == count
        assert all(_ID.fullmatch(i) for i in ids)
        seen = Counter("".join(ids))
        assert set(seen) == set(_BASE32)
        # 32 roughly equal buckets: no symbol may be wildly over-represented.
        assert max(seen.values()) < 2 * (52 * count / 32)

    # S-10.2 ------------------------------------------------------------------

    def test_s10_2_unknown_id_gives_fresh_session_and_a_new_id(self, store: S) -> None:
        """Ensure a cookie whose record is gone loads nothing and its ID is not reused (S-10.2)."""
        browser = Browser()
        old_id = browser.visit(store, user="alice").id
        stale = browser.cookie()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=-1)
        session.save(request, response)
        loaded = store.new(SimpleRequest(f"app={stale}"), "app")
        assert isinstance(loaded.load_error, SessionNotFoundError)
        assert (loaded.is_new, loaded.id, loaded.values) == (True, "", {})
        request, response = SimpleRequest(f"app={stale}"), RecordingResponse()
        revived = store.get(request, "app")
        revived.save(request, response)
        assert revived.id not in ("", old_id)

    # S-10.3 ------------------------------------------------------------------

    def test_s10_3_malformed_ids_are_refused_before_io(self, store: S) -> None:
        """Ensure an ID of the wrong shape is refused before it reaches the backend (S-10.3).

        Only IDs outside every safe alphabet are tried (a separator, a dot, a
        NUL, a newline, 129 characters): a store may accept shorter IDs of
        letters, digits, ``_`` and ``-`` (a Go app's own), or only its own.
        """
        forgeries = (
            "../../etc/passwd",
            "A" * 52 + "/x",
            "A" * 51 + ".",
            "A" * 51 + "\x00",
            "A" * 51 + "\n",
            "A" * 129,
        )
        for forged in forgeries:
            session = store.new(SimpleRequest(), "app")
            session.id = forged
            with pytest.raises(InvalidSessionIDError):
                store.save(SimpleRequest(), RecordingResponse(), session)

    # S-10.4 ------------------------------------------------------------------

    def test_s10_4_backend_failure_raises_store_error(self, store: S) -> None:
        """Ensure an outage raises StoreError from get and save, never a fresh session (S-10.4)."""
        browser = Browser()
        browser.visit(store, user="alice")
        try:
            self.break_backend(store)
        except NotImplementedError:
            pytest.skip(missing_reason("break_backend", "S-10.4"))
        self._broken().add(id(store))
        with pytest.raises(StoreError):
            browser.load(store)
        request, response = SimpleRequest(), RecordingResponse()
        session = store.new(request, "other")
        session.values["x"] = 1
        with pytest.raises(StoreError):
            session.save(request, response)
        assert response.set_cookie_headers() == []

    # S-10.5 ------------------------------------------------------------------

    def test_s10_5_no_resurrection_after_delete(self, store: S) -> None:
        """Ensure saving a session deleted meanwhile raises and writes no cookie (S-10.5)."""
        browser = Browser()
        browser.visit(store, user="alice")
        request, response = browser.request(), RecordingResponse()
        held = store.get(request, "app")
        other_request, other_response = browser.request(), RecordingResponse()
        logout = store.get(other_request, "app")
        logout.options = logout.options.replace(max_age=-1)
        logout.save(other_request, other_response)
        held.values["user"] = "mallory"
        with pytest.raises(SessionInterruptedError):
            held.save(request, response)
        assert response.set_cookie_headers() == []
        assert browser.load(store).is_new

    def test_s10_5_refused_saves_leave_no_record(self, store: S) -> None:
        """Ensure a refused save after a logout leaves nothing in storage (S-10.5).

        Checked through ``raw_record`` (by default the store's
        ``backend.read``): a store could refuse to load a record it still
        keeps, and a later bug or a second reader would bring it back.
        """
        for regenerate in (False, True):
            if regenerate and not self.has("regenerate_id"):
                continue
            browser = Browser()
            browser.visit(store, user="alice")
            request, response = browser.request(), RecordingResponse()
            held = store.get(request, "app")
            other_request, other_response = browser.request(), RecordingResponse()
            logout = store.get(other_request, "app")
            logout.options = logout.options.replace(max_age=-1)
            logout.save(other_request, other_response)
            if regenerate:
                held.regenerate_id()
            held.values["role"] = "admin"
            with pytest.raises(SessionInterruptedError):
                held.save(request, response)
            record = self.raw(store, held.id, "S-10.5")
            assert record is None, (
                f"after a logout, a refused save{' with regenerate_id()' if regenerate else ''} "
                f"left a record under {held.id!r}: {record!r}; delete must remove it and the "
                "save must not create one"
            )

    def test_s10_5_regenerate_after_logout_is_refused(self, store: S) -> None:
        """Ensure regenerate_id cannot undo a logout made by another request (S-10.5).

        Request A loads the session; request B (another tab) logs out; A then
        regenerates the ID, escalates and saves. A store that creates the new
        record without first claiming the old one would bring the session
        back, logged in with ``role=admin``.
        """
        self.require("regenerate_id", "S-10.5")
        browser = Browser()
        browser.visit(store, user="alice")
        request, response = browser.request(), RecordingResponse()
        held = store.get(request, "app")
        other_request, other_response = browser.request(), RecordingResponse()
        logout = store.get(other_request, "app")
        logout.options = logout.options.replace(max_age=-1)
        logout.save(other_request, other_response)
        held.regenerate_id()
        held.values["role"] = "admin"
        with pytest.raises(SessionInterruptedError):
            held.save(request, response)
        assert response.set_cookie_headers() == []
        assert browser.load(store).is_new

    def test_s10_5_one_of_two_regenerations_wins(self, store: S) -> None:
        """Ensure two requests regenerating one session cannot both keep it alive (S-10.5)."""
        self.require("regenerate_id", "S-10.5")
        browser = Browser()
        browser.visit(store, user="alice")
        first_request, second_request = browser.request(), browser.request()
        first, second = store.get(first_request, "app"), store.get(second_request, "app")
        first.regenerate_id()
        second.regenerate_id()
        first_response, second_response = RecordingResponse(), RecordingResponse()
        first.save(first_request, first_response)
        with pytest.raises(SessionInterruptedError):
            second.save(second_request, second_response)
        assert second_response.set_cookie_headers() == []
        browser.receive(first_response)
        assert browser.load(store).values == {"user": "alice"}

    # S-10.6 ------------------------------------------------------------------

    def test_s10_6_concurrent_creates_never_collide(self, store: S) -> None:
        """Ensure sessions created at once get distinct IDs and keep their own values (S-10.6)."""
        self.require("thread_safe", "S-10.6")
        browsers = [Browser() for _ in range(8)]
        barrier = threading.Barrier(len(browsers))
        ids: list[str] = []

        def create(browser: Browser, n: int) -> None:
            barrier.wait()
            ids.append(browser.visit(store, owner=n).id)

        threads = [threading.Thread(target=create, args=(b, n)) for n, b in enumerate(browsers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(ids)) == len(browsers)
        for n, browser in enumerate(browsers):
            assert browser.load(store).values == {"owner": n}

    # S-10.7 ------------------------------------------------------------------

    def test_s10_7_regenerate_id(self, store: S) -> None:
        """Ensure regenerate_id moves the values to a new ID and kills the old one (S-10.7)."""
        self.require("regenerate_id", "S-10.7")
        browser = Browser()
        old_id = browser.visit(store, user="alice").id
        old_cookie = browser.cookie()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.save(request, response)
        browser.receive(response)
        assert session.id != old_id
        assert not session.regenerate_requested
        assert browser.load(store).values == {"user": "alice"}
        replay = store.new(SimpleRequest(f"app={old_cookie}"), "app")
        assert replay.is_new and replay.values == {}

    def test_s10_7_old_record_is_gone_from_storage(self, store: S) -> None:
        """Ensure regenerate_id leaves no record under the old ID in storage (S-10.7)."""
        self.require("regenerate_id", "S-10.7")
        browser = Browser()
        old_id = browser.visit(store, user="alice").id
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.save(request, response)
        record = self.raw(store, old_id, "S-10.7")
        assert record is None, (
            f"after regenerate_id() and a save, the old ID {old_id!r} still has a record: "
            f"{record!r}; the store must delete it, or the old cookie may come back"
        )

    # S-10.8 ------------------------------------------------------------------

    def test_s10_8_session_max_age_enforced_server_side(self, store: S, clock: ManualClock) -> None:
        """Ensure a replayed cookie is refused once the session's own max_age is over (S-10.8)."""
        self.require("record_deadlines", "S-10.8")
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=60)
        session.values["user"] = "alice"
        session.save(request, response)
        browser.receive(response)
        clock.advance(60)
        assert browser.load(store).values == {"user": "alice"}
        clock.advance(1)
        assert isinstance(browser.load(store).load_error, ExpiredTimestampError)

    # S-10.9 ------------------------------------------------------------------

    def test_s10_9_purge_expired(self, store: S, clock: ManualClock) -> None:
        """Ensure purge_expired removes only dead records and counts them (S-10.9)."""
        self.require("purge_expired", "S-10.9")
        purge = store.purge_expired  # type: ignore[attr-defined]  # checked by require
        old, young = Browser(), Browser()
        old.visit(store, k="old")
        clock.advance(self.capabilities.store_max_age - 100)
        young.visit(store, k="young")
        clock.advance(101)
        assert purge() == 1
        assert purge() == 0
        assert young.load(store).values == {"k": "young"}
        assert old.load(store).is_new
