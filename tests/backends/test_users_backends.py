"""The user index on real servers (S-10.11 to S-10.13): Redis (one node and a 3-node
cluster), PostgreSQL, MariaDB and SQLite, including tables made before ``user_id``.

The conformance clauses themselves run on every store through the suite
(``conformance/_suite_users.py``); these tests look at what only the backend
shows: the Redis sorted set and its expiry, the cluster's slots, the SQL
column, its index and the migration of an existing table.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis", reason="the 'redis' extra is not installed")
pytest.importorskip("sqlalchemy", reason="the 'sql' extra is not installed")

import redis
import sqlalchemy as sa
from redis.cluster import RedisCluster

from conformance import Browser
from conformance._suite_users import login
from reference_impl.aio.redis import AsyncRedisStore
from reference_impl.aio.sql import AsyncSQLStore
from reference_impl.redis import RedisStore
from reference_impl.sql import SQLStore, session_table
from spec import ManualClock
from spec.errors import ConfigurationError, SessionInterruptedError, StoreError
from spec.http import RecordingResponse
from tests.backends import _mariadb_server, _memcached_server, _postgres_server, _redis_server
from tests.backends._redis_server import RedisCluster3
from tests.stores._support import BLOCK, HASH

redis_url = _redis_server.redis_url  # the shared real-server fixtures
postgres_url = _postgres_server.postgres_url
mariadb_server = _mariadb_server.mariadb_server
mariadb_url = _mariadb_server.mariadb_url


def _prefix() -> str:
    return f"users_{uuid.uuid4().hex[:8]}_"


def _table() -> str:
    return f"users_{uuid.uuid4().hex[:10]}"


# Redis -------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def test_redis_index_is_a_sorted_set_by_deadline_with_a_ttl(redis_client: redis.Redis) -> None:
    """Ensure the index is <prefix>user:<id>, scored by deadline, expiring with it (S-10.11)."""
    clock = ManualClock()
    store = RedisStore(HASH, BLOCK, client=redis_client, prefix=_prefix(), clock=clock)
    store.max_age(600)
    session = login(store, Browser(), "alice")
    key = f"{store.prefix}user:alice"
    assert redis_client.type(key) == b"zset"
    members = redis_client.zrange(key, 0, -1, withscores=True)
    assert members == [(session.id.encode(), clock() + 600)]
    assert 0 < redis_client.ttl(key) <= 601, "the index must expire with its sessions"
    assert redis_client.ttl(store.key_for(session.id)) <= redis_client.ttl(key)


def test_redis_expired_entries_are_pruned_on_read(redis_client: redis.Redis) -> None:
    """Ensure an entry past its deadline leaves the set when the user is listed (S-10.12)."""
    clock = ManualClock()
    store = RedisStore(HASH, BLOCK, client=redis_client, prefix=_prefix(), clock=clock)
    store.max_age(600)
    login(store, Browser(), "alice")
    clock.advance(300)
    fresh = login(store, Browser(), "alice")
    key = f"{store.prefix}user:alice"
    assert redis_client.zcard(key) == 2
    clock.advance(301)
    assert store.user_sessions("alice") == [fresh.id]
    assert redis_client.zcard(key) == 1, "the expired entry must be pruned"


def test_redis_a_session_kept_alive_keeps_its_entry(redis_client: redis.Redis) -> None:
    """Ensure every save pushes the entry's deadline out with the record's (S-10.12)."""
    clock = ManualClock()
    store = RedisStore(HASH, BLOCK, client=redis_client, prefix=_prefix(), clock=clock)
    store.max_age(600)
    browser = Browser()
    session = login(store, browser, "alice")
    for _ in range(3):
        clock.advance(400)
        browser.visit(store, n=1)
    assert store.user_sessions("alice") == [session.id]
    assert store.revoke_user("alice") == 1


def test_redis_purge_skips_the_user_index(redis_client: redis.Redis) -> None:
    """Ensure purge_expired, which scans <prefix>*, leaves the user sets alone (S-10.11).

    Without the type check in the purge script, GET on the sorted set is a
    WRONGTYPE error and the whole purge a StoreError.
    """
    clock = ManualClock()
    store = RedisStore(HASH, BLOCK, client=redis_client, prefix=_prefix(), clock=clock)
    store.max_age(600)
    kept = login(store, Browser(), "alice")
    login(store, Browser(), "bob")
    clock.advance(300)
    bob_again = login(store, Browser(), "bob")
    clock.advance(301)
    assert store.purge_expired() == 2  # alice's and bob's first sessions; not the user sets
    assert store.user_sessions("bob") == [bob_again.id]
    assert redis_client.exists(f"{store.prefix}user:bob") == 1
    assert kept.id not in store.user_sessions("alice")


def test_async_redis_revoke_user(redis_url: str) -> None:
    """Ensure the async twin lists and revokes through the same keys (S-10.12, S-10.13)."""

    async def scenario() -> None:
        store = AsyncRedisStore(HASH, BLOCK, url=redis_url, prefix=_prefix())
        try:
            ids = []
            for _ in range(2):
                browser = Browser()
                request, response = browser.request(), RecordingResponse()
                session = await store.get(request, "app")
                session.user_id = "alice"
                await session.asave(request, response)
                ids.append(session.id)
            assert await store.user_sessions("alice") == sorted(ids)
            assert await store.revoke_user("alice", keep=ids[0]) == 1
            assert await store.user_sessions("alice") == [ids[0]]
        finally:
            await store.close()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster3]:
    nodes = RedisCluster3(tmp_path_factory.mktemp("users-cluster")).start()
    try:
        yield nodes
    finally:
        nodes.stop()


def test_cluster_lists_and_revokes_sessions_spread_over_every_master(
    cluster: RedisCluster3,
) -> None:
    """Ensure user_sessions and revoke_user work on Redis Cluster: one key per command
    (the user's set, then each session's key, wherever its slot lives) (S-10.12, S-10.13)."""
    client = RedisCluster(host="127.0.0.1", port=cluster.ports[0], socket_timeout=2)
    try:
        store = RedisStore(HASH, BLOCK, client=client, prefix=_prefix())
        alice = [Browser() for _ in range(8)]
        bob = [Browser() for _ in range(4)]
        alice_ids = [login(store, b, "alice", n=n).id for n, b in enumerate(alice)]
        bob_ids = [login(store, b, "bob", n=n).id for n, b in enumerate(bob)]
        nodes = {
            client.get_node_from_key(store.key_for(i)).port  # type: ignore[no-untyped-call]
            for i in alice_ids
        }
        assert len(nodes) > 1, "the sessions should spread over several masters"
        assert store.user_sessions("alice") == sorted(alice_ids)
        assert store.user_sessions("bob") == sorted(bob_ids)
        assert store.revoke_user("alice", keep=alice_ids[0]) == 7
        assert store.user_sessions("alice") == [alice_ids[0]]
        assert all(b.load(store).is_new for b in alice[1:])
        assert alice[0].load(store).user_id == "alice"
        assert [b.load(store).values for b in bob] == [{"n": n} for n in range(4)]
        assert store.revoke_user("alice") == 1
        assert store.user_sessions("bob") == sorted(bob_ids), "revoking alice touched bob"
    finally:
        client.close()


# SQL ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/users.db"
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    url = request.getfixturevalue("mariadb_url")
    return url


def _drop(engine: sa.Engine, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))


def test_sql_user_id_is_an_indexed_nullable_column(sql_url: str) -> None:
    """Ensure the table has user_id, indexed, NULL for anonymous sessions (S-10.11)."""
    name = _table()
    store = SQLStore(HASH, BLOCK, url=sql_url, table=name)
    try:
        anonymous = Browser().visit(store, n=1)
        alice = login(store, Browser(), "alice")
        inspector = sa.inspect(store.engine)
        column = {c["name"]: c for c in inspector.get_columns(name)}["user_id"]
        assert column["nullable"] is True
        indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(name)}
        assert ("user_id",) in indexed, f"no index on user_id: {indexed}"
        table = store.table
        with store.engine.connect() as connection:
            rows = dict(connection.execute(sa.select(table.c.id, table.c.user_id)).all())
        assert rows == {anonymous.id: None, alice.id: "alice"}
        # A second store on the same table: check-first creation leaves it as it is.
        again = SQLStore(HASH, BLOCK, url=sql_url, table=name)
        try:
            assert again.user_sessions("alice") == [alice.id]
        finally:
            again.close()
    finally:
        _drop(store.engine, name)
        store.close()


def test_sql_a_table_made_before_user_id_migrates_as_documented(sql_url: str) -> None:
    """Ensure an old table keeps working, and the documented ALTER TABLE and CREATE INDEX
    make the user index work on it (docs/backends/sql.md; S-10.11)."""
    name = _table()
    columns = [c._copy() for c in session_table(name).columns if c.name != "user_id"]
    old = sa.Table(name, sa.MetaData(), *columns, mysql_engine="InnoDB")  # before user_id
    engine = sa.create_engine(sql_url)
    try:
        old.metadata.create_all(engine)
        store = SQLStore(HASH, BLOCK, url=sql_url, table=name)
        try:
            browser = Browser()
            browser.visit(store, n=1)  # sessions without a user keep working
            assert browser.load(store).values == {"n": 1}
            with pytest.raises(StoreError):  # the column is missing: said, not hidden
                login(store, Browser(), "alice")
            kind = "VARCHAR(128)"
            if engine.dialect.name in ("mysql", "mariadb"):
                kind += " CHARACTER SET ascii COLLATE ascii_bin"
            with engine.begin() as connection:
                connection.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN user_id {kind} NULL"))
                connection.execute(sa.text(f"CREATE INDEX ix_{name}_user_id ON {name} (user_id)"))
            session = login(store, Browser(), "alice")
            assert store.user_sessions("alice") == [session.id]
            assert store.revoke_user("alice") == 1
        finally:
            store.close()
    finally:
        _drop(engine, name)
        engine.dispose()


def test_sql_a_save_racing_a_revoke_is_refused(sql_url: str) -> None:
    """Ensure a request that loaded before revoke_user cannot write the row back (S-10.13)."""
    name = _table()
    store = SQLStore(HASH, BLOCK, url=sql_url, table=name)
    try:
        browser = Browser()
        login(store, browser, "alice")
        request, response = browser.request(), RecordingResponse()
        held = store.get(request, "app")
        assert store.revoke_user("alice") == 1
        held.values["role"] = "admin"
        with pytest.raises(SessionInterruptedError):
            held.save(request, response)
        with store.engine.connect() as connection:
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(store.table)).scalar()
                == 0
            )
    finally:
        _drop(store.engine, name)
        store.close()


def test_async_sql_lists_and_revokes(sql_url: str) -> None:
    """Ensure the async SQL twin runs the same statements (S-10.12, S-10.13)."""
    name = _table()

    async def scenario() -> None:
        store = AsyncSQLStore(HASH, BLOCK, url=sql_url, table=name)
        try:
            ids: list[Any] = []
            for user in ("alice", "alice", "bob"):
                browser = Browser()
                request, response = browser.request(), RecordingResponse()
                session = await store.get(request, "app")
                session.user_id = user
                await session.asave(request, response)
                ids.append(session.id)
            assert await store.user_sessions("alice") == sorted(ids[:2])
            assert await store.revoke_user("alice") == 2
            assert await store.user_sessions("alice") == []
            assert await store.user_sessions("bob") == [ids[2]]
        finally:
            await store.close()

    asyncio.run(scenario())
    engine = sa.create_engine(sql_url)
    try:
        _drop(engine, name)
    finally:
        engine.dispose()


# Memcached ---------------------------------------------------------------------

memcached_server = _memcached_server.memcached_server


def test_memcached_keeps_the_user_but_says_it_cannot_list(
    memcached_server: _memcached_server.MemcachedServer,
) -> None:
    """Ensure Memcached, which cannot list keys, stores user_id and refuses the index calls
    with a message naming what is missing (S-10.11)."""
    pytest.importorskip("pymemcache", reason="the 'memcached' extra is not installed")
    from reference_impl.memcached import MemcachedStore

    store = MemcachedStore(HASH, BLOCK, servers=[memcached_server.address], prefix=_prefix())
    try:
        browser = Browser()
        login(store, browser, "alice")
        assert browser.load(store).user_id == "alice"
        with pytest.raises(ConfigurationError, match="keeps no user index"):
            store.user_sessions("alice")
        with pytest.raises(ConfigurationError, match="UserIndexBackend"):
            store.revoke_user("alice")
    finally:
        store.close()
