"""CachedStore: Memcached in front of SQLite and of PostgreSQL, Redis in front of SQLite.

On real servers, the whole conformance suite runs over each pair (and the
async twins over SQLite), with ``raw_record`` looking at both sides, so a
copy left in the cache after a delete fails S-10.5/S-10.7 just as a row
left in the table would. Then the cache tier's own promises: a logout through one store is
seen at once by another sharing the cache, a load racing a logout cannot
put the session back into the cache, and a cache outage is survived by
loads but fails writes closed.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("pymemcache", reason="the 'memcached' extra is not installed")
    pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")
    pytest.importorskip("redis", reason="the 'redis' extra (redis-py) is not installed")

import redis
from pymemcache.client.base import Client

from conformance import Browser, Capabilities, StoreConformance
from reference_impl import testing
from reference_impl._store.plan import Record
from reference_impl.aio.cached import AsyncCachedStore
from reference_impl.aio.memcached import AsyncMemcachedStore
from reference_impl.aio.sql import AsyncSQLStore, create_async_engine
from reference_impl.cached import CachedStore
from reference_impl.memcached import MemcachedStore
from reference_impl.redis import RedisStore
from reference_impl.sql import SQLStore, create_engine
from spec import ManualClock
from spec.errors import ConfigurationError, SessionNotFoundError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _memcached_server, _postgres_server, _redis_server
from tests.backends._memcached_server import MemcachedServer
from tests.stores._support import BLOCK, HASH

memcached_server = _memcached_server.memcached_server
postgres_url = _postgres_server.postgres_url
redis_url = _redis_server.redis_url

#: Every server-side capability; the primary (SQL) brings purge_expired.
CAPABILITIES: dict[str, object] = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,
    "max_value_bytes": 4096,
}


@pytest.fixture(scope="session")
def shared_clients(memcached_server: MemcachedServer) -> Iterator[dict[str, Any]]:
    """One pool for every Memcached store the suite makes (it makes many, closes none)."""
    owner = MemcachedStore(HASH, servers=[memcached_server.address])
    try:
        yield owner._memcached.clients
    finally:
        owner.close()


def _memcached(
    server: MemcachedServer, clients: dict[str, Any] | None, prefix: str | None = None
) -> MemcachedStore:
    store = MemcachedStore(
        HASH, servers=[server.address], prefix=prefix or f"cached-test:{uuid.uuid4().hex[:12]}:"
    )
    if clients is not None:
        store._memcached.clients = clients
    return store


def _sqlite(tmp: Path, clock: ManualClock) -> SQLStore:
    engine = create_engine(f"sqlite:///{tmp}/sessions-{uuid.uuid4().hex[:8]}.db", pooled=False)
    return SQLStore(HASH, engine=engine, table="sessions", clock=clock)


class _CachedConformance(StoreConformance[CachedStore]):
    capabilities = Capabilities.model_validate(CAPABILITIES)
    #: Each cached store's two halves, for break_backend.
    parts: dict[int, tuple[SQLStore, MemcachedStore]]

    def primary(self, clock: ManualClock) -> SQLStore:
        raise NotImplementedError

    def make_store(self, clock: ManualClock, **lifetimes: int) -> CachedStore:
        sql, cache = self.primary(clock), _memcached(self.server, self.shared)
        store = CachedStore(sql.backend, cache.backend, HASH, BLOCK, clock=clock, **lifetimes)
        self.parts[id(store)] = (sql, cache)
        return store

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> CachedStore:
        return self.make_store(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> CachedStore:
        base: CachedStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: CachedStore, session_id: str) -> object | None:
        """The primary's record, else a copy left in the cache (which must not be there)."""
        return store.primary.read(session_id) or store.cache.read(session_id)

    def break_backend(self, store: CachedStore) -> None:
        sql, cache = self.parts[id(store)]
        testing.sql.break_backend(sql)
        testing.memcached.break_backend(cache)


