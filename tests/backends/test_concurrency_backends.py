"""Merge-on-save and the regenerate_id grace period on real servers (S-10.20 to S-10.22).

The conformance classes of each backend already run S-10.20 and S-10.21
(their factories declare ``merges_concurrent_saves``). Here: the local
3-node Redis Cluster, sync and async, where a command touching keys of two
hash slots would be refused by the cluster client, so passing proves every
step is single-slot; and the grace period on Redis, the cluster, SQLite and
the filesystem store.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

redis = pytest.importorskip("redis", reason="the 'redis' extra is not installed")

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster  # noqa: E402
from redis.cluster import RedisCluster  # noqa: E402

from conformance import Browser  # noqa: E402
from reference_impl import FilesystemStore  # noqa: E402
from reference_impl.aio.redis import AsyncRedisStore  # noqa: E402
from reference_impl.redis import RedisStore  # noqa: E402
from reference_impl.sql import SQLStore  # noqa: E402
from spec import ManualClock, Session, Store  # noqa: E402
from spec.errors import SessionInterruptedError  # noqa: E402
from spec.http import RecordingResponse, SimpleRequest  # noqa: E402
from tests.backends._redis_server import RedisCluster3, RedisServer  # noqa: E402
from tests.stores._support import BLOCK, HASH  # noqa: E402

THREADS, WRITES = 8, 25


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster3]:
    nodes = RedisCluster3(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


def _prefix() -> str:
    return f"sessionspec-merge:{uuid.uuid4().hex}:"


def _open(browser: Browser, store: Store) -> tuple[SimpleRequest, Session]:
    request = browser.request()
    return request, store.new(request, "app")


def _save(browser: Browser, store: Store, held: tuple[SimpleRequest, Session]) -> None:
    response = RecordingResponse()
    store.save(held[0], response, held[1])
    browser.receive(response)


def _merges(store: Store) -> None:
    """Interleaved saves of different keys both land; a deleted key stays deleted (S-10.20)."""
    browser = Browser()
    browser.visit(store, user="alice", csrf="x")
    first, second = _open(browser, store), _open(browser, store)
    first[1]["theme"] = "dark"
    del first[1]["csrf"]
    second[1]["cart"] = 3
    _save(browser, store, first)
    _save(browser, store, second)
    assert browser.load(store).values == {"user": "alice", "theme": "dark", "cart": 3}


def _threads_lose_nothing(store: Store) -> None:
    """8 threads x 25 saves of their own keys of one session (S-10.21)."""
    browser = Browser()
    browser.visit(store, start=True)
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for write in range(WRITES):
                request, session = _open(browser, store)
                done = session.get(f"t{n}")
                session[f"t{n}"] = [*(done if isinstance(done, list) else []), write]
                store.save(request, RecordingResponse(), session)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    stored = browser.load(store).values
    assert {n: stored.get(f"t{n}") for n in range(THREADS)} == {
        n: list(range(WRITES)) for n in range(THREADS)
    }


def _grace(store: Any) -> None:
    """The retired ID reads the new session, never writes, and a logout through it ends both."""
    store.regenerate_grace = 30
    browser = Browser()
    browser.visit(store, cart=1)
    old_tab = copy.deepcopy(browser)
    login = _open(browser, store)
    login[1]["user"] = "alice"
    login[1].regenerate_id()
    _save(browser, store, login)
    late = _open(old_tab, store)
    assert dict(late[1].values) == {"cart": 1, "user": "alice"} and not late[1].is_new
    late[1]["hijack"] = True
    response = RecordingResponse()
    with pytest.raises(SessionInterruptedError):
        store.save(late[0], response, late[1])
    assert response.set_cookie_headers() == []
    logout = _open(old_tab, store)
    logout[1].options = logout[1].options.replace(max_age=-1)
    _save(old_tab, store, logout)
    assert browser.load(store).is_new


def _grace_expires(make: Callable[[ManualClock], Any]) -> None:
    """After the grace period the old ID loads nothing (files keep no deadline of their own)."""
    clock = ManualClock(int(time.time()))
    store = make(clock)
    store.regenerate_grace = 2
    browser = Browser()
    browser.visit(store, cart=1)
    old_tab = copy.deepcopy(browser)
    login = _open(browser, store)
    login[1].regenerate_id()
    _save(browser, store, login)
    assert not old_tab.load(store).is_new
    clock.advance(3)
    assert old_tab.load(store).is_new
    assert browser.load(store).values == {"cart": 1}


# -- Redis Cluster (S-10.20, S-10.21, S-10.22) ----------------------------------------


def test_s10_20_cluster_merges_every_step_single_slot(cluster: RedisCluster3) -> None:
    """S-10.20, S-10.21: merge-on-save on the 3-node cluster (cross-slot would be refused)."""
    client = RedisCluster(host="127.0.0.1", port=cluster.ports[0], socket_timeout=5)
    try:
        store = RedisStore(HASH, BLOCK, client=client, prefix=_prefix())
        _merges(store)
        _threads_lose_nothing(store)
    finally:
        client.close()


def test_s10_22_cluster_grace_period(cluster: RedisCluster3) -> None:
    """S-10.22: the forward and the new record live in different slots; each step is one key."""
    client = RedisCluster(host="127.0.0.1", port=cluster.ports[0], socket_timeout=5)
    try:
        store = RedisStore(HASH, BLOCK, client=client, prefix=_prefix())
        _grace(store)
        _grace_expires(
            lambda clock: RedisStore(HASH, BLOCK, client=client, prefix=_prefix(), clock=clock)
        )
    finally:
        client.close()


def test_s10_21_async_cluster_tasks_lose_nothing(cluster: RedisCluster3) -> None:
    """S-10.21: AsyncRedisStore on the cluster, 8 tasks x 25 saves of their own keys."""

    async def main() -> dict[str | int, object]:
        client = AsyncRedisCluster(host="127.0.0.1", port=cluster.ports[0])
        store = AsyncRedisStore(HASH, BLOCK, client=client, prefix=_prefix())
        browser = Browser()
        request = browser.request()
        session = await store.new(request, "app")
        session["start"] = True
        response = RecordingResponse()
        await store.save(request, response, session)
        browser.receive(response)

        async def work(n: int) -> None:
            for write in range(WRITES):
                request = browser.request()
                held = await store.new(request, "app")
                await asyncio.sleep(0)  # let the other tasks load the same record
                done = held.get(f"t{n}")
                held[f"t{n}"] = [*(done if isinstance(done, list) else []), write]
                await store.save(request, RecordingResponse(), held)

        await asyncio.gather(*(work(n) for n in range(THREADS)))
        stored: dict[str | int, object] = dict((await store.new(browser.request(), "app")).values)
        await client.aclose()
        return stored

    stored: dict[str | int, object] = asyncio.run(main())
    assert {n: stored.get(f"t{n}") for n in range(THREADS)} == {
        n: list(range(WRITES)) for n in range(THREADS)
    }


# -- the grace period on other backends (S-10.22) -------------------------------------


def test_s10_22_grace_on_redis(redis_server: RedisServer) -> None:
    """S-10.22 on a single Redis server."""
    stores: list[RedisStore] = []

    def make(clock: ManualClock | None = None) -> RedisStore:
        stores.append(RedisStore(HASH, BLOCK, url=redis_server.url, prefix=_prefix(), clock=clock))
        return stores[-1]

    try:
        _grace(make())
        _grace_expires(make)
    finally:
        for store in stores:
            store.close()


def test_s10_22_grace_on_sqlite_and_filesystem(tmp_path: Path) -> None:
    """S-10.22 on SQLite and on the filesystem store."""
    url = f"sqlite:///{tmp_path}/sessions.db"
    stores: list[SQLStore] = []

    def make(clock: ManualClock | None = None) -> SQLStore:
        stores.append(SQLStore(HASH, BLOCK, url=url, clock=clock))
        return stores[-1]

    try:
        _grace(make())
        _grace_expires(make)
    finally:
        for store in stores:
            store.close()
    _grace(FilesystemStore(tmp_path / "files", HASH, BLOCK))
    _grace_expires(lambda clock: FilesystemStore(tmp_path / "timed", HASH, BLOCK, clock=clock))
