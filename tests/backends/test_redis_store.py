"""RedisStore against a real redis-server: the whole conformance suite, outages, a cluster.

The server is ``$SESSIONSPEC_REDIS_URL`` if set, otherwise a throwaway
``redis-server`` started here (skipped without the binary, failed in CI).
Outage and cluster tests always start private servers of their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

try:
    import redis
    from redis.cluster import RedisCluster
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "redis-py is not installed (pip install 'sessionspec[redis]')", allow_module_level=True
    )

from conformance import Browser, Capabilities, StoreConformance
from reference_impl import testing
from reference_impl._store import server_side as _server_side
from reference_impl.aio.redis import AsyncRedisStore
from reference_impl.memory import MemoryStore
from reference_impl.redis import RedisStore
from reference_impl.securecookie import SecureCookie
from spec import ManualClock, Session
from spec.errors import (
    ConfigurationError,
    DeserializeError,
    ExpiredTimestampError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _redis_server
from tests.backends._hang import bounded, unreachable_port
from tests.backends._redis_server import RedisCluster3, RedisServer
from tests.stores._support import BLOCK, HASH

redis_url = _redis_server.redis_url  # the shared real-server fixture

#: Every key this test run writes starts with this, so a shared server can be cleaned.
RUN_PREFIX = f"sessionspec-test:{uuid.uuid4().hex[:12]}:"
_stores = count()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        yield client
    finally:
        for key in client.scan_iter(match=RUN_PREFIX + "*", count=1000):
            client.delete(key)
        client.close()


def _prefix() -> str:
    return f"{RUN_PREFIX}{next(_stores)}:"


class TestRedisStoreConformance(StoreConformance[RedisStore]):
    """The full suite, stateful machine included, against a real server."""

    capabilities = Capabilities.model_validate(testing.redis.capabilities)

    @pytest.fixture(autouse=True)
    def _connect(self, redis_client: redis.Redis) -> None:
        self.client = redis_client

    def make_store(self, clock: ManualClock) -> RedisStore:
        return RedisStore(HASH, BLOCK, client=self.client, prefix=_prefix(), clock=clock)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> RedisStore:
        return RedisStore(
            HASH,
            BLOCK,
            client=self.client,
            prefix=_prefix(),
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> RedisStore:
        base: RedisStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: RedisStore, session_id: str) -> object | None:
        return self.client.get(store.key_for(session_id))

    def break_backend(self, store: RedisStore) -> None:
        testing.redis.break_backend(store)


# -- the record in Redis ---------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(redis_client: redis.Redis, clock: ManualClock) -> RedisStore:
    return RedisStore(HASH, BLOCK, client=redis_client, prefix=_prefix(), clock=clock)


def test_key_is_prefix_and_id_value_is_deadline_and_record(
    store: RedisStore, redis_client: redis.Redis, clock: ManualClock
) -> None:
    session = Browser().visit(store, user="alice")
    assert redis_client.keys(store.prefix + "*") == [f"{store.prefix}{session.id}".encode()]
    raw = redis_client.get(store.key_for(session.id))
    assert isinstance(raw, bytes)
    deadline, _, record = raw.partition(b"|")
    assert float(deadline) == clock() + 30 * 86400
    assert SecureCookie(HASH, BLOCK, clock=clock).decode("app", record.decode()) == {
        "user": "alice",
        "_sessionspec.created_at": int(clock()),  # kept with the record (S-9.22)
    }


def test_ttl_follows_the_session_lifetime(store: RedisStore, redis_client: redis.Redis) -> None:
    browser = Browser()
    key = store.key_for(browser.visit(store, user="alice").id)
    assert 30 * 86400 - 5 <= redis_client.ttl(key) <= 30 * 86400
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=120)
    session.save(request, response)
    assert 115 <= redis_client.ttl(key) <= 120
    store.max_age(0)  # server-side expiry off: no TTL either
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=0)
    session.save(request, response)
    assert redis_client.ttl(key) == -1


def test_expiry_is_decided_by_the_store_clock_not_the_ttl(
    store: RedisStore, clock: ManualClock
) -> None:
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=60)
    session.values["user"] = "alice"
    session.save(request, response)
    browser.receive(response)
    clock.advance(61)  # the key is still in Redis (its TTL runs on real time)
    assert store.backend.read(session.id) is not None
    assert isinstance(browser.load(store).load_error, ExpiredTimestampError)


@pytest.mark.parametrize(
    "corrupt",
    [
        b"soon|x",
        b"nan|x",
        b"inf|x",
        b"\xff|x",
        b"no-envelope",
        b"\x0e\xff\x81\x04\x01\x02\xff\x82\x00\x01\x10\x01\x10\x00",
    ],  # redistore's raw gob
)
def test_corrupt_record_is_a_logged_decode_error(
    store: RedisStore,
    redis_client: redis.Redis,
    corrupt: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    browser = Browser()
    session_id = browser.visit(store, user="alice").id
    redis_client.set(store.key_for(session_id), corrupt)
    with caplog.at_level(logging.WARNING, logger="sessionspec.security"):
        loaded = browser.load(store)
    assert isinstance(loaded.load_error, DeserializeError)
    assert (loaded.is_new, loaded.id) == (True, "")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_wrong_type_key_is_a_store_error(store: RedisStore, redis_client: redis.Redis) -> None:
    browser = Browser()
    key = store.key_for(browser.visit(store, user="alice").id)
    redis_client.delete(key)
    redis_client.hset(key, "x", "1")  # another application writes under our prefix
    with pytest.raises(StoreError, match="WRONGTYPE") as info:
        browser.load(store)
    assert (info.value.backend, info.value.action) == ("redis", "read a session (GET)")
    assert str(info.value).startswith(
        "redis: cannot read a session (GET): ResponseError: WRONGTYPE"
    )


def test_deleted_by_another_client_is_not_resurrected(
    store: RedisStore, redis_client: redis.Redis
) -> None:
    browser = Browser()
    browser.visit(store, user="alice")
    request, response = browser.request(), RecordingResponse()
    held = store.get(request, "app")
    redis_client.delete(store.key_for(held.id))  # logout handled by another server
    held.values["user"] = "mallory"
    with pytest.raises(SessionInterruptedError):
        held.save(request, response)
    assert response.set_cookie_headers() == []
    assert redis_client.exists(store.key_for(held.id)) == 0


def test_scripts_run_by_sha_and_survive_a_flushed_script_cache(
    store: RedisStore, redis_client: redis.Redis, redis_url: str
) -> None:
    """EVALSHA names the cached script; NOSCRIPT (restart, SCRIPT FLUSH) falls back to EVAL."""
    from reference_impl.redis import _SWAP_SCRIPT

    browser = Browser()
    browser.visit(store, user="alice", cart=1)
    redis_client.script_flush()
    assert redis_client.script_exists(_SWAP_SCRIPT.sha) == [False]
    session = browser.visit(store, cart=2)  # a merging save: the swap script
    assert (session.values["user"], session.values["cart"]) == ("alice", 2)
    assert redis_client.script_exists(_SWAP_SCRIPT.sha) == [True]  # cached again by EVAL
    assert browser.load(store).values["cart"] == 2

    async def through_async_store() -> tuple[object, object]:
        astore = AsyncRedisStore(HASH, BLOCK, url=redis_url, prefix=store.prefix, clock=store.clock)
        try:
            redis_client.script_flush()
            request, response = browser.request(), RecordingResponse()
            loaded = await astore.get(request, "app")
            loaded.values["cart"] = 3
            await loaded.asave(request, response)
            return loaded.values["cart"], redis_client.script_exists(_SWAP_SCRIPT.sha)
        finally:
            await astore.close()

    assert asyncio.run(through_async_store()) == (3, [True])
    assert browser.load(store).values["cart"] == 3


def test_create_never_overwrites_on_an_id_collision(
    store: RedisStore, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = Browser().visit(store, user="alice").id
    before = redis_client.get(store.key_for(taken))
    ids = iter([taken, _server_side.new_session_id()])
    monkeypatch.setattr(_server_side, "new_session_id", lambda: next(ids))
    fresh = Browser().visit(store, user="mallory")
    assert fresh.id != taken
    assert redis_client.get(store.key_for(taken)) == before


def test_with_keys_shares_the_backend(store: RedisStore) -> None:
    browser = Browser()
    browser.visit(store, user="alice")
    rotated = store.with_keys(b"n" * 32, b"m" * 32, HASH, BLOCK)
    assert rotated.prefix == store.prefix
    assert browser.load(rotated).values == {"user": "alice"}


def test_a_client_that_decodes_responses_works_too(redis_url: str, clock: ManualClock) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = RedisStore(HASH, BLOCK, client=client, prefix=_prefix(), clock=clock)
        browser = Browser()
        browser.visit(store, user="alice")
        assert browser.load(store).values == {"user": "alice"}
    finally:
        client.close()


def test_configuration_errors_raise_at_construction(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        RedisStore(HASH, url="redis://elsewhere:6379/0", client=redis_client)
    with pytest.raises(ConfigurationError, match="bad url"):
        RedisStore(HASH, url="http://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError):
        RedisStore(HASH, max_connections=0)
    # Construction does no I/O: a store for an unreachable server is built fine.
    RedisStore(HASH, url="redis://127.0.0.1:1/0").close()


def test_bounded_pool_waits_for_a_free_connection(redis_url: str, clock: ManualClock) -> None:
    store = RedisStore(HASH, url=redis_url, prefix=_prefix(), clock=clock, max_connections=1)
    assert isinstance(store.client, redis.Redis)
    assert isinstance(store.client.connection_pool, redis.BlockingConnectionPool)
    ids: list[str] = []

    def visit(n: int) -> None:
        for _ in range(20):
            ids.append(Browser().visit(store, n=n).id)

    threads = [threading.Thread(target=visit, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert len(set(ids)) == 80


def test_conformance_factory_uses_env_url_and_a_prefix_per_store(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> None:
    monkeypatch.setenv("SESSIONSPEC_REDIS_URL", redis_url)
    one = testing.redis(ManualClock())
    two = testing.redis(ManualClock())
    assert isinstance(one, RedisStore)
    assert isinstance(two, RedisStore)
    assert one.prefix != two.prefix
    assert one.client is two.client  # one pool per URL, however many stores
    browser = Browser()
    session = browser.visit(one, user="alice")
    assert browser.load(one).values == {"user": "alice"}
    assert browser.load(two).is_new
    assert 3590 <= redis_client.ttl(one.key_for(session.id)) <= 3600  # leaves no litter
    redis_client.delete(one.key_for(session.id))


# -- outages ---------------------------------------------------------------------------


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def _fast_store(server: RedisServer) -> RedisStore:
    return RedisStore(
        HASH, BLOCK, url=server.url, socket_timeout=0.3, socket_connect_timeout=0.3, retries=0
    )


@pytest.mark.parametrize("keep_data", [True, False], ids=["shutdown-save", "killed"])
def test_outage_raises_store_error_and_the_same_store_recovers(
    private_server: RedisServer, keep_data: bool
) -> None:
    store = _fast_store(private_server)
    browser = Browser()
    browser.visit(store, user="alice")
    held_request, held_response = browser.request(), RecordingResponse()
    held = store.get(held_request, "app")

    private_server.stop(save=keep_data)
    started = time.monotonic()
    with pytest.raises(StoreError):
        store.new(browser.request(), "app")
    with pytest.raises(StoreError):
        store.get(browser.request(), "app")
    request, response = SimpleRequest(), RecordingResponse()
    fresh = store.new(request, "app")  # no cookie: nothing to load, no I/O
    fresh.values["x"] = 1
    with pytest.raises(StoreError):
        fresh.save(request, response)
    held.values["user"] = "bob"
    with pytest.raises(StoreError):
        held.save(held_request, held_response)
    assert response.set_cookie_headers() == held_response.set_cookie_headers() == []
    assert time.monotonic() - started < 2

    private_server.start()  # same port, same store object, same connection pool
    loaded = browser.load(store)
    if keep_data:
        assert loaded.values == {"user": "alice"}
        held.save(held_request, held_response)
        assert browser.load(store).values == {"user": "bob"}
    else:
        assert isinstance(loaded.load_error, SessionNotFoundError)
    assert Browser().visit(store, user="carol").id
    store.close()


def test_hung_server_times_out_and_no_reply_is_mixed_up(private_server: RedisServer) -> None:
    store = _fast_store(private_server)
    alice, bob = Browser(), Browser()
    alice.visit(store, user="alice")
    bob.visit(store, user="bob")
    private_server.pause()
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match="Timeout"):
            alice.load(store)
    finally:
        private_server.resume()
    assert time.monotonic() - started < 2
    # The late reply to alice's GET must not be read as the answer to bob's.
    assert bob.load(store).values == {"user": "bob"}
    assert alice.load(store).values == {"user": "alice"}
    store.close()


class _Loader:
    """Loads one cookie's session through a sync or an async store (on one event loop of
    its own, since redis.asyncio connections belong to their loop)."""

    def __init__(self, kind: str, url: str, cookie: str) -> None:
        settings: dict[str, Any] = {
            "socket_timeout": 1.0,
            "socket_connect_timeout": 1.0,
            "retries": 1,
        }
        self.cookie, self.loop = cookie, asyncio.new_event_loop()
        self.store: RedisStore | AsyncRedisStore = (
            RedisStore(HASH, BLOCK, url=url, **settings)
            if kind == "sync"
            else AsyncRedisStore(HASH, BLOCK, url=url, **settings)
        )

    def load(self) -> Session:
        if isinstance(self.store, RedisStore):
            return self.store.get(SimpleRequest(self.cookie), "app")
        return self.loop.run_until_complete(self.store.get(SimpleRequest(self.cookie), "app"))

    def close(self) -> None:
        if isinstance(self.store, RedisStore):
            self.store.close()
        else:
            self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_frozen_server_gives_store_error_within_the_documented_bound(
    private_server: RedisServer, kind: str
) -> None:
    """SIGSTOP with the default retry: StoreError after (retries + 1) x socket_timeout, not
    one socket_timeout as the docs used to say; bounded here by a generous limit, on a
    pooled connection and on a new one, and the store works after SIGCONT (S-10.10)."""
    browser = Browser()
    writer = RedisStore(HASH, BLOCK, url=private_server.url)
    browser.visit(writer, user="alice")
    writer.close()
    loader = _Loader(kind, private_server.url, browser.request().cookie_header)
    try:
        loader.load()  # leaves a pooled connection
        private_server.pause()
        try:
            for _ in range(2):
                error = bounded(loader.load)
                assert isinstance(error, StoreError) and "Timeout" in str(error), repr(error)
        finally:
            private_server.resume()
        assert loader.load().values == {"user": "alice"}
    finally:
        loader.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_unreachable_server_gives_store_error_within_the_documented_bound(kind: str) -> None:
    """Connections that are never established (a full accept queue, as behind a partition):
    StoreError after (retries + 1) x socket_connect_timeout (S-10.10)."""
    browser = Browser()
    browser.visit(MemoryStore(HASH, BLOCK), user="alice")  # only for a well-signed cookie
    with unreachable_port() as port:
        loader = _Loader(kind, f"redis://127.0.0.1:{port}/0", browser.request().cookie_header)
        try:
            error = bounded(loader.load)
            assert isinstance(error, StoreError) and "connecting" in str(error), repr(error)
        finally:
            loader.close()


# -- Redis Cluster -------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster3]:
    nodes = RedisCluster3(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield nodes
    finally:
        nodes.stop()


def test_cluster_round_trip_regenerate_and_delete(cluster: RedisCluster3) -> None:
    client = RedisCluster(host="127.0.0.1", port=cluster.ports[0], socket_timeout=2)
    try:
        store = RedisStore(HASH, BLOCK, client=client, prefix=_prefix())
        browsers = [Browser() for _ in range(12)]
        ids = [b.visit(store, n=n).id for n, b in enumerate(browsers)]
        slots = {client.keyslot(store.key_for(i)) for i in ids}  # type: ignore[no-untyped-call]
        nodes = {
            client.get_node_from_key(store.key_for(i)).port  # type: ignore[no-untyped-call]
            for i in ids
        }
        assert len(slots) == 12
        assert len(nodes) > 1  # keys spread over the masters: no multi-key command needed
        first = browsers[0]
        request, response = first.request(), RecordingResponse()
        session = store.get(request, "app")
        session.regenerate_id()
        session.save(request, response)
        first.receive(response)
        new_id = session.id
        assert client.get(store.key_for(ids[0])) is None
        assert first.load(store).values == {"n": 0}
        request, response = first.request(), RecordingResponse()
        session = store.get(request, "app")
        session.options = session.options.replace(max_age=-1)
        session.save(request, response)
        first.receive(response)
        assert client.exists(store.key_for(new_id)) == 0
        assert first.load(store).is_new
        assert all(b.load(store).values == {"n": n} for n, b in enumerate(browsers) if n)
    finally:
        client.close()
