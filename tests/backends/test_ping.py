"""``ping()`` / ``aping()`` on every network store, against real servers the tests stop.

A readiness probe must pass while the server answers, raise ``StoreError``
with the driver's cause (never return quietly) while it is down, and pass
again once it is back, on the same store object. The Memcached twins are
tested beside their store (tests/backends/test_memcached_store.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("redis", reason="the 'redis' extra (redis-py) is not installed")
    pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")

from redis.cluster import RedisCluster

from reference_impl import testing
from reference_impl.aio.redis import AsyncRedisStore
from reference_impl.aio.sql import AsyncSQLStore
from reference_impl.redis import RedisStore
from reference_impl.sql import SQLStore
from spec.errors import StoreError
from tests.backends import _postgres_server
from tests.backends._postgres_server import running_server
from tests.backends._redis_server import RedisCluster3, RedisServer
from tests.stores._support import HASH


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_ping(redis_server: RedisServer) -> None:
    store = RedisStore(HASH, url=redis_server.url, retries=0)
    try:
        store.ping()
        redis_server.stop()
        with pytest.raises(StoreError) as info:
            store.ping()
        assert (info.value.backend, info.value.action) == ("redis", "ping (PING)")
        assert "ConnectionError" in info.value.cause
        assert "Connection refused" in info.value.cause
        redis_server.start()
        store.ping()  # the same store, its pool reconnected
    finally:
        store.close()


def test_async_redis_aping(redis_server: RedisServer) -> None:
    async def scenario() -> None:  # one event loop: redis.asyncio connections belong to it
        store = AsyncRedisStore(HASH, url=redis_server.url, retries=0)
        try:
            await store.aping()
            redis_server.stop()
            with pytest.raises(StoreError, match="ConnectionError") as info:
                await store.aping()
            assert (info.value.backend, info.value.action) == ("redis", "ping (PING)")
            redis_server.start()
            await store.aping()
        finally:
            await store.close()

    asyncio.run(scenario())


def test_redis_cluster_ping_asks_every_primary(tmp_path: Path) -> None:
    """Each primary holds sessions, so one that is down fails the probe."""
    cluster = RedisCluster3(tmp_path / "cluster").start()
    try:
        client = RedisCluster(
            host="127.0.0.1", port=cluster.ports[0], socket_timeout=1, socket_connect_timeout=1
        )
        store = RedisStore(HASH, client=client)
        try:
            store.ping()
            cluster.nodes[2].stop()
            with pytest.raises(StoreError) as info:
                store.ping()
            assert info.value.backend == "redis"
        finally:
            client.close()
    finally:
        cluster.stop()


# -- SQL -----------------------------------------------------------------------------------


def test_sqlite_ping_creates_the_table_and_fails_as_store_error_when_unreachable(
    tmp_path: Path,
) -> None:
    store = SQLStore(HASH, url=f"sqlite:///{tmp_path}/sessions.db")
    try:
        store.ping()
        testing.sql.break_backend(store)  # the database file now lies under /dev/null
        with pytest.raises(StoreError) as info:
            store.ping()
        assert (info.value.backend, info.value.action) == ("sql", "ping the database")
    finally:
        store.close()


def test_postgres_ping_and_aping() -> None:
    with running_server(_postgres_server.require_bin_dir()) as server:
        store = SQLStore(HASH, url=server.url, connect_timeout=2, timeout=2)
        try:
            store.ping()
            server.stop()
            with pytest.raises(StoreError) as info:
                store.ping()
            assert (info.value.backend, info.value.action) == ("sql", "ping the database")
            assert "OperationalError" in info.value.cause or "connect" in info.value.cause
            server.start()
            store.ping()  # the dead pooled connection is replaced
        finally:
            store.close()

        async def scenario() -> None:
            astore = AsyncSQLStore(HASH, url=server.url, connect_timeout=2, timeout=2)
            try:
                await astore.aping()
                server.stop()
                with pytest.raises(StoreError) as info:
                    await astore.aping()
                assert (info.value.backend, info.value.action) == ("sql", "ping the database")
                server.start()
                await astore.aping()
            finally:
                await astore.close()

        asyncio.run(scenario())
