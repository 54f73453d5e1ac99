"""Merge-on-save and the regenerate_id grace period (S-10.20, S-10.21, S-10.22), in process.

The conformance clauses (``conformance/_suite_concurrency.py``) run for
every built-in store from the conformance test classes; here: what the
tracked dict records, a store that writes stale snapshots failing those
clauses, a custom backend without ``swap`` keeping "the last writer wins",
8 *processes* on one filesystem session, and the grace period with
interleaved requests.
"""

from __future__ import annotations

import asyncio
import copy
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import Browser
from reference_impl import FilesystemStore, MemoryStore, ServerSideStore
from reference_impl._store.server_side import MERGE_ATTEMPTS
from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.cookie_store import CookieStore
from reference_impl.securecookie import encode_multi
from spec import ManualClock, Session
from spec._tracked import TrackedDict
from spec.errors import ConfigurationError, SessionInterruptedError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.stores._support import BLOCK, HASH

ROOT = Path(__file__).resolve().parents[2]


class _NoSwapBackend:
    """A correct custom backend with only the four primitives (no ``swap``)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, float | None]] = {}
        self.lock = threading.Lock()

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        with self.lock:
            return self.records.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if session_id in self.records:
                return False
            self.records[session_id] = (data, expires_at)
            return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self.lock:
            if session_id not in self.records:
                return False
            self.records[session_id] = (data, expires_at)
            return True

    def delete(self, session_id: str) -> bool:
        with self.lock:
            return self.records.pop(session_id, None) is not None


def _open(browser: Browser, store: MemoryStore | ServerSideStore) -> tuple[SimpleRequest, Session]:
    request = browser.request()
    return request, store.new(request, "app")


def _save(
    browser: Browser, store: MemoryStore | ServerSideStore, held: tuple[SimpleRequest, Session]
) -> RecordingResponse:
    response = RecordingResponse()
    store.save(held[0], response, held[1])
    return browser.receive(response)


# -- what the tracked dict records --------------------------------------------


def test_tracked_dict_records_set_and_deleted_keys() -> None:
    """S-10.20: the last operation on a key decides whether it was set or deleted."""
    values: TrackedDict[str, object] = TrackedDict({"a": 1, "b": 2, "c": 3})
    values["x"] = 1
    del values["a"]
    values.pop("b")
    values["b"] = 5
    values.setdefault("c", 9)  # present: not a change
    values.update(y=1)
    values |= {"z": 2}
    assert values.set_keys == {"x", "b", "y", "z"}
    assert values.deleted_keys == {"a"}
    assert values.changed and not values.replaced
    values.clear()
    assert values.replaced and values.set_keys == set() == values.deleted_keys
    values.reset()
    assert not (values.changed or values.replaced or values.all_set or values.set_keys)


def test_session_marks_what_it_cannot_see() -> None:
    """S-10.20: reassignment replaces everything, mark_modified sets all, a flash sets its key."""
    session = Session(name="app", values={"a": 1, "_flash": ["x"]})
    session.add_flash("y")
    values = session.values
    assert isinstance(values, TrackedDict) and values.set_keys == {"_flash"}
    session.mark_modified()
    assert values.all_set
    session.mark_unmodified()
    assert not values.all_set and values.set_keys == set()
    session.values = {"only": 1}
    assert isinstance(session.values, TrackedDict) and session.values.replaced


# -- who merges -----------------------------------------------------------------


def test_stores_say_whether_they_merge() -> None:
    """S-10.20: built-in server-side stores merge; cookie stores and swapless backends do not."""
    assert MemoryStore(HASH, BLOCK).merges_concurrent_saves
    assert not CookieStore(HASH, BLOCK).merges_concurrent_saves
    assert not ServerSideStore(_NoSwapBackend(), HASH, BLOCK).merges_concurrent_saves


def test_a_backend_without_swap_keeps_last_writer_wins() -> None:
    """S-10.20: without swap a save replaces the record (documented), and S-10.5 still holds."""
    store = ServerSideStore(_NoSwapBackend(), HASH, BLOCK)
    browser = Browser()
    browser.visit(store, user="alice")
    first, second = _open(browser, store), _open(browser, store)
    first[1]["theme"] = "dark"
    second[1]["cart"] = 3
    _save(browser, store, first)
    _save(browser, store, second)
    assert browser.load(store).values == {"user": "alice", "cart": 3}  # theme lost


def test_merge_keeps_created_at_and_values_after_save() -> None:
    """S-10.20: created_at stays the record's; the saving session ends with the merged values."""
    clock = ManualClock(1_700_000_000)
    store = MemoryStore(HASH, BLOCK, clock=clock)
    browser = Browser()
    browser.visit(store, a=1)
    created = browser.load(store).created_at
    first, second = _open(browser, store), _open(browser, store)
    clock.advance(30)
    first[1]["b"] = 2
    _save(browser, store, first)
    second[1]["c"] = 3
    _save(browser, store, second)
    assert dict(second[1].values) == {"a": 1, "b": 2, "c": 3}
    assert not second[1].modified
    assert browser.load(store).created_at == created
    assert second[1].created_at == created


