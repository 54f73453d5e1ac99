"""AsyncRedisStore: server-side sessions in Redis through ``redis.asyncio``.

Needs the ``sessionspec[redis]`` extra (redis-py). Keys, record format
(``<deadline>|<securecookie text>``) and commands (GET, SET NX/XX with EX,
DEL) are those of :class:`reference_impl.redis.RedisStore`, built by the
same ``reference_impl.redis._RedisKeys``, so sync and async stores (and
their processes) share one Redis keyspace. Like every ``redis.asyncio``
client, a store's connections belong to the event loop that opened them:
use a store from one loop (the app's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Self

try:
    import redis.asyncio as aredis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "redis", "redis", __name__) from None

from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl._store.plan import Record
from reference_impl.redis import (
    _BACKOFF,
    _INDEX_USER_SCRIPT,
    _PURGE_SCRIPT,
    _SWAP_SCRIPT,
    _USER_SESSIONS_SCRIPT,
    DEFAULT_URL,
    _as_store_error,
    _durable_delete,
    _glob_escape,
    _ids,
    _pool_settings,
    _RedisKeys,
    _sentinel_primary,
    _SetCommand,
    _unpack,
)
from spec import Clock, Options
from spec.errors import ConfigurationError
from spec.protocols import Serializer

__all__ = ["AsyncRedisStore"]


class _AsyncRedisBackend(_RedisKeys):
    """The sync backend's commands, awaited; every failure is a :class:`StoreError`."""

    def __init__(self, client: aredis.Redis | RedisCluster, prefix: str) -> None:
        super().__init__(prefix)
        self.client = client

    async def read(self, session_id: str) -> Record | None:
        with _as_store_error("read a session (GET)"):
            raw: object = await self.client.get(self.key(session_id))
        return None if raw is None else _unpack(raw)

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await self._set(self.set_command(session_id, data, expires_at, ttl, only_new=True))

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await self._set(self.set_command(session_id, data, expires_at, ttl, only_new=False))

    async def delete(self, session_id: str) -> bool:
        if self.durable_replicas:
            # DEL and WAIT on one connection: WAIT waits for that connection's writes.
            with _as_store_error("delete a session (DEL + WAIT)"):
                pipe = self.client.pipeline(transaction=False)
                pipe.delete(self.key(session_id))
                pipe.wait(self.durable_replicas, self.durable_timeout_ms)
                removed, acknowledged = await pipe.execute()
            self.check_acknowledged(acknowledged)
            return bool(removed)
        with _as_store_error("delete a session (DEL)"):
            removed = await self.client.delete(self.key(session_id))
        return bool(removed)  # DEL answers how many keys it removed: 0 or 1

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        key, *args = self.swap_args(session_id, expected, data, expires_at, ttl)
        with _as_store_error("touch a session (EVALSHA)"):
            done = await _SWAP_SCRIPT.arun(self.client, key, *args)
        return bool(done)

    async def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        key, *args = self.index_args(session_id, user_id, expires_at, ttl)
        with _as_store_error("index a user's session (EVALSHA)"):
            await _INDEX_USER_SCRIPT.arun(self.client, key, *args)

    async def unindex_user(self, session_id: str, user_id: str) -> None:
        with _as_store_error("unindex a user's session (ZREM)"):
            await self.client.zrem(self.user_key(user_id), session_id)

    async def user_sessions(self, user_id: str, now: float) -> list[str]:
        with _as_store_error("list a user's sessions (EVALSHA)"):
            found = await _USER_SESSIONS_SCRIPT.arun(
                self.client, self.user_key(user_id), repr(float(now))
            )
        return _ids(found)

    async def _set(self, command: _SetCommand) -> bool:
        with _as_store_error("write a session (SET)"):
            done: object = await self.client.set(
                command.key, command.value, ex=command.ex, nx=command.nx, xx=command.xx
            )
        return bool(done)


def _client_for(
    url: str, timeout: float, connect_timeout: float, max_connections: int | None, retries: int
) -> aredis.Redis:
    """An async client with its own pool, set up as the sync store's; connects lazily."""
    settings, blocking = _pool_settings(timeout, connect_timeout, max_connections, retries)
    pool_class = aredis.BlockingConnectionPool if blocking else aredis.ConnectionPool
    from_url: Callable[..., aredis.ConnectionPool] = pool_class.from_url
    try:
        pool = from_url(url, retry=Retry(_BACKOFF(), retries), **settings)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"AsyncRedisStore: bad url: {exc}") from exc
    return aredis.Redis(connection_pool=pool)


