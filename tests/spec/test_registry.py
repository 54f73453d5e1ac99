"""The per-request registry (docs/spec.md S-5)."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import pytest

from spec import Registry, Session, save_all
from spec.errors import ConfigurationError, InvalidCookieNameError, SaveAllError
from spec.http import RecordingResponse, SimpleRequest
from spec.protocols import Request, ResponseWriter


class CountingStore:
    """A store double that counts `new` calls and can be told to fail on save."""

    def __init__(self, fail_on_save: bool = False) -> None:
        self.new_calls = 0
        self.saved: list[str] = []
        self.fail_on_save = fail_on_save
        self._lock = threading.Lock()

    def get(self, request: Request, name: str) -> Session:
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        with self._lock:
            self.new_calls += 1
        return Session(name=name)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        if self.fail_on_save:
            raise OSError(f"disk full while saving {session.name}")
        self.saved.append(session.name)


def test_registry_lives_in_request_state() -> None:
    """S-5.1: one registry per request, stored in request.state."""
    r1, r2 = SimpleRequest(), SimpleRequest()
    assert Registry.of(r1) is Registry.of(r1)
    assert Registry.of(r1) is not Registry.of(r2)
    assert Registry.of(r1) in r1.state.values()


def test_get_caches_per_store_and_name() -> None:
    """S-5.2: new runs once per (store, name); two stores never share a session."""
    req = SimpleRequest()
    a, b = CountingStore(), CountingStore()
    s1 = a.get(req, "app")
    assert a.get(req, "app") is s1
    assert a.get(req, "other") is not s1
    sb = b.get(req, "app")
    assert sb is not s1
    assert (a.new_calls, b.new_calls) == (2, 1)
    assert s1.store is a and sb.store is b


def test_a_new_request_gets_a_new_session() -> None:
    """S-5.2: nothing is cached across requests."""
    store = CountingStore()
    assert store.get(SimpleRequest(), "app") is not store.get(SimpleRequest(), "app")


@pytest.mark.parametrize("name", ["", "a b", "a;b", "é", "a\n"])
def test_invalid_names_raise(name: str) -> None:
    """S-5.3: names must be RFC 7230 tokens, with gorilla's message."""
    with pytest.raises(InvalidCookieNameError, match="sessions: invalid character in cookie name"):
        Registry.of(SimpleRequest()).get(CountingStore(), name)


def test_state_slot_holding_something_else_is_a_configuration_error() -> None:
    """S-5.1: a clobbered state slot is reported, not silently replaced."""
    req = SimpleRequest()
    req.state["sessionspec.registry"] = "not a registry"
    with pytest.raises(ConfigurationError, match="not a Registry"):
        Registry.of(req)


def test_concurrent_gets_create_one_session() -> None:
    """S-5.4: concurrent get on one request is safe and calls new once."""
    req, store = SimpleRequest(), CountingStore()
    results: list[Session] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(store.get(req, "app"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.new_calls == 1
    assert len({id(s) for s in results}) == 1


def test_save_all_saves_everything_and_reports_every_failure() -> None:
    """S-5.5: one failure does not stop the others; one error names each failure."""
    req, resp = SimpleRequest(), RecordingResponse()
    good, bad = CountingStore(), CountingStore(fail_on_save=True)
    good.get(req, "first")
    bad.get(req, "broken")
    good.get(req, "second")
    bad.get(req, "also-broken")
    with pytest.raises(SaveAllError) as info:
        save_all(req, resp)
    assert good.saved == ["first", "second"]
    assert [name for name, _ in info.value.failures] == ["broken", "also-broken"]
    assert str(info.value) == (
        'sessions: error saving session "broken" -- disk full while saving broken '
        "(and 1 other error)"
    )


def test_save_all_skips_sessions_from_new() -> None:
    """S-5.5: only sessions obtained through get are saved, as in gorilla."""
    req = SimpleRequest()
    store = CountingStore()
    store.new(req, "untracked")
    store.get(req, "tracked")
    save_all(req, RecordingResponse())
    assert store.saved == ["tracked"]


def test_many_requests_leave_memory_flat() -> None:
    """S-5.1: registries die with their requests; nothing accumulates."""

    class QuietStore(CountingStore):
        def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
            pass

    store = QuietStore()

    def one_request() -> None:
        req = SimpleRequest()
        store.get(req, "app").values["n"] = 1
        save_all(req, RecordingResponse())

    for _ in range(2000):
        one_request()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(20000):
        one_request()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 20,000 requests"


def test_save_all_only_modified_skips_untouched_sessions() -> None:
    """S-5.6: with only_modified, a session the request did not change is not saved."""
    req = SimpleRequest()
    store = CountingStore()
    store.get(req, "read-only").values.get("x")
    store.get(req, "written").values["x"] = 1
    save_all(req, RecordingResponse(), only_modified=True)
    assert store.saved == ["written"]
    save_all(req, RecordingResponse())
    assert store.saved == ["written", "read-only", "written"]


def test_sessions_from_the_registry_start_unmodified() -> None:
    """S-5.6: whatever the store's new() did to build the session is not a change."""

    class Loader(CountingStore):
        def new(self, request: Request, name: str) -> Session:
            session = super().new(request, name)
            session.values = {"loaded": True}
            return session

    assert Loader().get(SimpleRequest(), "app").modified is False