class _MeddlingBackend(_NoSwapBackend):
    """A correct backend with ``swap``, where another request saves just before every swap."""

    def __init__(self) -> None:
        super().__init__()
        self.meddles = 0
        self.other_record: Callable[[int], str] = str

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        self.meddles += 1
        self.update(session_id, self.other_record(self.meddles), expires_at, ttl)
        with self.lock:
            record = self.records.get(session_id)
            if record is None or record[0] != expected:
                return False
            self.records[session_id] = (data, expires_at)
            return True


def test_merge_gives_up_with_store_error_after_bounded_retries() -> None:
    """S-10.20: a record that changes under every attempt ends in StoreError, nothing written."""
    backend = _MeddlingBackend()
    store = ServerSideStore(backend, HASH, BLOCK)
    backend.other_record = lambda n: encode_multi("app", {"n": n}, store.codecs)
    browser = Browser()
    browser.visit(store, n=0)  # a new session: created, no swap
    held = _open(browser, store)
    held[1]["mine"] = 1
    response = RecordingResponse()
    with pytest.raises(StoreError, match="changed by other requests"):
        store.save(held[0], response, held[1])
    assert backend.meddles == MERGE_ATTEMPTS
    assert response.set_cookie_headers() == []
    assert browser.load(store).values == {"n": MERGE_ATTEMPTS}


# -- a store that writes stale snapshots fails the clauses ---------------------

_SUITE_RUN = """
from conformance import Capabilities, StoreConformance
from reference_impl import ServerSideStore
from reference_impl.testing import TEST_KEYS
from tests.stores.test_concurrency import _NoSwapBackend

CAPS = {"server_side": True, "regenerate_id": True, "merges_concurrent_saves": True}


class TestSnapshotStore(StoreConformance):
    capabilities = Capabilities.model_validate(CAPS)

    def make_store(self, clock):
        return ServerSideStore(_NoSwapBackend(), *TEST_KEYS, clock=clock)
"""


def test_a_store_writing_stale_snapshots_fails_the_clauses(tmp_path: Path) -> None:
    """S-10.20, S-10.21: declaring merges over a last-writer-wins backend is caught by name."""
    module = tmp_path / "test_snapshot_store.py"
    module.write_text(textwrap.dedent(_SUITE_RUN))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(module), "-q", "-p", "no:cacheprovider",
         "-k", "s10_20 or s10_21", "-o", "addopts=", "--tb=no", "-rf"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
        env={**os.environ, "COLUMNS": "500"},
    )  # fmt: skip
    failed = {
        line.split("::")[-1].split()[0]
        for line in run.stdout.splitlines()
        if line.startswith("FAILED")
    }
    assert failed == {
        "test_s10_20_interleaved_saves_of_different_keys_both_land",
        "test_s10_20_a_deleted_key_stays_deleted",
        "test_s10_21_threads_writing_their_own_keys_lose_nothing",
        "test_s10_21_interleaved_requests_state_machine",
    }, run.stdout[-3000:]


# -- 8 processes on one filesystem session --------------------------------------


def _process_writer(directory: str, cookie: str, worker: int, writes: int) -> None:
    store = FilesystemStore(directory, HASH, BLOCK)
    for write in range(writes):
        request = SimpleRequest(f"app={cookie}")
        session = store.new(request, "app")
        done = session.get(f"p{worker}")
        session[f"p{worker}"] = [*(done if isinstance(done, list) else []), write]
        store.save(request, RecordingResponse(), session)


