"""Concurrency clauses: a save writes its own changes, not a stale snapshot (S-10.20, S-10.21).

Two requests of one user that load the same session and both save used to
end with the second one's snapshot: whatever the first one changed was
lost. A store that *merges* applies only the keys a request set or deleted
onto the record as it is at save time. These clauses run for stores that
declare ``merges_concurrent_saves`` (every built-in server-side store);
a cookie store cannot merge, since the browser holds the data, and a custom
``RecordBackend`` without ``swap`` keeps "the last writer wins".

The interleavings are scripted (load, load, save, save) rather than left to
thread timing, so a store that writes stale snapshots fails them every
time; S-10.21 then adds real threads, and :class:`InterleavedRequests` a
Hypothesis state machine that opens, edits and saves requests in any order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from conformance._base import S, StoreBase, since
from conformance._browser import Browser
from conformance._profiles import active_profile, hypothesis_settings
from spec import ManualClock, Session, Store
from spec.errors import SessionInterruptedError
from spec.http import RecordingResponse, SimpleRequest

__all__ = ["ConcurrencyClauses", "InterleavedRequests", "interleaved_machine_for"]

THREADS = 8
WRITES = 25


def _open(browser: Browser, store: Store) -> tuple[SimpleRequest, Session]:
    """Start a request: load the session as a handler would (bypassing the request cache)."""
    request = browser.request()
    return request, store.new(request, "app")


def _finish(browser: Browser, store: Store, request: SimpleRequest, session: Session) -> None:
    """End a request: save the session and keep the cookie."""
    response = RecordingResponse()
    store.save(request, response, session)
    browser.receive(response)


class ConcurrencyClauses(StoreBase[S]):
    """S-10.20 and S-10.21, behind the ``merges_concurrent_saves`` capability."""

    # S-10.20 -----------------------------------------------------------------

    @since("1.1")
    def test_s10_20_interleaved_saves_of_different_keys_both_land(self, store: S) -> None:
        """Ensure two requests saving different keys of one session both land (S-10.20)."""
        self.require("merges_concurrent_saves", "S-10.20")
        browser = Browser()
        browser.visit(store, user="alice", cart=0)
        first, second = _open(browser, store), _open(browser, store)
        first[1]["theme"] = "dark"
        second[1]["cart"] = 3
        _finish(browser, store, *first)
        _finish(browser, store, *second)
        stored = browser.load(store).values
        assert stored == {"user": "alice", "cart": 3, "theme": "dark"}, (
            "the second save wrote its stale snapshot over the first one's change: a save "
            "must apply only the keys its request set or deleted onto the current record "
            "(S-10.20)"
        )

    @since("1.1")
    def test_s10_20_a_deleted_key_stays_deleted(self, store: S) -> None:
        """Ensure a key one request deleted is not brought back by another's save (S-10.20)."""
        self.require("merges_concurrent_saves", "S-10.20")
        browser = Browser()
        browser.visit(store, user="alice", csrf="old")
        first, second = _open(browser, store), _open(browser, store)
        del first[1]["csrf"]
        second[1]["seen"] = 1
        _finish(browser, store, *first)
        _finish(browser, store, *second)
        stored = browser.load(store).values
        assert stored == {"user": "alice", "seen": 1}, (
            "a key deleted by one request came back with another request's save (S-10.20)"
        )

    @since("1.1")
    def test_s10_20_same_key_later_writer_wins(self, store: S) -> None:
        """Ensure two requests setting one key end with the later save's value (S-10.20)."""
        self.require("merges_concurrent_saves", "S-10.20")
        browser = Browser()
        browser.visit(store, step=0)
        first, second = _open(browser, store), _open(browser, store)
        second[1]["step"] = 2
        first[1]["step"] = 1
        _finish(browser, store, *second)
        _finish(browser, store, *first)
        assert browser.load(store).values == {"step": 1}

    @since("1.1")
    def test_s10_20_a_merge_never_resurrects(self, store: S) -> None:
        """Ensure a merge into a session deleted meanwhile is refused, as in S-10.5 (S-10.20)."""
        self.require("merges_concurrent_saves", "S-10.20")
        browser = Browser()
        browser.visit(store, user="alice")
        stale = _open(browser, store)
        changed = _open(browser, store)
        changed[1]["x"] = 1
        _finish(browser, store, *changed)  # the record changed: the stale save must merge
        logout = _open(browser, store)
        logout[1].options = logout[1].options.replace(max_age=-1)
        _finish(browser, store, *logout)
        stale[1]["role"] = "admin"
        response = RecordingResponse()
        try:
            store.save(stale[0], response, stale[1])
        except SessionInterruptedError:
            pass
        else:
            raise AssertionError("a save after a logout elsewhere must raise (S-10.5)")
        assert response.set_cookie_headers() == []
        assert browser.load(store).is_new

    # S-10.21 -----------------------------------------------------------------

    @since("1.1")
    def test_s10_21_threads_writing_their_own_keys_lose_nothing(self, store: S) -> None:
        """Ensure 8 threads x 25 saves of their own keys of one session all land (S-10.21)."""
        self.require("merges_concurrent_saves", "S-10.21")
        self.require("thread_safe", "S-10.21")
        browser = Browser()
        browser.visit(store, start=True)
        barrier = threading.Barrier(THREADS)
        failures: list[BaseException] = []

        def work(thread: int) -> None:
            try:
                barrier.wait()
                for write in range(WRITES):
                    request, session = _open(browser, store)
                    done = session.get(f"t{thread}")
                    session[f"t{thread}"] = [*(done if isinstance(done, list) else []), write]
                    store.save(request, RecordingResponse(), session)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == [], f"{len(failures)} saves failed, the first: {failures[0]!r}"
        stored = browser.load(store).values
        # Each thread's key lists every write it made, read back before the
        # next one: a write another thread's stale snapshot undid is missing.
        kept = {n: stored.get(f"t{n}") for n in range(THREADS)}
        lost = sum(WRITES - len(v) if isinstance(v, list) else WRITES for v in kept.values())
        assert lost == 0, f"{lost} of {THREADS * WRITES} writes were lost (S-10.21): {kept!r}"
        assert all(v == list(range(WRITES)) for v in kept.values()), kept

    @since("1.1")
    def test_s10_21_interleaved_requests_state_machine(self) -> None:
        """Ensure requests opened, edited and saved in any order lose nothing (S-10.21)."""
        self.require("merges_concurrent_saves", "S-10.21")
        machine = interleaved_machine_for(self.make_store, close=self.release)
        run_state_machine_as_test(machine, settings=machine.TestCase.settings)


