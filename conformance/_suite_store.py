"""Clauses every store must meet (docs/spec.md S-9)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from conformance import strategies
from conformance._base import S, StoreBase, missing_reason, since
from conformance._browser import Browser
from conformance._cookies import lines_named, own_line
from conformance._profiles import hypothesis_settings
from spec import ManualClock, Registry, save_all
from spec.errors import (
    DecodeError,
    ExpiredTimestampError,
    MacInvalidError,
    SaveAllError,
    ValueTooLongError,
)
from spec.http import RecordingResponse, SimpleRequest

__all__ = ["StoreClauses"]

HASH, BLOCK = b"conformance-hash-key-0123456789!", b"conformance-block-key-0123456789"
OLD_HASH, OLD_BLOCK = b"conformance-old-hash-key-0123456", b"conformance-old-block-key-012345"

#: How many cookies of one name a store tries before it gives up (S-9.5).
SAME_NAME_COOKIES_TRIED = 8

_MANGLES: dict[str, Callable[[str], str]] = {
    "truncated": lambda v: v[:-6],
    "first-char": lambda v: ("B" if v[0] == "A" else "A") + v[1:],
    "middle-char": lambda v: (
        v[: len(v) // 2] + ("x" if v[len(v) // 2] != "x" else "y") + v[len(v) // 2 + 1 :]
    ),
    "extended": lambda v: v + "AAAA",
    "not-base64": lambda v: "!" + v[1:],
    "empty": lambda v: "",
}


class StoreClauses(StoreBase[S]):
    """S-9: the life cycle of a session in any store."""

    # S-9.1 -------------------------------------------------------------------

    def test_s9_1_round_trip_every_value_type(self, store: S) -> None:
        """Ensure that every supported value type loads back equal (S-9.1)."""
        expected = strategies.example_values(self.capabilities.value_types)
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values.update(expected)
        session.save(request, response)
        browser.receive(response)
        loaded = browser.load(store)
        assert loaded.load_error is None
        assert loaded.is_new is False
        assert loaded.values == expected

    def test_s9_1_round_trip_generated_values(self) -> None:
        """Ensure that generated values of the declared kinds round-trip (S-9.1).

        Values are drawn from the strategy for the declared ``value_types``,
        so every example reaches the assertion; only one too large for the
        store's size limit is discarded (``assume``), and Hypothesis fails
        the test if that happens too often to check anything.
        """
        kinds = self.capabilities.value_types

        @hypothesis_settings()
        @given(data=st.data())
        def round_trip(data: st.DataObject) -> None:
            values = data.draw(strategies.session_values(kinds), label="values")
            store = self.make_store(ManualClock())
            try:
                browser = Browser()
                request, response = browser.request(), RecordingResponse()
                session = store.get(request, "app")
                session.values.update(values)
                try:
                    session.save(request, response)
                except ValueTooLongError:
                    assume(False)  # past the declared size limit: S-9.11's business
                browser.receive(response)
                loaded = browser.load(store).values
                assert loaded == values, f"saved {values!r}, loaded {loaded!r}"
            finally:
                self.release(store)

        round_trip()

    # S-9.2 -------------------------------------------------------------------

    def test_s9_2_new_without_cookie_is_fresh(self, store: S) -> None:
        """Ensure that new() with no cookie gives a fresh session, never None (S-9.2)."""
        session = store.new(SimpleRequest(), "app")
        assert session is not None
        assert session.is_new is True
        assert session.load_error is None
        assert session.values == {}
        assert session.id == ""

    def test_s9_2_is_new_does_not_change_on_save(self, store: S) -> None:
        """Ensure that is_new describes how the session was obtained (S-9.2)."""
        browser = Browser()
        assert browser.visit(store, n=1).is_new is True
        assert browser.visit(store, n=2).is_new is False

    # S-9.3 -------------------------------------------------------------------

    @pytest.mark.parametrize("mangle", sorted(_MANGLES))
    def test_s9_3_tampered_cookie_gives_fresh_session(self, store: S, mangle: str) -> None:
        """Ensure that a tampered cookie yields a fresh session with load_error (S-9.3)."""
        browser = Browser()
        browser.visit(store, user="alice")
        forged = _MANGLES[mangle](browser.cookie())
        session = store.new(SimpleRequest(f"app={forged}"), "app")
        assert session.is_new is True
        assert session.values == {}
        assert session.id == ""
        assert isinstance(session.load_error, DecodeError)

    def test_s9_3_cookie_for_another_name_is_rejected(self, store: S) -> None:
        """Ensure that a cookie moved to another name fails its MAC (S-9.3)."""
        browser = Browser()
        browser.visit(store, "first", user="alice")
        session = store.new(SimpleRequest(f"second={browser.cookie('first')}"), "second")
        assert session.is_new
        assert isinstance(session.load_error, MacInvalidError)

    def test_s9_3_cookie_under_other_keys_is_rejected(self, clock: ManualClock) -> None:
        """Ensure that a cookie made under other keys is rejected (S-9.3)."""
        ours = self.keyed_store(clock, "S-9.3", HASH, BLOCK)
        theirs = self.keyed_store(clock, "S-9.3", OLD_HASH, OLD_BLOCK)
        browser = Browser()
        browser.visit(theirs, user="mallory")
        session = browser.load(ours)
        assert session.is_new
        assert session.values == {}
        assert isinstance(session.load_error, MacInvalidError)

    # S-9.4 -------------------------------------------------------------------

    def test_s9_4_expiry_boundary(self, store: S, clock: ManualClock) -> None:
        """Ensure a cookie loads at exactly the max age and expires one second later (S-9.4)."""
        max_age = self.capabilities.store_max_age
        browser = Browser()
        browser.visit(store, user="alice")
        clock.advance(max_age)
        assert browser.load(store).values == {"user": "alice"}
        clock.advance(1)
        session = browser.load(store)
        assert session.is_new and session.values == {}
        assert isinstance(session.load_error, ExpiredTimestampError)

    def test_s9_4_save_slides_expiry(self, store: S, clock: ManualClock) -> None:
        """Ensure that every save re-stamps the session (S-9.4)."""
        browser = Browser()
        browser.visit(store, n=1)
        for n in range(2, 5):
            clock.advance(self.capabilities.store_max_age - 10)
            browser.visit(store, n=n)
        assert browser.load(store).values == {"n": 4}

    # S-9.5 -------------------------------------------------------------------

    def test_s9_5_duplicate_cookies_tried_in_order(self, store: S) -> None:
        """Ensure a bad first cookie does not hide a good second one (S-9.5)."""
        browser = Browser()
        browser.visit(store, user="alice")
        good = browser.cookie()
        session = store.new(SimpleRequest(f"app=garbage; app={good}"), "app")
        assert session.load_error is None
        assert session.values == {"user": "alice"}

    def test_s9_5_at_most_eight_same_name_cookies_are_tried(self, store: S) -> None:
        """Ensure a good cookie loads as the 8th of its name and is skipped as the 9th (S-9.5)."""
        browser = Browser()
        browser.visit(store, user="alice")
        good = browser.cookie()
        for bad in (SAME_NAME_COOKIES_TRIED - 1, SAME_NAME_COOKIES_TRIED):
            header = "; ".join([*["app=garbage"] * bad, f"app={good}"])
            session = store.new(SimpleRequest(header), "app")
            if bad < SAME_NAME_COOKIES_TRIED:
                assert session.load_error is None, "the 8th cookie must still be tried"
                assert session.values == {"user": "alice"}
            else:
                assert session.is_new, "only the first 8 cookies of one name may be tried"
                assert session.values == {}
                assert isinstance(session.load_error, DecodeError)

    # S-9.6 -------------------------------------------------------------------

    def test_s9_6_get_caches_per_request(self, store: S) -> None:
        """Ensure get() returns one session per request and new() never caches (S-9.6)."""
        request = SimpleRequest()
        first = store.get(request, "app")
        assert store.get(request, "app") is first
        assert store.get(SimpleRequest(), "app") is not first
        assert store.new(request, "app") is not first
        assert first in Registry.of(request).sessions()

    def test_s9_6_names_and_stores_are_isolated(self, clock: ManualClock) -> None:
        """Ensure sessions of different names or stores never share values (S-9.6)."""
        one, two = self.make_store(clock), self.make_store(clock)
        shared = SimpleRequest()
        one.get(shared, "a").values["who"] = "one-a"
        assert two.get(shared, "a") is not one.get(shared, "a")
        assert two.get(shared, "a").values == {}
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        one.get(request, "a").values["who"] = "one-a"
        one.get(request, "b").values["who"] = "one-b"
        save_all(request, response)
        browser.receive(response)
        assert browser.load(one, "a").values == {"who": "one-a"}
        assert browser.load(one, "b").values == {"who": "one-b"}

    # S-9.7 -------------------------------------------------------------------

    def test_s9_7_options_are_copied_not_shared(self, store: S) -> None:
        """Ensure a session's options never write back to the store or others (S-9.7)."""
        request = SimpleRequest()
        a, b = store.get(request, "a"), store.get(request, "b")
        defaults = a.options
        assert b.options == defaults
        a.options = a.options.replace(max_age=5, path="/changed")
        a.save(request, RecordingResponse())
        assert b.options == defaults
        assert store.new(SimpleRequest(), "b").options == defaults
        assert store.new(SimpleRequest(), "a").options == defaults

    # S-9.8 -------------------------------------------------------------------

    def test_s9_8_flashes_consumed_once_and_persisted_by_save(self, store: S) -> None:
        """Ensure a flash is shown once and only a save makes its removal stick (S-9.8)."""
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        store.get(request, "app").add_flash("Welcome!")
        save_all(request, response)
        browser.receive(response)
        assert browser.load(store).flashes() == ["Welcome!"]
        request, response = browser.request(), RecordingResponse()
        assert store.get(request, "app").flashes() == ["Welcome!"]
        save_all(request, response)
        browser.receive(response)
        assert browser.load(store).flashes() == []

    # S-9.9 -------------------------------------------------------------------

    def test_s9_9_delete_clears_cookie_and_session(self, store: S) -> None:
        """Ensure max_age < 0 sends the deletion cookie and forgets the session (S-9.9)."""
        browser = Browser()
        browser.visit(store, user="alice")
        old_cookie = browser.cookie()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=-1)
        session.save(request, response)
        line = own_line(response)
        assert line.startswith("app=")
        assert "Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0" in line
        browser.receive(response)
        assert browser.jar.get("app") is None
        assert browser.load(store).is_new
        if self.has("server_side"):
            replay = store.new(SimpleRequest(f"app={old_cookie}"), "app")
            assert replay.is_new and replay.values == {}

    def test_s9_9_deleting_without_cookie_sends_nothing(self, store: S) -> None:
        """Ensure deleting a session the request had no cookie for sends nothing (S-9.9)."""
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=-1)
        session.save(request, response)
        assert response.set_cookie_headers() == []

    # S-9.10 ------------------------------------------------------------------

    def test_s9_10_browser_session_cookie(self, store: S) -> None:
        """Ensure max_age == 0 gives a cookie with no lifetime that still loads (S-9.10)."""
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=0)
        session.values["user"] = "alice"
        session.save(request, response)
        line = own_line(response)
        assert "Max-Age" not in line and "Expires" not in line
        browser.receive(response)
        assert browser.load(store).values == {"user": "alice"}
        browser.jar.end_browser_session()
        assert browser.load(store).is_new

    # S-9.11 ------------------------------------------------------------------

    def test_s9_11_oversized_session_raises_and_writes_nothing(self, store: S) -> None:
        """Ensure a session past the size limit raises ValueTooLongError, no header (S-9.11)."""
        limit = self.capabilities.max_value_bytes
        if limit is None:
            pytest.skip(missing_reason("max_value_bytes", "S-9.11"))
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session.values["blob"] = "x" * (limit + 100)
        try:
            session.save(request, response)
        except ValueTooLongError as exc:
            error = exc
        else:
            pytest.fail(
                f"capabilities declare max_value_bytes={limit}, but saving a "
                f"{limit + 100}-character value did not raise ValueTooLongError: enforce the "
                "limit, or declare the store's real one (None for none) (S-9.11)",
                pytrace=False,
            )
        assert error.limit == limit, f"ValueTooLongError.limit is {error.limit}, declared {limit}"
        assert error.length > limit
        assert response.set_cookie_headers() == []

    # S-9.12 ------------------------------------------------------------------

    def test_s9_12_save_all_saves_every_session(self, clock: ManualClock) -> None:
        """Ensure save_all saves sessions of several names and stores together (S-9.12)."""
        one, two = self.make_store(clock), self.make_store(clock)
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        one.get(request, "first").values["n"] = 1
        two.get(request, "second").values["n"] = 2
        save_all(request, response)
        assert own_line(response, "first") and own_line(response, "second")
        browser.receive(response)
        assert browser.load(one, "first").values == {"n": 1}
        assert browser.load(two, "second").values == {"n": 2}

    def test_s9_12_save_all_keeps_going_past_a_failure(self, store: S) -> None:
        """Ensure one failing session does not stop the others (S-9.12)."""
        if self.capabilities.max_value_bytes is None:
            pytest.skip(missing_reason("max_value_bytes", "S-9.12"))
        request, response = SimpleRequest(), RecordingResponse()
        store.get(request, "big").values["x"] = "y" * (self.capabilities.max_value_bytes + 100)
        store.get(request, "small").values["x"] = 1
        with pytest.raises(SaveAllError) as info:
            save_all(request, response)
        assert [name for name, _ in info.value.failures] == ["big"]
        assert lines_named(response, "big") == [], "the failed session must send no cookie"
        assert own_line(response, "small")

    # S-9.13 ------------------------------------------------------------------

    def test_s9_13_key_rotation(self, clock: ManualClock) -> None:
        """Ensure old cookies load after a key is prepended, and new ones use it (S-9.13)."""
        old = self.keyed_store(clock, "S-9.13", OLD_HASH, OLD_BLOCK)
        browser = Browser()
        browser.visit(old, user="alice")
        rotated = self.keyed_store(clock, "S-9.13", HASH, BLOCK, OLD_HASH, OLD_BLOCK)
        assert browser.load(rotated).values == {"user": "alice"}
        fresh = Browser()
        fresh.visit(rotated, user="bob")
        assert fresh.load(self.keyed_store(clock, "S-9.13", HASH, BLOCK)).values == {"user": "bob"}
        assert fresh.load(old).is_new

    # S-9.15 ------------------------------------------------------------------

    def test_s9_15_session_max_age_sets_the_cookie_lifetime(self, store: S) -> None:
        """Ensure a session's own max_age is what its cookie carries (S-9.15)."""
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=3600)
        session.save(request, response)
        line = own_line(response)
        assert "; Max-Age=3600" in line

    # S-9.16 ------------------------------------------------------------------

    def test_s9_16_load_error_is_the_matching_keys_error(self, clock: ManualClock) -> None:
        """Ensure that under rotation the error of the key whose MAC matched wins (S-9.16)."""
        old = self.keyed_store(clock, "S-9.16", OLD_HASH, OLD_BLOCK)
        browser = Browser()
        browser.visit(old, user="alice")
        clock.advance(self.capabilities.store_max_age + 1)
        rotated = self.keyed_store(clock, "S-9.16", HASH, BLOCK, OLD_HASH, OLD_BLOCK)
        assert isinstance(browser.load(rotated).load_error, ExpiredTimestampError)

    # S-9.17 ------------------------------------------------------------------

    def test_s9_17_forged_input_is_logged_without_secrets(
        self, store: S, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Ensure forged cookies are logged at WARNING without the value (S-9.17)."""
        forged = "MTcwMDAwMDAwMHxmb3JnZWR8AAAA"
        with caplog.at_level("DEBUG", logger="sessionspec.security"):
            store.new(SimpleRequest(f"app={forged}"), "app")
        records = [r for r in caplog.records if r.name == "sessionspec.security"]
        assert [r.levelname for r in records] == ["WARNING"]
        assert "'app'" in records[0].getMessage()
        assert forged not in records[0].getMessage()

    # S-9.18 ------------------------------------------------------------------

    def test_s9_18_threads_saving_different_sessions(self, store: S) -> None:
        """Ensure concurrent requests saving different sessions all land (S-9.18)."""
        self.require("thread_safe", "S-9.18")
        browsers = [Browser() for _ in range(6)]
        barrier = threading.Barrier(len(browsers))
        failures: list[BaseException] = []

        def work(browser: Browser, n: int) -> None:
            try:
                barrier.wait()
                for i in range(25):
                    browser.visit(store, owner=n, i=i)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(b, n)) for n, b in enumerate(browsers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        for n, browser in enumerate(browsers):
            assert browser.load(store).values == {"owner": n, "i": 24}

    # S-9.20 ------------------------------------------------------------------

    def test_s9_20_untouched_sessions_send_no_cookie(self, store: S) -> None:
        """Ensure loaded and saved sessions are unmodified and only changes are sent (S-9.20)."""
        browser = Browser()
        browser.visit(store, user="alice")
        request, response = browser.request(), RecordingResponse()
        loaded = store.get(request, "app")
        assert loaded.values == {"user": "alice"}
        assert not loaded.modified
        save_all(request, response, only_modified=True)
        assert response.set_cookie_headers() == []
        loaded.values["user"] = "bob"
        save_all(request, response, only_modified=True)
        assert own_line(response)
        assert not loaded.modified

    # S-9.21 ------------------------------------------------------------------

    @since("1.1")
    def test_s9_21_own_max_age_persists_across_saves(self, store: S) -> None:
        """Ensure a session's own max_age outlives the response that set it (S-9.21)."""
        for own in (0, 3600):
            browser = Browser()
            request, response = browser.request(), RecordingResponse()
            session = store.get(request, "app")
            session.options = session.options.replace(max_age=own)
            session.values["user"] = "alice"
            session.save(request, response)
            browser.receive(response)
            # A later request that only changes a value (reads a flash, say).
            request, response = browser.request(), RecordingResponse()
            later = store.get(request, "app")
            assert later.options.max_age == own, (
                f"a session saved with max_age={own} loaded with "
                f"max_age={later.options.max_age}: store the session's own max_age "
                "with its values and restore it on load"
            )
            assert dict(later.values) == {"user": "alice"}, (
                f"the stored max_age leaked into values: {dict(later.values)!r}"
            )
            later.values["seen"] = True
            later.save(request, response)
            line = _cookie_line(response, "app")
            if own == 0:
                assert "Max-Age" not in line and "Expires" not in line, (
                    f"'remember me: off' became a persistent cookie on a later write: {line}"
                )
            else:
                assert f"Max-Age={own}" in line, f"expected Max-Age={own} on a later write: {line}"
            browser.receive(response)
            assert browser.load(store).options.max_age == own

    # S-9.19 ------------------------------------------------------------------

    def test_s9_19_random_operations_match_a_model(self) -> None:
        """Ensure the store agrees with a model under random sequences of operations (S-9.19)."""
        from conformance.stateful import state_machine_for

        machine = state_machine_for(
            self.make_store, self.checked_capabilities(), close=self.release
        )
        run_state_machine_as_test(machine, settings=machine.TestCase.settings)


def _cookie_line(response: RecordingResponse, name: str) -> str:
    """The ``Set-Cookie`` line of cookie ``name`` (a store may send others beside it)."""
    lines = [line for line in response.set_cookie_headers() if line.startswith(f"{name}=")]
    assert lines, f"no Set-Cookie for {name!r} in {response.set_cookie_headers()!r}"
    return lines[-1]