class TestCachedOverSQLiteConformance(_CachedConformance):
    """Memcached in front of SQLite: the whole suite."""

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _servers(
        cls,
        memcached_server: MemcachedServer,
        shared_clients: dict[str, Any],
        tmp_path_factory: pytest.TempPathFactory,
    ) -> None:
        # Class scope, set on the class: the suite's own fixtures build a probe store first.
        cls.server, cls.shared, cls.parts = memcached_server, shared_clients, {}
        cls.tmp = tmp_path_factory.mktemp("cached-sqlite")

    def primary(self, clock: ManualClock) -> SQLStore:
        return _sqlite(self.tmp, clock)


class TestCachedOverPostgresConformance(_CachedConformance):
    """Memcached in front of PostgreSQL: the whole suite, a new table per store."""

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _servers(
        cls,
        memcached_server: MemcachedServer,
        shared_clients: dict[str, Any],
        postgres_url: str,
    ) -> None:
        cls.server, cls.shared, cls.url, cls.parts = (
            memcached_server,
            shared_clients,
            postgres_url,
            {},
        )

    def primary(self, clock: ManualClock) -> SQLStore:
        table = f"sessions_{uuid.uuid4().hex[:16]}"
        engine = testing._shared_engine(self.url, table)  # tables dropped at exit
        return SQLStore(HASH, engine=engine, table=table, clock=clock)


