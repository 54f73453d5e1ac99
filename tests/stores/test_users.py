"""Sessions know their user: the core's index upkeep and the local stores (S-10.11 to S-10.13).

The contract runs through the conformance suite on every store
(``conformance/_suite_users.py``); these tests pin what the suite cannot
see: the filesystem index surviving a restart, a third-party backend with
and without the ``UserIndexBackend`` extension, failing closed when the index
cannot be written, and the memory index staying bounded.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conformance import Browser
from conformance._suite_users import login, logout
from reference_impl import ServerSideStore
from reference_impl._store.backend import InlineBackend, ThreadedBackend, UserIndexBackend
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl._store.meta import USER_ID_KEY
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from reference_impl.securecookie import decode_multi
from spec import ManualClock
from spec.errors import ConfigurationError, StoreError
from spec.http import RecordingResponse
from tests.stores._support import BLOCK, HASH


class DictBackend:
    """The four record primitives over a dict: a third-party backend with no user index."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, float | None]] = {}

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        return self.records.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if session_id in self.records:
            return False
        self.records[session_id] = (data, expires_at)
        return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if session_id not in self.records:
            return False
        self.records[session_id] = (data, expires_at)
        return True

    def delete(self, session_id: str) -> bool:
        return self.records.pop(session_id, None) is not None


class IndexedDictBackend(DictBackend):
    """The same, plus the three methods of ``UserIndexBackend``: all a third party adds."""

    def __init__(self) -> None:
        super().__init__()
        self.users: dict[str, dict[str, float]] = {}
        self.fail_index = False

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        if self.fail_index:
            raise StoreError("index down", action="index a user")
        until = float("inf") if expires_at is None else expires_at
        entries = self.users.setdefault(user_id, {})
        entries[session_id] = max(until, entries.get(session_id, until))

    def unindex_user(self, session_id: str, user_id: str) -> None:
        self.users.get(user_id, {}).pop(session_id, None)

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        return [sid for sid, until in self.users.get(user_id, {}).items() if until >= now]


def test_the_extension_is_a_runtime_protocol() -> None:
    """Ensure UserIndexBackend recognises a backend by its three methods (S-10.11)."""
    assert isinstance(IndexedDictBackend(), UserIndexBackend)
    assert not isinstance(DictBackend(), UserIndexBackend)


def test_a_third_party_backend_gets_users_from_three_methods() -> None:
    """Ensure a RecordBackend plus index_user/unindex_user/user_sessions is enough (S-10.12)."""
    backend = IndexedDictBackend()
    store = ServerSideStore(backend, HASH, BLOCK)
    alice, bob = Browser(), Browser()
    first = login(store, alice, "alice")
    login(store, bob, "bob")
    assert store.user_sessions("alice") == [first.id]
    again = login(store, alice, "alice")  # regenerate: the old ID leaves the index
    assert backend.users["alice"] == {again.id: backend.users["alice"][again.id]}
    assert store.revoke_user("alice") == 1
    assert alice.load(store).is_new and bob.load(store).user_id == "bob"


def test_a_backend_without_the_index_says_so_and_still_stores_the_user() -> None:
    """Ensure user_sessions/revoke_user name the missing extension, while user_id is kept in
    the record (S-10.11)."""
    backend = DictBackend()
    store = ServerSideStore(backend, HASH, BLOCK)
    browser = Browser()
    session = login(store, browser, "alice")
    assert browser.load(store).user_id == "alice"
    for call in (lambda: store.user_sessions("alice"), lambda: store.revoke_user("alice")):
        with pytest.raises(ConfigurationError, match="UserIndexBackend"):
            call()
    payload = decode_multi("app", backend.records[session.id][0], store.codecs)
    assert isinstance(payload, dict) and payload[USER_ID_KEY] == "alice"


def test_a_failed_index_write_deletes_the_new_record_and_sets_no_cookie() -> None:
    """Ensure a session that "log out everywhere" could not see is never handed out (S-10.13)."""
    backend = IndexedDictBackend()
    store = ServerSideStore(backend, HASH, BLOCK)
    backend.fail_index = True
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.user_id = "alice"
    with pytest.raises(StoreError, match="index down"):
        session.save(request, response)
    assert backend.records == {}, "the unindexed record must be deleted again"
    assert response.set_cookie_headers() == []