def test_eight_processes_writing_their_own_keys_lose_nothing(tmp_path: Path) -> None:
    """S-10.21: 8 processes x 25 saves of their own keys of one filesystem session all land."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    browser.visit(store, start=True)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_process_writer, args=(str(tmp_path), browser.cookie(), n, 25))
        for n in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    assert [w.exitcode for w in workers] == [0] * 8
    stored = browser.load(store).values
    assert {n: stored.get(f"p{n}") for n in range(8)} == {n: list(range(25)) for n in range(8)}


# -- regenerate_id grace period (S-10.22) ---------------------------------------


def _login(browser: Browser, store: MemoryStore) -> Session:
    request, session = _open(browser, store)
    session["user"] = "alice"
    session.regenerate_id()
    _save(browser, store, (request, session))
    return session


def _tab_of(browser: Browser) -> Browser:
    """Another tab of ``browser``: the cookies it holds now, kept from here on."""
    return copy.deepcopy(browser)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000)


@pytest.fixture
def graced(clock: ManualClock) -> MemoryStore:
    store = MemoryStore(HASH, BLOCK, clock=clock)
    store.regenerate_grace = 5
    return store


def test_s10_22_in_flight_requests_read_the_new_session(
    graced: MemoryStore, clock: ManualClock
) -> None:
    """S-10.22: within the grace period the old ID reads the new session, and only reads."""
    browser = Browser()
    browser.visit(graced, cart=1)
    old_cookie = browser.cookie()
    old_tab = _tab_of(browser)
    in_flight = _open(old_tab, graced)  # loaded before the login saved
    new = _login(browser, graced)
    assert browser.cookie() != old_cookie
    late = _open(old_tab, graced)  # the old cookie, after the login
    assert dict(late[1].values) == {"cart": 1, "user": "alice"}
    assert late[1].id != new.id and not late[1].is_new  # the new ID is not revealed
    for held in (in_flight, late):
        held[1]["hijack"] = True
        response = RecordingResponse()
        with pytest.raises(SessionInterruptedError):
            graced.save(held[0], response, held[1])
        assert response.set_cookie_headers() == []
    assert "hijack" not in browser.load(graced).values
    clock.advance(6)
    expired = old_tab.load(graced)
    assert expired.is_new and expired.load_error is not None
    assert browser.load(graced).values == {"cart": 1, "user": "alice"}


def test_s10_22_zero_grace_is_todays_behaviour(clock: ManualClock) -> None:
    """S-10.22, S-10.7: without a grace period the old ID loads nothing at once."""
    store = MemoryStore(HASH, BLOCK, clock=clock)
    browser = Browser()
    browser.visit(store, cart=1)
    old_tab = _tab_of(browser)
    _login(browser, store)
    assert old_tab.load(store).is_new


def test_s10_22_logout_through_the_old_id_ends_the_new_session(graced: MemoryStore) -> None:
    """S-10.22: a logout sent with the old cookie during the grace period logs out for good."""
    browser = Browser()
    browser.visit(graced, cart=1)
    old_tab = _tab_of(browser)
    _login(browser, graced)
    request, session = _open(old_tab, graced)
    session.options = session.options.replace(max_age=-1)
    _save(old_tab, graced, (request, session))
    assert browser.load(graced).is_new
    assert len(graced) == 0


def test_s10_22_claim_first_with_grace(graced: MemoryStore) -> None:
    """S-10.22, S-10.5: a logout between load and regenerate wins; of two regenerations one does."""
    browser = Browser()
    browser.visit(graced, cart=1)
    racing = _open(browser, graced), _open(browser, graced)
    for held in racing:
        held[1]["user"] = "alice"
        held[1].regenerate_id()
    _save(browser, graced, racing[0])
    with pytest.raises(SessionInterruptedError):
        graced.save(racing[1][0], RecordingResponse(), racing[1][1])
    assert len(graced) == 2  # the new session and the forward; the loser left nothing
    stale = _open(browser, graced)
    logout = _open(browser, graced)
    logout[1].options = logout[1].options.replace(max_age=-1)
    _save(browser, graced, logout)
    stale[1].regenerate_id()
    with pytest.raises(SessionInterruptedError):
        graced.save(stale[0], RecordingResponse(), stale[1])
    assert len(graced) == 1  # only the forward of the first regeneration, expiring


def test_s10_22_interleaved_saves_around_a_regeneration(graced: MemoryStore) -> None:
    """S-10.22: a save that landed between load and regeneration does not block the claim.

    The regenerating request writes its own view of the values to the new
    ID, as without a grace period (S-10.20 documents it).
    """
    browser = Browser()
    browser.visit(graced, cart=1)
    login = _open(browser, graced)
    other = _open(browser, graced)
    other[1]["cart"] = 2
    _save(browser, graced, other)  # the old record changed after the login request loaded it
    login[1]["user"] = "alice"
    login[1].regenerate_id()
    _save(browser, graced, login)
    assert browser.load(graced).values == {"cart": 1, "user": "alice"}


def test_s10_22_option_is_checked() -> None:
    """S-10.22: out-of-range values, cookie stores and swapless backends are refused by name."""
    store = MemoryStore(HASH, BLOCK)
    for bad in (-1, 61, 1.5, True):
        with pytest.raises(ConfigurationError, match="regenerate_grace"):
            store.regenerate_grace = bad  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="swap"):
        CookieStore(HASH, BLOCK).regenerate_grace = 5
    with pytest.raises(ConfigurationError, match="swap"):
        ServerSideStore(_NoSwapBackend(), HASH, BLOCK, regenerate_grace=5)
    assert (
        ServerSideStore(MemoryStore(HASH).backend, HASH, regenerate_grace=3).regenerate_grace == 3
    )


def test_s10_22_async_twin_has_the_grace_period(clock: ManualClock) -> None:
    """S-10.22 on AsyncMemoryStore: the same plans, awaited."""

    async def main() -> None:
        store = AsyncMemoryStore(HASH, BLOCK, clock=clock)
        store.regenerate_grace = 5
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = await store.new(request, "app")
        session["cart"] = 1
        await session.asave(request, response)
        browser.receive(response)
        old_tab = _tab_of(browser)
        request, response = browser.request(), RecordingResponse()
        login = await store.new(request, "app")
        login["user"] = "alice"
        login.regenerate_id()
        await login.asave(request, response)
        browser.receive(response)
        late_request = old_tab.request()
        late = await store.new(late_request, "app")
        assert dict(late.values) == {"cart": 1, "user": "alice"}
        with pytest.raises(SessionInterruptedError):
            await late.asave(late_request, RecordingResponse())
        clock.advance(6)
        assert (await store.new(old_tab.request(), "app")).is_new

    asyncio.run(main())


def test_typed_session_puts_merge_with_other_keys() -> None:
    """S-10.20: TypedSession.put sets its fields key by key, so other requests' keys survive."""
    from pydantic import BaseModel

    from spec.typed import TypedSession

    class Cart(BaseModel):
        items: int = 0

    store = MemoryStore(HASH, BLOCK)
    carts = TypedSession(store, "app", Cart)
    browser = Browser()
    browser.visit(store, items=0)
    typed_request = browser.request()
    loaded = store.get(typed_request, "app")  # loaded before the other request saves
    plain = _open(browser, store)
    plain[1]["theme"] = "dark"
    _save(browser, store, plain)
    carts.put(typed_request, Cart(items=2))
    _save(browser, store, (typed_request, loaded))
    assert dict(browser.load(store).values) == {"items": 2, "theme": "dark"}