class InterleavedRequests(RuleBasedStateMachine):
    """Several requests of one browser hold one session at once and save in any order.

    The model is what a merging store must end with: each save applies that
    request's own set and deleted keys, in save order. A store that writes
    back the snapshot a request loaded loses another request's keys and
    fails the invariant.
    """

    factory: Callable[[ManualClock], Store]
    close: Callable[[Any], object] | None = None

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.store = self.factory(ManualClock(1_700_000_000))
        self.browser = Browser()
        self.browser.visit(self.store, base=0)
        self.model: dict[str | int, object] = {"base": 0}
        self.changes: dict[int, dict[str, object]] = {}

    def teardown(self) -> None:
        if self.close is not None:
            self.close(self.store)

    def _held(self) -> tuple[int, SimpleRequest, Session]:
        request, session = _open(self.browser, self.store)
        self.changes[id(session)] = {}
        return id(session), request, session

    @initialize()
    def race_two_saves(self) -> None:
        """A fixed race first: every run tells a merging store from a last-writer-wins one."""
        first, second = self._held(), self._held()
        for held, key, value in ((first, "a", 1), (second, "b", 2)):
            held[2][key] = value
            self.changes[held[0]][key] = value
        self.save_request(first)
        self.save_request(second)  # a stale snapshot here drops "a"

    @initialize(target=requests)
    def open_two_requests(self) -> object:
        """Every run starts with two requests in flight: the race under test."""
        return multiple(self._held(), self._held())

    @rule(target=requests)
    def open_request(self) -> tuple[int, SimpleRequest, Session]:
        return self._held()

    @rule(held=requests, key=st.sampled_from(["a", "b", "c", "base"]), value=st.integers(0, 9))
    def set_key(self, held: tuple[int, SimpleRequest, Session], key: str, value: int) -> None:
        held[2][key] = value
        self.changes[held[0]][key] = value

    @rule(held=requests, key=st.sampled_from(["a", "b", "c", "base"]))
    def delete_key(self, held: tuple[int, SimpleRequest, Session], key: str) -> None:
        if key in held[2]:
            del held[2][key]
            self.changes[held[0]][key] = _DELETED

    @rule(held=consumes(requests))
    def save_request(self, held: tuple[int, SimpleRequest, Session]) -> None:
        ident, request, session = held
        changes = self.changes.pop(ident)
        if not changes:
            return
        note(f"save {changes}")
        _finish(self.browser, self.store, request, session)
        for key, value in changes.items():
            if value is _DELETED:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @invariant()
    def stored_values_follow_every_save(self) -> None:
        stored = dict(self.browser.load(self.store).values)
        assert stored == self.model, (
            f"stored {stored!r}, but the saves so far give {self.model!r}: a save wrote a "
            "stale snapshot over another request's change (S-10.21)"
        )


_DELETED = object()


def interleaved_machine_for(
    factory: Callable[[ManualClock], Store], *, close: Callable[[Any], object] | None = None
) -> type[InterleavedRequests]:
    """:class:`InterleavedRequests` bound to ``factory``; run its ``TestCase``."""

    class BoundInterleavedRequests(InterleavedRequests):
        pass

    profile = active_profile()
    BoundInterleavedRequests.factory = staticmethod(factory)
    if close is not None:
        BoundInterleavedRequests.close = staticmethod(close)
    BoundInterleavedRequests.TestCase.settings = hypothesis_settings(
        max_examples=profile.stateful_examples, stateful_step_count=profile.stateful_steps
    )
    return BoundInterleavedRequests