def test_an_update_lists_the_session_before_writing_it() -> None:
    """Ensure the index entry's deadline moves before the record's, so it never lags (S-10.12).

    With the index down, the save fails before the record changes: the
    record keeps the deadline its entry still covers.
    """
    clock = ManualClock()
    backend = IndexedDictBackend()
    store = ServerSideStore(backend, HASH, BLOCK, clock=clock)
    browser = Browser()
    session = login(store, browser, "alice")
    before = backend.records[session.id]
    clock.advance(60)
    backend.fail_index = True
    with pytest.raises(StoreError):
        browser.visit(store, n=1)
    assert backend.records[session.id] == before


def test_revoke_user_refuses_a_bad_keep() -> None:
    """Ensure keep= is a session, an ID or None (S-10.13)."""
    store = MemoryStore(HASH, BLOCK)
    with pytest.raises(ConfigurationError, match="keep"):
        store.revoke_user("alice", keep=42)  # type: ignore[arg-type]


def test_filesystem_index_survives_a_restart(tmp_path: Path) -> None:
    """Ensure a new store on the same directory lists and revokes the old sessions (S-10.12)."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    phone, laptop = Browser(), Browser()
    ids = sorted([login(store, phone, "alice").id, login(store, laptop, "alice").id])
    restarted = FilesystemStore(tmp_path, HASH, BLOCK)
    assert restarted.user_sessions("alice") == ids
    assert restarted.revoke_user("alice") == 2
    assert phone.load(restarted).is_new and laptop.load(restarted).is_new


def test_filesystem_index_file_hides_the_user_and_survives_purge(tmp_path: Path) -> None:
    """Ensure the index is user_<hash> (no user ID in a file name), and purge keeps it
    (S-10.11)."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    session = login(store, Browser(), "alice@example.com")
    index = [name for name in os.listdir(tmp_path) if name.startswith("user_")]
    assert len(index) == 1 and "alice" not in index[0]
    assert store.purge_expired() == 0
    assert store.user_sessions("alice@example.com") == [session.id]


def test_filesystem_logout_empties_the_index(tmp_path: Path) -> None:
    """Ensure the last session leaving a user removes the user's file (S-10.11)."""
    store = FilesystemStore(tmp_path, HASH, BLOCK)
    browser = Browser()
    login(store, browser, "alice")
    logout(store, browser)
    assert [n for n in os.listdir(tmp_path) if n.startswith("user_")] == []


def test_memory_purge_prunes_the_user_index() -> None:
    """Ensure purge_expired drops index entries of expired sessions, so memory stays bounded
    (S-10.11)."""
    clock = ManualClock()
    store = MemoryStore(HASH, BLOCK, clock=clock)
    store.max_age(600)
    for n in range(5):
        login(store, Browser(), f"user{n}")
    clock.advance(601)
    assert store.purge_expired() == 5
    assert store._memory._users == {}


def test_async_stores_over_wrapped_backends() -> None:
    """Ensure InlineBackend and ThreadedBackend pass the extension through (S-10.12, S-10.13)."""

    async def scenario(wrap: type[InlineBackend] | type[ThreadedBackend]) -> None:
        store = AsyncServerSideStore(wrap(IndexedDictBackend()), HASH, BLOCK)
        ids = []
        for user in ("alice", "alice", "bob"):
            browser = Browser()
            request, response = browser.request(), RecordingResponse()
            session = await store.get(request, "app")
            session.user_id = user
            await session.asave(request, response)
            ids.append(session.id)
        assert await store.user_sessions("alice") == sorted(ids[:2])
        assert await store.revoke_user("alice", keep=ids[0]) == 1
        assert await store.user_sessions("alice") == [ids[0]]
        assert await store.user_sessions("bob") == [ids[2]]

    for wrap in (InlineBackend, ThreadedBackend):
        asyncio.run(scenario(wrap))


def test_async_store_without_the_index_says_so() -> None:
    """Ensure the async twin refuses like the sync one (S-10.12)."""
    store = AsyncServerSideStore(InlineBackend(DictBackend()), HASH, BLOCK)
    with pytest.raises(ConfigurationError, match="UserIndexBackend"):
        asyncio.run(store.user_sessions("alice"))