def test_tracked_dict_assign_records_only_differences() -> None:
    """S-10.20: what Django and Starlette copy back records only keys that changed."""
    cart = [1]
    values: TrackedDict[str, object] = TrackedDict({"a": 1, "b": "x", "gone": 2, "cart": cart})
    values.assign({"a": 1, "b": "y", "new": 3, "cart": cart, "flag": True})
    assert values.set_keys == {"b", "new", "cart", "flag"}  # a list may have changed in place
    assert values.deleted_keys == {"gone"}
    assert not values.replaced
    values.reset()
    values.assign({"a": True, "b": "y", "new": 3, "cart": cart, "flag": True})
    assert values.set_keys == {"a", "cart"}  # 1 -> True is a change, though 1 == True


_VALUES = st.one_of(
    st.integers(-2, 2),
    st.booleans(),
    st.sampled_from(["x", "y"]),
    st.lists(st.integers(0, 1), max_size=1),
)
_MAPS = st.dictionaries(st.sampled_from("abcde"), _VALUES, max_size=5)


@settings(max_examples=200, deadline=None)
@given(old=_MAPS, new=_MAPS)
def test_tracked_dict_assign_equals_its_definition(
    old: dict[str, object], new: dict[str, object]
) -> None:
    """S-10.20: assign ends equal to ``new``, recording changed, mutable and dropped keys."""
    values: TrackedDict[str, object] = TrackedDict(old)
    values.assign(new)
    assert dict(values) == new
    assert values.deleted_keys == old.keys() - new.keys()
    assert values.set_keys == {
        key
        for key, value in new.items()
        if isinstance(value, list)
        or key not in old
        or type(old[key]) is not type(value)
        or old[key] != value
    }
    assert values.changed == bool(values.set_keys or values.deleted_keys)