class AsyncRedisStore(AsyncServerSideStore):
    """:class:`~reference_impl.redis.RedisStore` for async apps, on ``redis.asyncio``.

    The same arguments: ``url`` or an existing ``client=``
    (``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster``), not
    both; with ``url`` the store owns a pool with short timeouts and quick
    retries (the same bounds on a hung or unreachable server, S-10.10), and
    :meth:`close` (awaited) releases it. Any Redis failure
    raises :class:`~spec.errors.StoreError`. Keys expire by TTL, so there is
    no ``purge_expired()``. :meth:`from_sentinel` and the opt-in durable
    delete (``durable_delete_replicas``, ``WAIT`` after every delete) are
    the sync store's.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        url: str = DEFAULT_URL,
        prefix: str = "session_",
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        client: aredis.Redis | RedisCluster | None = None,
        socket_timeout: float = 2.0,
        socket_connect_timeout: float = 2.0,
        max_connections: int | None = None,
        retries: int = 1,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
        durable_delete_replicas: int = 0,
        durable_delete_timeout_ms: int = 500,
    ) -> None:
        self._owned: aredis.ConnectionPool | None = None
        self._sentinel: Sentinel | None = None
        if client is None:
            client = _client_for(
                url, socket_timeout, socket_connect_timeout, max_connections, retries
            )
            self._owned = client.connection_pool
        elif url != DEFAULT_URL:
            raise ConfigurationError("AsyncRedisStore: pass url or client, not both")
        self._redis = _AsyncRedisBackend(client, prefix)
        _durable_delete(
            self._redis,
            client,
            durable_delete_replicas,
            durable_delete_timeout_ms,
            "AsyncRedisStore",
        )
        super().__init__(
            self._redis,
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def client(self) -> aredis.Redis | RedisCluster:
        """The ``redis.asyncio`` client the store talks through."""
        return self._redis.client

    @property
    def prefix(self) -> str:
        """Prepended to every session ID to form its Redis key."""
        return self._redis.prefix

    def key_for(self, session_id: str) -> str:
        """The Redis key holding session ``session_id``."""
        return self._redis.key(session_id)

    @classmethod
    def from_sentinel(
        cls,
        *key_pairs: bytes,
        sentinels: Sequence[tuple[str, int]],
        service_name: str,
        password: str | None = None,
        sentinel_password: str | None = None,
        db: int = 0,
        socket_timeout: float = 2.0,
        socket_connect_timeout: float = 2.0,
        retries: int = 1,
        **settings: Any,
    ) -> Self:
        """:meth:`RedisStore.from_sentinel <reference_impl.redis.RedisStore.from_sentinel>`
        on ``redis.asyncio``: the primary Sentinel names, found again after a failover."""
        client: aredis.Redis
        client, sentinel = _sentinel_primary(
            Sentinel,
            Retry,
            sentinels,
            service_name,
            password=password,
            sentinel_password=sentinel_password,
            db=db,
            timeouts=(socket_timeout, socket_connect_timeout),
            retries=retries,
            label=cls.__name__,
            settings=settings,
        )
        store = cls(*key_pairs, client=client, **settings)
        store._owned, store._sentinel = client.connection_pool, sentinel
        return store

    async def purge_expired(self, batch_size: int = 1000) -> int:
        """``RedisStore.purge_expired``, awaited (see there)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive int; got {batch_size!r}")
        client, now, removed = self._redis.client, repr(float(self.clock())), 0
        with _as_store_error("purge sessions (SCAN, EVALSHA)"):
            pattern = _glob_escape(self._redis.prefix) + "*"
            async for key in client.scan_iter(match=pattern, count=batch_size):
                removed += 1 if await _PURGE_SCRIPT.arun(client, key, now) else 0  # 1: deleted
        return self._purged(removed)

    async def aping(self) -> None:
        """Check Redis answers, for a readiness probe; :class:`StoreError` with the cause if not.

        The sync store's :meth:`~reference_impl.redis.RedisStore.ping`, awaited.
        """
        with _as_store_error("ping (PING)"):
            client = self._redis.client
            if isinstance(client, RedisCluster):
                await client.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                await client.ping()

    async def close(self) -> None:
        """Close the connections of a pool this store made (a passed-in client is yours)."""
        if self._owned is not None:
            await self._owned.disconnect()
        if self._sentinel is not None:
            for connection in self._sentinel.sentinels:
                await connection.aclose()