@pytest.mark.parametrize("kind", ["memory", "filesystem", "sqlite"])
def test_a_concurrent_save_does_not_undo_a_user_change(kind: str, tmp_path: Path) -> None:
    """Ensure a merge keeps the stored user_id unless the saving request changed it (S-10.11).

    Request A clears the user (a logout that keeps the cart); request B,
    loaded before, saves a cart change afterwards. B's stale ``user_id``
    must not log the session back in: the user is merged like a value,
    and the index agrees with the record.
    """
    store: ServerSideStore
    if kind == "memory":
        store = MemoryStore(HASH, BLOCK)
    elif kind == "filesystem":
        store = FilesystemStore(tmp_path, HASH, BLOCK)
    else:
        from reference_impl.sql import SQLStore

        store = SQLStore(HASH, BLOCK, url=f"sqlite:///{tmp_path}/users.db")
    browser = Browser()
    session = login(store, browser, "alice")
    request_a, response_a = browser.request(), RecordingResponse()
    request_b, response_b = browser.request(), RecordingResponse()
    a = store.get(request_a, "app")
    b = store.get(request_b, "app")
    a.user_id = None
    a.save(request_a, response_a)
    b.values["cart"] = 3
    b.save(request_b, response_b)
    loaded = browser.load(store)
    assert loaded.values == {"cart": 3}
    assert loaded.user_id is None, "a stale save logged the session back in"
    assert store.user_sessions("alice") == [], f"{session.id} is still listed under alice"


def test_a_touch_moves_the_index_deadline_too() -> None:
    """Ensure a session kept alive by read-only requests (touches) stays listed (S-10.12)."""
    clock = ManualClock()
    store = MemoryStore(HASH, BLOCK, clock=clock, idle_timeout=600)
    browser = Browser()
    session = login(store, browser, "alice")
    for _ in range(4):  # read-only visits, each touching the record
        clock.advance(400)
        request, response = browser.request(), RecordingResponse()
        loaded = store.get(request, "app")
        assert loaded.load_error is None
        assert store.touch(request, response, loaded)
        browser.receive(response)
    assert store.user_sessions("alice") == [session.id]


def test_regenerate_with_a_grace_period_lists_only_the_new_id() -> None:
    """Ensure the forwarding record a grace period leaves is not a listed session (S-10.12)."""
    store = MemoryStore(HASH, BLOCK)
    store.regenerate_grace = 5
    browser = Browser()
    first = login(store, browser, "alice")
    second = login(store, browser, "alice")
    assert second.id != first.id
    assert store.user_sessions("alice") == [second.id]
    assert store.revoke_user("alice") == 1
    assert browser.load(store).is_new


def test_the_users_capability_set_holds_the_three_clauses() -> None:
    """Ensure ``--with users`` requires S-10.11, S-10.12 and S-10.13, each in docs/spec.md."""
    from conformance._levels import CAPABILITY_SETS

    assert CAPABILITY_SETS["users"] == {"S-10.11", "S-10.12", "S-10.13"}
    spec = (Path(__file__).parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
    for clause in CAPABILITY_SETS["users"]:
        assert f"**{clause}**" in spec


def test_filesystem_saves_rewrite_the_user_file_once_per_sixteenth_of_the_lifetime(
    tmp_path: Path,
) -> None:
    """Ensure most saves of a logged-in session cost no index write (no fsync), while the
    entry still covers every new deadline and the file's own age decides liveness (S-10.12)."""
    clock = ManualClock(start=1_700_000_050.0)  # half-way through a 100 s bucket
    store = FilesystemStore(tmp_path, HASH, BLOCK, clock=clock)
    store.max_age(1600)  # entries are rounded up to 100 s
    browser = Browser()
    session = login(store, browser, "alice")
    (index,) = tmp_path.glob("user_*")
    inodes = {index.stat().st_ino}
    for n in range(20):  # 200 s of saves, 10 s apart
        clock.advance(10)
        browser.visit(store, n=n)
        inodes.add(index.stat().st_ino)
    assert len(inodes) <= 3, f"the user file was rewritten {len(inodes) - 1} times in 20 saves"
    clock.advance(1600)  # the lifetime after the last save: still live
    assert store.user_sessions("alice") == [session.id]
    clock.advance(1)  # the entry (rounded up) still lists it; the file's age decides
    assert store.user_sessions("alice") == []


def test_revoke_counts_only_live_sessions_but_deletes_every_listed_one(tmp_path: Path) -> None:
    """Ensure an expired, unpurged session file still listed is removed by a revoke but not
    counted as a session ended (S-10.13)."""
    clock = ManualClock(start=1_700_000_050.0)
    store = FilesystemStore(tmp_path, HASH, BLOCK, clock=clock)
    store.max_age(1600)  # the entry says 1_700_001_700, the file expires after ..._650
    login(store, Browser(), "alice")
    clock.advance(1601)
    live = login(store, Browser(), "alice")
    assert store.user_sessions("alice") == [live.id]
    assert len(list(tmp_path.glob("session_*"))) == 2
    assert store.revoke_user("alice") == 1
    assert list(tmp_path.glob("session_*")) == []
