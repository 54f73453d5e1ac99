"""Sessions know their user: user_id, user_sessions and revoke_user (S-10.11 to S-10.13).

They run for stores that declare the ``users`` capability: a server-side
store whose backend keeps a user index (``UserIndexBackend``). Every test
builds two users, alice and bob, so a store that revokes or lists too
much (bob's session, say) fails as surely as one that lists too little.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance._base import S, StoreBase, since
from conformance._browser import Browser
from spec import ManualClock, Session, SessionEvent
from spec.errors import ConfigurationError, SessionInterruptedError, SessionNotFoundError
from spec.http import RecordingResponse

__all__ = ["UserClauses"]


def login(store: Any, browser: Browser, user_id: str, **values: Any) -> Session:
    """The login flow of the guide: a new ID and the user, saved in one request."""
    request, response = browser.request(), RecordingResponse()
    session: Session = store.get(request, "app")
    session.regenerate_id()
    session.user_id = user_id
    session.values.update(values)
    session.save(request, response)
    browser.receive(response)
    return session


def logout(store: Any, browser: Browser) -> None:
    """The logout flow of the guide: the record and the cookie go."""
    request, response = browser.request(), RecordingResponse()
    session: Session = store.get(request, "app")
    session.options = session.options.replace(max_age=-1)
    session.save(request, response)
    browser.receive(response)


class UserClauses(StoreBase[S]):
    """S-10.11 to S-10.13, for stores declaring ``users``."""

    @pytest.fixture(autouse=True)
    def _users_only(self, request: pytest.FixtureRequest) -> None:
        name = request.function.__name__
        if name.startswith(("test_s10_11_", "test_s10_12_", "test_s10_13_")):
            self.require("users", "S-10." + name.split("_")[2])  # the test's own clause

    # S-10.11 -----------------------------------------------------------------

    @since("1.1")
    def test_s10_11_user_id_is_stored_with_the_session(self, store: S) -> None:
        """Ensure user_id survives loads, later saves and regenerate_id, and logout clears it
        (S-10.11)."""
        browser = Browser()
        assert browser.load(store).user_id is None, "a fresh session must have user_id None"
        first = login(store, browser, "alice@example.com", cart=1)
        loaded = browser.load(store)
        assert loaded.user_id == "alice@example.com", (
            f"user_id loaded as {loaded.user_id!r}: store it with the record"
        )
        assert "_sessionspec.user_id" not in loaded.values, "the reserved key leaked into values"
        browser.visit(store, cart=2)  # a later save that does not mention the user
        assert browser.load(store).user_id == "alice@example.com"
        again = login(store, browser, "alice@example.com")
        assert again.id != first.id
        assert browser.load(store).user_id == "alice@example.com"
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.user_id = None
        session.save(request, response)
        browser.receive(response)
        assert browser.load(store).user_id is None, "clearing user_id must be stored too"

    @since("1.1")
    def test_s10_11_user_id_is_validated(self) -> None:
        """Ensure a user_id that could address another key or path is refused (S-10.11)."""
        session = Session(name="app")
        for bad in ("", "a b", "a:b", "{slot}", "../x", "x" * 129, "é", 42):
            with pytest.raises(ConfigurationError):
                session.user_id = bad  # type: ignore[assignment]
        with pytest.raises(ConfigurationError):
            Session(name="app", user_id="a*b")
        for good in ("42", "alice@example.com", "a.b+c_d-e", "x" * 128):
            session.user_id = good
            assert session.user_id == good

    # S-10.12 -----------------------------------------------------------------

    @since("1.1")
    def test_s10_12_user_sessions_lists_exactly_the_live_sessions(self, store: S) -> None:
        """Ensure user_sessions lists a user's live sessions and nothing else (S-10.12).

        Not another user's, not one logged out, not one whose user changed,
        not one past its deadline.
        """
        anyone: Any = store
        phone, laptop, tablet, bobs = Browser(), Browser(), Browser(), Browser()
        a1 = login(store, phone, "alice")
        a2 = login(store, laptop, "alice")
        a3 = login(store, tablet, "alice")
        b1 = login(store, bobs, "bob")
        assert sorted(anyone.user_sessions("alice")) == sorted([a1.id, a2.id, a3.id])
        assert anyone.user_sessions("bob") == [b1.id]
        assert anyone.user_sessions("carol") == []
        logout(store, phone)
        assert sorted(anyone.user_sessions("alice")) == sorted([a2.id, a3.id])
        request, response = tablet.request(), RecordingResponse()
        switched = store.get(request, "app")
        switched.user_id = "carol"  # the same session now belongs to carol
        switched.save(request, response)
        assert anyone.user_sessions("alice") == [a2.id]
        assert anyone.user_sessions("carol") == [a3.id]
        assert anyone.user_sessions("bob") == [b1.id]

    @since("1.1")
    def test_s10_12_expired_sessions_are_not_listed(self, store: S, clock: ManualClock) -> None:
        """Ensure a session past its deadline is not listed, a fresher one is (S-10.12)."""
        anyone: Any = store
        old, new = Browser(), Browser()
        login(store, old, "alice")
        max_age = self.capabilities.store_max_age
        clock.advance(max_age // 2)
        fresh = login(store, new, "alice")
        clock.advance(max_age // 2 + 1)  # the first one is now past its deadline
        assert anyone.user_sessions("alice") == [fresh.id], (
            "an expired session was listed: user_sessions lists live sessions only"
        )

    @since("1.1")
    def test_s10_12_a_session_kept_alive_stays_listed(self, store: S, clock: ManualClock) -> None:
        """Ensure a session saved again and again outlives its first deadline in the list
        (S-10.12)."""
        anyone: Any = store
        browser = Browser()
        session = login(store, browser, "alice")
        for n in range(3):  # each save moves the deadline; the index must follow
            clock.advance(self.capabilities.store_max_age * 2 // 3)
            browser.visit(store, n=n)
        assert anyone.user_sessions("alice") == [session.id], (
            "a live session dropped out of the list: the index entry must be written "
            "(or its deadline moved) whenever the record's deadline moves"
        )

    @since("1.1")
    def test_s10_12_invalid_user_id_is_refused(self, store: S) -> None:
        """Ensure user_sessions refuses a user_id that is not one (S-10.12)."""
        anyone: Any = store
        with pytest.raises(ConfigurationError):
            anyone.user_sessions("a:*")

    # S-10.13 -----------------------------------------------------------------

    @since("1.1")
    def test_s10_13_revoke_user_ends_every_session_and_no_other(self, store: S) -> None:
        """Ensure revoke_user ends all of alice's sessions, counts them, and spares bob's
        (S-10.13)."""
        anyone: Any = store
        events: list[SessionEvent] = []
        anyone.add_listener(events.append)
        phone, laptop, bobs = Browser(), Browser(), Browser()
        a1 = login(store, phone, "alice", cart=[1])
        a2 = login(store, laptop, "alice")
        login(store, bobs, "bob", cart=[2])
        events.clear()
        assert anyone.revoke_user("alice") == 2
        assert anyone.user_sessions("alice") == []
        for browser in (phone, laptop):
            session = browser.load(store)
            assert session.is_new and session.user_id is None
            assert isinstance(session.load_error, SessionNotFoundError), (
                f"a revoked session loaded with load_error {session.load_error!r}; "
                "expected SessionNotFoundError"
            )
        kept = bobs.load(store)
        assert kept.user_id == "bob" and kept.values == {"cart": [2]}, "revoking alice hurt bob"
        assert sorted(e.session_id for e in events if e.kind == "deleted") == sorted(
            [a1.id, a2.id]
        ), f"expected one 'deleted' event per revoked session, got {events!r}"
        assert anyone.revoke_user("alice") == 0

    @since("1.1")
    def test_s10_13_revoke_user_can_keep_the_current_session(self, store: S) -> None:
        """Ensure keep= spares the current session ("log out my other devices") (S-10.13)."""
        anyone: Any = store
        here, there, elsewhere = Browser(), Browser(), Browser()
        login(store, here, "alice")
        login(store, there, "alice")
        login(store, elsewhere, "alice")
        current = here.load(store)
        assert anyone.revoke_user("alice", keep=current) == 2
        assert anyone.user_sessions("alice") == [current.id]
        assert here.load(store).user_id == "alice"
        assert there.load(store).is_new and elsewhere.load(store).is_new
        assert anyone.revoke_user("alice", keep=current.id) == 0

    @since("1.1")
    def test_s10_13_a_revoked_session_is_not_saved_back(self, store: S) -> None:
        """Ensure a request holding a revoked session cannot bring it back, S-10.5 (S-10.13)."""
        anyone: Any = store
        browser = Browser()
        login(store, browser, "alice")
        request, response = browser.request(), RecordingResponse()
        held = store.get(request, "app")  # loaded before the revoke
        assert anyone.revoke_user("alice") == 1
        held.values["role"] = "admin"
        with pytest.raises(SessionInterruptedError):
            held.save(request, response)
        assert response.set_cookie_headers() == []
        assert anyone.user_sessions("alice") == []
        assert browser.load(store).is_new