class TestRedisCacheOverSQLiteConformance(StoreConformance[CachedStore]):
    """Redis as the cache in front of SQLite: the same suite (the issue's other pairing)."""

    capabilities = Capabilities.model_validate(CAPABILITIES)
    parts: dict[int, tuple[SQLStore, RedisStore]]

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _servers(cls, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
        cls.client = redis.Redis.from_url(redis_url, socket_timeout=5)
        cls.tmp, cls.parts = tmp_path_factory.mktemp("cached-redis"), {}
        cls.prefix = f"cached-test:{uuid.uuid4().hex[:12]}:"
        yield
        for key in cls.client.scan_iter(match=cls.prefix + "*", count=1000):
            cls.client.delete(key)
        cls.client.close()

    def make_store(self, clock: ManualClock, **lifetimes: int) -> CachedStore:
        sql = _sqlite(self.tmp, clock)
        cache = RedisStore(HASH, client=self.client, prefix=f"{self.prefix}{uuid.uuid4().hex}:")
        store = CachedStore(sql.backend, cache.backend, HASH, BLOCK, clock=clock, **lifetimes)
        self.parts[id(store)] = (sql, cache)
        return store

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> CachedStore:
        return self.make_store(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> CachedStore:
        base: CachedStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: CachedStore, session_id: str) -> object | None:
        return store.primary.read(session_id) or store.cache.read(session_id)

    def break_backend(self, store: CachedStore) -> None:
        sql, cache = self.parts[id(store)]
        testing.sql.break_backend(sql)
        testing.redis.break_backend(cache)


class TestAsyncCachedOverSQLiteConformance(StoreConformance[Any]):
    """AsyncMemcachedStore in front of AsyncSQLStore (aiosqlite)."""

    capabilities = Capabilities.model_validate(CAPABILITIES).model_copy(
        update={"id_sample_size": 2000}  # as tests/aio: every draw crosses to the loop and back
    )

    parts: dict[int, tuple[AsyncSQLStore, AsyncMemcachedStore]]

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _servers(
        cls,
        memcached_server: MemcachedServer,
        shared_clients: dict[str, Any],
        tmp_path_factory: pytest.TempPathFactory,
    ) -> None:
        cls.server, cls.shared, cls.parts = memcached_server, shared_clients, {}
        cls.tmp = tmp_path_factory.mktemp("cached-async-sqlite")

    def make_store(self, clock: ManualClock, **lifetimes: int) -> AsyncCachedStore:
        engine = create_async_engine(
            f"sqlite:///{self.tmp}/sessions-{uuid.uuid4().hex[:8]}.db", pooled=False
        )
        sql = AsyncSQLStore(HASH, engine=engine, table="sessions", clock=clock)
        cache = AsyncMemcachedStore(
            HASH, servers=[self.server.address], prefix=f"cached-test:{uuid.uuid4().hex[:12]}:"
        )
        cache._memcached.clients = self.shared
        store = AsyncCachedStore(sql.backend, cache.backend, HASH, BLOCK, clock=clock, **lifetimes)
        self.parts[id(store)] = (sql, cache)
        return store

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> AsyncCachedStore:
        return self.make_store(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> AsyncCachedStore:
        base: AsyncCachedStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    async def raw_record(self, store: AsyncCachedStore, session_id: str) -> object | None:
        return await store.primary.read(session_id) or await store.cache.read(session_id)

    def break_backend(self, store: AsyncCachedStore) -> None:
        sql, cache = self.parts[id(store)]
        testing.async_sql.break_backend(sql)
        testing.async_memcached.break_backend(cache)


# -- the cache tier's own promises -------------------------------------------------------


class _Pair:
    """Two application servers: each its own SQLStore and MemcachedStore objects, on one
    SQLite file and one Memcached server (same prefix), each with its CachedStore."""

    def __init__(self, tmp: Path, server: MemcachedServer, clock: ManualClock) -> None:
        url = f"sqlite:///{tmp}/shared.db"
        prefix = f"cached-pair:{uuid.uuid4().hex[:12]}:"
        self.sql = [SQLStore(HASH, url=url, clock=clock) for _ in range(2)]
        self.memcached = [_memcached(server, None, prefix) for _ in range(2)]
        self.stores = [
            CachedStore(s.backend, m.backend, HASH, BLOCK, clock=clock)
            for s, m in zip(self.sql, self.memcached, strict=True)
        ]
        self.raw = Client(("127.0.0.1", server.port), default_noreply=False, timeout=5)

    def cached(self, session_id: str) -> object | None:
        return self.raw.get(self.memcached[0].key_for(session_id))

    def close(self) -> None:
        for sql in self.sql:
            sql.close()
        for memcached in self.memcached:
            memcached.close()
        self.raw.close()


@pytest.fixture
def pair(tmp_path: Path, memcached_server: MemcachedServer) -> Iterator[_Pair]:
    made = _Pair(tmp_path, memcached_server, ManualClock())
    try:
        yield made
    finally:
        made.close()


def _logout(store: CachedStore, browser: Browser) -> None:
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=-1)
    session.save(request, response)


def test_a_logout_through_one_store_is_seen_by_another_sharing_the_cache(pair: _Pair) -> None:
    one, two = pair.stores
    browser = Browser()
    session = browser.visit(one, user="alice")
    assert pair.cached(session.id) is not None  # written through on create
    assert browser.load(two).values == {"user": "alice"}  # served from the cache
    _logout(one, browser)  # the browser keeps its cookie, as a stolen copy would
    assert pair.cached(session.id) is None
    assert pair.sql[1].backend.read(session.id) is None
    loaded = two.get(SimpleRequest(f"app={browser.cookie()}"), "app")
    assert isinstance(loaded.load_error, SessionNotFoundError)


def test_an_update_through_one_store_is_seen_by_another(pair: _Pair) -> None:
    one, two = pair.stores
    browser = Browser()
    browser.visit(one, user="alice")
    assert browser.load(two).values == {"user": "alice"}
    request, response = browser.request(), RecordingResponse()
    session = one.get(request, "app")
    session.values["role"] = "reader"  # a privilege change
    session.save(request, response)
    assert browser.load(two).values == {"user": "alice", "role": "reader"}


class _ConcurrentLogout:
    """The primary backend of the loading store: right after its first read, another
    server logs the session out (the interleaving a real race gives, made deterministic)."""

    def __init__(self, backend: Any, logout: Callable[[], None]) -> None:
        self.backend, self.logout, self.reads = backend, logout, 0

    def read(self, session_id: str) -> Record | None:
        record = self.backend.read(session_id)
        self.reads += 1
        if self.reads == 1:
            self.logout()
        return record

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def test_a_load_racing_a_logout_does_not_put_the_session_back_into_the_cache(
    pair: _Pair,
) -> None:
    """Load on server two: cache miss, primary read (the record), then server one logs out
    (primary delete, cache invalidation: nothing cached yet), then two fills the cache with
    the record it read. Without the re-check the cache would now serve the logged-out
    session until cache_ttl; with it, two sees the record is gone and removes its copy."""
    one = pair.stores[0]
    browser = Browser()
    session = browser.visit(one, user="alice")
    pair.memcached[0].backend.delete(session.id)  # evicted: the next load misses the cache
    racing = _ConcurrentLogout(pair.sql[1].backend, lambda: _logout(one, browser))
    two = CachedStore(racing, pair.memcached[1].backend, HASH, BLOCK, clock=one.clock)
    loaded = browser.load(two)
    assert isinstance(loaded.load_error, SessionNotFoundError)
    assert pair.cached(session.id) is None
    assert isinstance(browser.load(pair.stores[1]).load_error, SessionNotFoundError)
    assert racing.reads == 2  # the re-check read the primary again


def test_a_cache_outage_is_survived_by_loads_and_fails_writes_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = MemcachedServer(tmp_path / "cache").start()
    clock = ManualClock()
    sql = SQLStore(HASH, url=f"sqlite:///{tmp_path}/s.db", clock=clock)
    cache = MemcachedStore(HASH, servers=[server.address], timeout=0.5, connect_timeout=0.5)
    store = CachedStore(sql.backend, cache.backend, HASH, BLOCK, clock=clock)
    try:
        browser = Browser()
        browser.visit(store, user="alice")
        server.stop()
        with caplog.at_level(logging.WARNING, logger="sessionspec.cache"):
            assert browser.load(store).values == {"user": "alice"}  # from the primary
        assert any("unusable on read" in r.getMessage() for r in caplog.records)
        assert Browser().visit(store, user="bob").id  # new sessions: primary only
        request, response = browser.request(), RecordingResponse()
        session = store.get(request, "app")
        session.values["user"] = "mallory"
        with pytest.raises(StoreError) as info:
            session.save(request, response)
        assert info.value.action == "invalidate a cached session"
        assert info.value.backend == "memcached"
        assert response.set_cookie_headers() == []
        server.start()  # back, empty: loads fill it again
        assert browser.load(store).values == {"user": "mallory"}  # the primary had the write
        assert browser.load(store).values == {"user": "mallory"}
    finally:
        sql.close()
        cache.close()
        server.stop()


def test_a_corrupt_cached_copy_is_dropped_and_the_primary_answers(
    pair: _Pair, caplog: pytest.LogCaptureFixture
) -> None:
    one = pair.stores[0]
    browser = Browser()
    session = browser.visit(one, user="alice")
    pair.raw.set(pair.memcached[0].key_for(session.id), b"not a record")
    with caplog.at_level(logging.WARNING, logger="sessionspec.cache"):
        assert browser.load(one).values == {"user": "alice"}
    assert pair.cached(session.id) is None
    assert caplog.records


def test_cached_copies_live_at_most_cache_ttl(pair: _Pair) -> None:
    sql, memcached = pair.sql[0], pair.memcached[0]
    store = CachedStore(sql.backend, memcached.backend, HASH, BLOCK, cache_ttl=90)
    session = Browser().visit(store, user="alice")
    reply = pair.raw.raw_command(f"mg {memcached.key_for(session.id)} t", b"\r\n").decode()
    assert reply.startswith("HD t") and 85 <= int(reply.split("t", 1)[1]) <= 90


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_cache_ttl_must_be_positive_seconds(pair: _Pair, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="cache_ttl"):
        CachedStore(pair.sql[0].backend, pair.memcached[0].backend, HASH, cache_ttl=bad)


def test_idle_timeout_works_when_the_primary_can_swap(pair: _Pair) -> None:
    store = CachedStore(
        pair.sql[0].backend, pair.memcached[0].backend, HASH, BLOCK, idle_timeout=600
    )
    browser = Browser()
    browser.visit(store, user="alice")
    assert browser.load(store).values == {"user": "alice"}
