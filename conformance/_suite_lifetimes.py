"""Lifetime clauses: creation time, absolute and idle timeouts, touches (S-9.22 to S-9.25).

They need a store built with timeouts, which only the backend knows how to
make, so they run when the test class has a
``make_store_with_timeouts(clock, *, absolute_timeout, idle_timeout)``
hook; without it each is a named skip that says so. The clock is the
suite's :class:`~spec.ManualClock`: time passes only when a test says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conformance._base import S, StoreBase, since
from conformance._browser import Browser
from conformance._profiles import active_profile, hypothesis_settings
from spec import ManualClock, Session, SessionValue, Store, save_all
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

    # S-9.22 and S-9.23 under random sequences ------------------------------------

    @since("1.1")
    def test_s9_23_random_reads_writes_and_time_match_a_model(self) -> None:
        """Ensure idle and absolute timeouts agree with a model under random steps (S-9.23)."""
        hook: Any = getattr(self, "make_store_with_timeouts", None)
        try:
            if hook is None:
                raise NotImplementedError
            hook(ManualClock(), absolute_timeout=ABSOLUTE, idle_timeout=IDLE)
        except NotImplementedError:
            pytest.skip(_NO_HOOK.format(clause="S-9.23"))
        made = self._made()

        def timed(clock: ManualClock) -> Store:
            store: Store = hook(clock, absolute_timeout=ABSOLUTE, idle_timeout=IDLE)
            made.append(store)
            return store

        machine = lifetime_machine_for(timed)
        run_state_machine_as_test(machine, settings=machine.TestCase.settings)


class _Modelled:
    """What the model knows of one browser's session."""

    def __init__(self) -> None:
        self.values: dict[str, SessionValue] = {}
        self.created: int | None = None  # None: no live session
        self.used = 0  # the last use the store recorded


class LifetimeMachine(RuleBasedStateMachine):
    """Browsers that write, read and wait, against a store with both timeouts.

    The model: a session is alive until ``absolute`` seconds after its first
    save and ``idle`` seconds after the last use the store recorded. A write
    records a use; a read records one only when a tenth of the idle window
    has passed since the last recorded one (the throttle, S-9.23). A load of
    a dead session must be fresh with the error of the limit it passed,
    absolute first (S-9.22).
    """

    make: Callable[[ManualClock], Store]

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.store = self.make(self.clock)
        self.browsers = [Browser() for _ in range(2)]
        self.models = [_Modelled() for _ in range(2)]
        self.counter = 0

    def _now(self) -> int:
        return int(self.clock())

    def _expected_error(self, model: _Modelled) -> type[Exception] | None:
        now = self._now()
        if model.created is None:
            return None
        if now > model.created + ABSOLUTE:
            return AbsoluteTimeoutError
        if now > model.used + IDLE:
            return IdleTimeoutError
        return None

    def _load_and_check(self, index: int) -> tuple[Session, Any, RecordingResponse]:
        browser, model = self.browsers[index], self.models[index]
        request, response = browser.request(), RecordingResponse()
        session = self.store.get(request, "app")
        error = self._expected_error(model)
        if model.created is None:
            assert session.is_new, "a browser with no live session loaded one"
        elif error is not None:
            assert session.is_new and isinstance(session.load_error, error), (
                f"at t+{self._now() - model.created}s (last use t+{model.used - model.created}s) "
                f"expected {error.__name__}, got is_new={session.is_new} "
                f"load_error={session.load_error!r}"
            )
            model.values, model.created = {}, None
        else:
            assert session.load_error is None and dict(session.values) == model.values, (
                f"at t+{self._now() - model.created}s (last use t+{model.used - model.created}s) "
                f"a live session loaded as values={dict(session.values)!r} "
                f"load_error={session.load_error!r}; the model holds {model.values!r}"
            )
        return session, request, response

    @rule(index=st.integers(0, 1))
    def write(self, index: int) -> None:
        session, request, response = self._load_and_check(index)
        model = self.models[index]
        self.counter += 1
        session["n"] = self.counter
        save_all(request, response, only_modified=True)
        self.browsers[index].receive(response)
        if model.created is None:
            model.created = self._now()
        model.values = {**model.values, "n": self.counter}
        model.used = self._now()

    @rule(index=st.integers(0, 1))
    def read(self, index: int) -> None:
        _, request, response = self._load_and_check(index)
        save_all(request, response, only_modified=True)
        self.browsers[index].receive(response)
        model = self.models[index]
        if model.created is not None and self._now() - model.used >= IDLE // 10:
            model.used = self._now()

    @rule(seconds=st.sampled_from([1, IDLE // 10 - 1, IDLE // 10, IDLE // 2, IDLE, IDLE + 1]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def loads_match_the_model(self) -> None:
        for index, browser in enumerate(self.browsers):
            model = self.models[index]
            if model.created is None or self._expected_error(model) is not None:
                continue  # a refusal is checked (and forgets the session) by the next rule
            session = browser.load(self.store)
            assert dict(session.values) == model.values, (
                f"invariant: {dict(session.values)!r} != model {model.values!r}"
            )


def lifetime_machine_for(make: Callable[[ManualClock], Store]) -> type[LifetimeMachine]:
    """A :class:`LifetimeMachine` over stores from ``make`` (built with the suite's timeouts)."""

    class Bound(LifetimeMachine):
        pass

    Bound.make = staticmethod(make)
    profile = active_profile()
    Bound.TestCase.settings = hypothesis_settings(
        max_examples=profile.stateful_examples, stateful_step_count=profile.stateful_steps
    )
    return Bound
