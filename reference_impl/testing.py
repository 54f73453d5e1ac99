"""Conformance factories for the built-in stores.

``python -m conformance reference_impl.testing:memory`` runs the suite on one.

Everything the conformance suite needs to build, break and clean up the
built-in stores lives here, and nowhere in the store modules themselves:
fixed test keys, one :class:`ConformanceFactory` per store, and the outage
simulators. Stores with optional dependencies (Redis, SQL) import them only
when their factory is first called, so this module loads without any extra.

Factories (each ``factory(clock, *key_pairs) -> store``):

=====================  ===================================================
``cookie``             ``CookieStore``
``memory``             ``MemoryStore``
``filesystem``         ``FilesystemStore`` in a new temporary directory
``redis``              ``RedisStore`` on ``$SESSIONSPEC_REDIS_URL``, a random prefix
``sql``                ``SQLStore``: a new table on ``$SESSIONSPEC_SQL_URL``, else SQLite
``memcached``          ``MemcachedStore`` on ``$SESSIONSPEC_MEMCACHED_SERVERS``, a random prefix
``async_*``            the async twin of each of the above
=====================  ===================================================

The keys are public, so never use :data:`TEST_KEYS` or these factories in
production.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from reference_impl.aio.cookie_store import AsyncCookieStore
from reference_impl.aio.filesystem import AsyncFilesystemStore
from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.cookie_store import CookieStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from spec import Clock
from spec.errors import StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from reference_impl.aio.memcached import AsyncMemcachedStore
    from reference_impl.aio.redis import AsyncRedisStore
    from reference_impl.aio.sql import AsyncSQLStore
    from reference_impl.memcached import MemcachedStore
    from reference_impl.redis import RedisStore
    from reference_impl.sql import SQLStore

__all__ = [
    "TEST_KEYS",
    "ConformanceFactory",
    "async_cookie",
    "async_filesystem",
    "async_memcached",
    "async_memory",
    "async_redis",
    "async_sql",
    "cookie",
    "filesystem",
    "memcached",
    "memory",
    "redis",
    "sql",
]

_S = TypeVar("_S")

#: Fixed, public keys used only by the conformance factories. Never use in production.
TEST_KEYS = (b"sessionspec-conformance-hash-key", b"sessionspec-conformance-blockkey")

#: Environment variables naming the servers the Redis and SQL factories use.
REDIS_URL_ENV = "SESSIONSPEC_REDIS_URL"
SQL_URL_ENV = "SESSIONSPEC_SQL_URL"
#: Comma-separated ``host:port`` list for the Memcached factories.
MEMCACHED_SERVERS_ENV = "SESSIONSPEC_MEMCACHED_SERVERS"
#: Conformance keys in Redis expire within this many seconds, whatever the session says.
_REDIS_TTL_CAP = 3600


class ConformanceFactory(Generic[_S]):
    """A store factory for ``python -m conformance``: ``factory(clock, *key_pairs)``.

    Uses :data:`TEST_KEYS` unless keys are given, and carries the store's
    declared ``capabilities`` (field names of ``conformance.Capabilities``)
    and a short ``label`` for the report. The store may be sync or async
    (the suite runs an async one on its event-loop thread).
    """

    def __init__(
        self,
        label: str,
        build: Callable[[Clock, tuple[bytes, ...]], _S],
        capabilities: dict[str, object],
        break_backend: Callable[[_S], object] | None = None,
    ) -> None:
        self.label = label
        self.build = build
        self.capabilities = capabilities
        if break_backend is not None:
            #: Makes a store's backend fail, for the outage clause (S-10.4).
            self.break_backend = break_backend

    def __call__(self, clock: Clock, *key_pairs: bytes) -> _S:
        """A fresh store on ``clock``."""
        return self.build(clock, key_pairs or TEST_KEYS)

    def make_store_with_timeouts(
        self, clock: Clock, *, absolute_timeout: int, idle_timeout: int
    ) -> _S:
        """A fresh store with these timeouts, for the lifetime clauses (S-9.22 to S-9.25)."""
        store = self(clock)
        lifetimes = getattr(store, "_set_lifetimes", None)
        if lifetimes is None:
            raise NotImplementedError
        tracked = store.core.lifetimes.track_created  # type: ignore[attr-defined]
        lifetimes(absolute_timeout, idle_timeout, track_created=tracked)
        return store


def _stop_memory(store: MemoryStore | AsyncMemoryStore) -> None:
    """The outage hook for the memory stores: every record operation raises ``StoreError``.

    Memory cannot fail as a server does; this stands in for it so S-10.4 can
    check that the store's core lets a backend failure through as
    ``StoreError`` (never a fresh session) rather than swallowing it.
    """
    backend = store._memory

    def stopped(*args: object) -> object:
        raise StoreError("the memory backend was stopped (conformance outage hook)")

    for name in ("read", "create", "update", "swap", "delete"):
        setattr(backend, name, stopped)


def _new_directory() -> str:
    return tempfile.mkdtemp(prefix="sessionspec-conformance-")


def _replace_directory_with_file(store: FilesystemStore | AsyncFilesystemStore) -> None:
    """Simulate a dead disk: the session directory becomes a plain file."""
    shutil.rmtree(store.path)
    store.path.write_text("the session directory is gone")


_COOKIE_CAPABILITIES: dict[str, object] = {"max_value_bytes": 4096}
_MEMORY_CAPABILITIES: dict[str, object] = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,
    "max_value_bytes": 4096,
    "users": True,
    "merges_concurrent_saves": True,
}
_FILESYSTEM_CAPABILITIES: dict[str, object] = {
    "server_side": True,
    "regenerate_id": True,
    "purge_expired": True,
    "record_deadlines": True,  # kept as each file's mtime (gorilla's format has no field)
    "max_value_bytes": 4096,
    "users": True,
    "merges_concurrent_saves": True,
}
_REDIS_CAPABILITIES: dict[str, object] = {
    "server_side": True,
    "regenerate_id": True,
    "record_deadlines": True,
    "max_value_bytes": 4096,
    "users": True,
    "merges_concurrent_saves": True,
}
_SQL_CAPABILITIES = _MEMORY_CAPABILITIES
#: Memcached cannot list its keys, so no ``purge_expired`` (it expires items itself).
_MEMCACHED_CAPABILITIES = {**_REDIS_CAPABILITIES, "users": False}  # no key listing (S-10.11)

#: ``CookieStore`` on the test keys.
cookie = ConformanceFactory(
    "cookie", lambda clock, keys: CookieStore(*keys, clock=clock), _COOKIE_CAPABILITIES
)
#: ``AsyncCookieStore`` on the test keys.
async_cookie = ConformanceFactory(
    "async-cookie", lambda clock, keys: AsyncCookieStore(*keys, clock=clock), _COOKIE_CAPABILITIES
)
#: ``MemoryStore`` on the test keys.
memory = ConformanceFactory(
    "memory",
    lambda clock, keys: MemoryStore(*keys, clock=clock),
    _MEMORY_CAPABILITIES,
    break_backend=lambda store: _stop_memory(store),
)
#: ``AsyncMemoryStore`` on the test keys.
async_memory = ConformanceFactory(
    "async-memory",
    lambda clock, keys: AsyncMemoryStore(*keys, clock=clock),
    _MEMORY_CAPABILITIES,
    break_backend=lambda store: _stop_memory(store),
)
#: ``FilesystemStore`` in a new temporary directory; the outage makes it a file.
filesystem = ConformanceFactory(
    "filesystem",
    lambda clock, keys: FilesystemStore(_new_directory(), *keys, clock=clock),
    _FILESYSTEM_CAPABILITIES,
    break_backend=_replace_directory_with_file,
)
#: ``AsyncFilesystemStore`` in a new temporary directory; the outage makes it a file.
async_filesystem = ConformanceFactory(
    "async-filesystem",
    lambda clock, keys: AsyncFilesystemStore(_new_directory(), *keys, clock=clock),
    _FILESYSTEM_CAPABILITIES,
    break_backend=_replace_directory_with_file,
)


# -- Redis -------------------------------------------------------------------------

_redis_clients: dict[tuple[str, bool], Any] = {}
_redis_lock = threading.Lock()


def _redis_client(asynchronous: bool) -> Any:
    """One client per URL and kind, shared by the stores of a run (one pool, one loop)."""
    from reference_impl import redis as sync_redis

    url = os.environ.get(REDIS_URL_ENV, sync_redis.DEFAULT_URL)
    with _redis_lock:
        if (url, asynchronous) not in _redis_clients:
            if asynchronous:
                from reference_impl.aio import redis as async_redis

                client: Any = async_redis._client_for(url, 2.0, 2.0, None, 1)
            else:
                client = sync_redis._client_for(url, 2.0, 2.0, None, 1)
            _redis_clients[(url, asynchronous)] = client
        return _redis_clients[(url, asynchronous)]


def _redis_prefix() -> str:
    return f"sessionspec-conformance:{os.urandom(8).hex()}:"


def _redis_store(clock: Clock, keys: tuple[bytes, ...]) -> RedisStore:
    from reference_impl.redis import RedisStore

    store = RedisStore(*keys, client=_redis_client(False), prefix=_redis_prefix(), clock=clock)
    store._redis.ttl_cap = _REDIS_TTL_CAP
    return store


def _async_redis_store(clock: Clock, keys: tuple[bytes, ...]) -> AsyncRedisStore:
    from reference_impl.aio.redis import AsyncRedisStore

    client = _redis_client(True)
    store = AsyncRedisStore(*keys, client=client, prefix=_redis_prefix(), clock=clock)
    store._redis.ttl_cap = _REDIS_TTL_CAP
    return store


def _break_redis(store: RedisStore | AsyncRedisStore) -> None:
    """Simulate an outage: the client now talks to TCP port 0, where nothing can listen."""
    import redis as redis_py
    from redis import asyncio as aredis
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from reference_impl.aio.redis import AsyncRedisStore

    if isinstance(store, AsyncRedisStore):
        store._redis.client = aredis.Redis(
            host="127.0.0.1", port=0, socket_connect_timeout=0.2, retry=AsyncRetry(NoBackoff(), 0)
        )
    else:
        store._redis.client = redis_py.Redis(
            host="127.0.0.1", port=0, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )


#: ``SESSIONSPEC_REDIS_URL=redis://host:6379/0 python -m conformance reference_impl.testing:redis``:
#: every store gets its own random key prefix, and its keys expire within an hour.
redis = ConformanceFactory("redis", _redis_store, _REDIS_CAPABILITIES, break_backend=_break_redis)
#: ``AsyncRedisStore``, as :data:`redis`.
async_redis = ConformanceFactory(
    "async-redis", _async_redis_store, _REDIS_CAPABILITIES, break_backend=_break_redis
)


# -- SQL ---------------------------------------------------------------------------

#: Per URL: the engine all conformance stores share (no run can exhaust
#: connections) and the tables they made, dropped at exit.
_sql_engines: dict[str, tuple[Engine, list[str]]] = {}
_async_engines: dict[str, Any] = {}
_sql_lock = threading.Lock()


def _table_name() -> str:
    return f"sessions_{uuid.uuid4().hex[:16]}"


def _shared_engine(url: str, table: str) -> Engine:
    from reference_impl.sql import create_engine

    with _sql_lock:
        if not _sql_engines:
            atexit.register(_drop_conformance_tables)
        if url not in _sql_engines:
            _sql_engines[url] = (create_engine(url, connect_timeout=2.0), [])
        _sql_engines[url][1].append(table)
        return _sql_engines[url][0]


def _drop_conformance_tables() -> None:
    from sqlalchemy import exc as sa_exc

    from reference_impl.sql import session_table

    for engine, tables in _sql_engines.values():
        with (
            contextlib.suppress(sa_exc.SQLAlchemyError),
            engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection,
        ):
            for table in tables:
                session_table(table).drop(connection, checkfirst=True)
        engine.dispose()
    _sql_engines.clear()


def _sqlite_url() -> str:
    return f"sqlite:///{tempfile.mkdtemp(prefix='sessionspec-sql-')}/sessions.db"


def _sql_store(clock: Clock, keys: tuple[bytes, ...]) -> SQLStore:
    """A store in a new table: on ``$SESSIONSPEC_SQL_URL``, else in a new SQLite file."""
    from reference_impl.sql import SQLStore, create_engine

    table = _table_name()
    url = os.environ.get(SQL_URL_ENV)
    engine = _shared_engine(url, table) if url else create_engine(_sqlite_url(), pooled=False)
    return SQLStore(*keys, engine=engine, table=table, clock=clock)


def _async_sql_store(clock: Clock, keys: tuple[bytes, ...]) -> AsyncSQLStore:
    """The async twin of :func:`_sql_store`; its tables are dropped at exit too."""
    from reference_impl.aio.sql import AsyncSQLStore, create_async_engine

    table = _table_name()
    url = os.environ.get(SQL_URL_ENV)
    if not url:
        engine = create_async_engine(_sqlite_url(), pooled=False)
        return AsyncSQLStore(*keys, engine=engine, table=table, clock=clock)
    _shared_engine(url, table)  # registers the table for dropping at exit
    with _sql_lock:
        if url not in _async_engines:
            _async_engines[url] = create_async_engine(url, connect_timeout=2.0)
        return AsyncSQLStore(*keys, engine=_async_engines[url], table=table, clock=clock)


def _break_sql(store: SQLStore | AsyncSQLStore) -> None:
    """Simulate an outage: the engine now points where no database can be reached."""
    from reference_impl.aio.sql import AsyncSQLStore, create_async_engine
    from reference_impl.sql import create_engine

    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        dead = url.set(database=os.path.join(os.devnull, "sessions.db"))
    else:
        dead = url.set(host="127.0.0.1", port=1)
    text = dead.render_as_string(hide_password=False)
    if isinstance(store, AsyncSQLStore):
        store._sql.use_engine(create_async_engine(text, connect_timeout=1.0, pooled=False))
        return
    if store._owns_engine:
        store.engine.dispose()
    store._sql.use_engine(create_engine(text, connect_timeout=1.0, pooled=False))


#: ``python -m conformance reference_impl.testing:sql``: each store gets a new
#: table, on ``$SESSIONSPEC_SQL_URL`` or in a new SQLite file.
sql = ConformanceFactory("sql", _sql_store, _SQL_CAPABILITIES, break_backend=_break_sql)
#: ``AsyncSQLStore``, as :data:`sql`.
async_sql = ConformanceFactory(
    "async-sql", _async_sql_store, _SQL_CAPABILITIES, break_backend=_break_sql
)


# -- Memcached ---------------------------------------------------------------------

#: Per server list, the pooled clients every conformance store shares.
_memcached_clients: dict[tuple[str, ...], dict[str, Any]] = {}


def _memcached_servers() -> tuple[str, ...]:
    from reference_impl.memcached import DEFAULT_SERVERS

    listed = os.environ.get(MEMCACHED_SERVERS_ENV, "")
    return tuple(s.strip() for s in listed.split(",") if s.strip()) or DEFAULT_SERVERS


def _share_memcached_clients(store: MemcachedStore | AsyncMemcachedStore) -> None:
    """One pool per server for the whole run, however many stores the suite makes."""
    servers = _memcached_servers()
    with _redis_lock:
        shared = _memcached_clients.setdefault(servers, store._memcached.clients)
    store._memcached.clients = shared
    store._memcached.ttl_cap = _REDIS_TTL_CAP


def _memcached_store(clock: Clock, keys: tuple[bytes, ...]) -> MemcachedStore:
    from reference_impl.memcached import MemcachedStore

    prefix = f"sessionspec-conformance:{os.urandom(8).hex()}:"
    store = MemcachedStore(*keys, servers=_memcached_servers(), prefix=prefix, clock=clock)
    _share_memcached_clients(store)
    return store


def _async_memcached_store(clock: Clock, keys: tuple[bytes, ...]) -> AsyncMemcachedStore:
    from reference_impl.aio.memcached import AsyncMemcachedStore

    prefix = f"sessionspec-conformance:{os.urandom(8).hex()}:"
    store = AsyncMemcachedStore(*keys, servers=_memcached_servers(), prefix=prefix, clock=clock)
    _share_memcached_clients(store)
    return store


def _break_memcached(store: MemcachedStore | AsyncMemcachedStore) -> None:
    """Simulate an outage: every server is now TCP port 0 on 127.0.0.1, where nothing listens."""
    from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]

    dead = PooledClient(("127.0.0.1", 0), connect_timeout=0.2, timeout=0.2)
    store._memcached.clients = {name: dead for name in store._memcached.clients}
    store._memcached.retries = 0


#: ``python -m conformance reference_impl.testing:memcached`` on ``$SESSIONSPEC_MEMCACHED_SERVERS``:
#: every store gets its own random key prefix, and its items expire within an hour.
memcached = ConformanceFactory(
    "memcached", _memcached_store, _MEMCACHED_CAPABILITIES, break_backend=_break_memcached
)
#: ``AsyncMemcachedStore``, as :data:`memcached`.
async_memcached = ConformanceFactory(
    "async-memcached",
    _async_memcached_store,
    _MEMCACHED_CAPABILITIES,
    break_backend=_break_memcached,
)
