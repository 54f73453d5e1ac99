"""RedisStore: server-side sessions in Redis, one key per session.

Needs the ``sessionspec[redis]`` extra (redis-py). The cookie holds the signed
session ID; the key ``<prefix><ID>`` holds ``<deadline>|<securecookie text>``.
The securecookie text is the values signed (and, with a block key,
encrypted) exactly as a CookieStore would put them in a cookie, so whoever
can write to Redis cannot forge session values without the hash key, nor
read them when there is a block key. The deadline (Unix seconds on the
store's clock, empty for none) lets the store enforce a session's shorter
``max_age`` itself (S-10.8).

Every command touches one key (GET, SET NX/XX, DEL), so the store works on
Redis Cluster unchanged (pass a ``redis.cluster.RedisCluster`` as
``client=``). The Redis TTL only collects garbage; whether a session is alive
is decided by the store's clock (``docs/backends/redis.md``). The keys,
record format and commands (``_RedisKeys``) are shared with the async
twin, ``reference_impl.aio.redis.AsyncRedisStore``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import NamedTuple

try:
    import redis as redis_py
    from redis.backoff import EqualJitterBackoff
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException, RedisError
    from redis.retry import Retry
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "redis", "redis", __name__) from None

from reference_impl._store.drivers import ServerSideStore
from spec import Clock, Options
from spec.errors import ConfigurationError, DeserializeError, StoreError
from spec.protocols import Serializer

# The helpers below with a leading underscore (_RedisKeys, _SetCommand,
# _as_store_error, _pool_settings, _unpack, _BACKOFF) are shared with
# reference_impl.aio.redis only, so both stores send the same commands; they
# are not API.
__all__ = ["DEFAULT_URL", "RedisStore"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_FAILURES = (RedisError, RedisClusterException, OSError)


@contextlib.contextmanager
def _as_store_error(action: str) -> Iterator[None]:
    """Turn every client failure into :class:`StoreError`: an outage is never "no session"."""
    try:
        yield
    except _FAILURES as exc:
        raise StoreError(f"{type(exc).__name__}: {exc}", backend="redis", action=action) from exc


class _SetCommand(NamedTuple):
    """One ``SET key value [EX ttl] NX|XX``, built once for the sync and async backends."""

    key: str
    value: str
    ex: int | None
    nx: bool
    xx: bool


#: ``swap`` as one atomic, single-key script (so Redis Cluster routes it like
#: a GET): replace the record only if its data part still reads ``ARGV[1]``.
_SWAP_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local bar = string.find(current, '|', 1, true)
if not bar or string.sub(current, bar + 1) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
"""


class _RedisKeys:
    """Where and what both backends write: keys, packed records and ``SET`` options.

    Shared with ``reference_impl.aio.redis``, so the async store sends
    exactly the commands this one does.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ttl_cap: int | None = None

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    def set_command(
        self,
        session_id: str,
        data: str,
        expires_at: float | None,
        ttl: int | None,
        *,
        only_new: bool,
    ) -> _SetCommand:
        """``SET NX`` to create (never overwrites), ``SET XX`` to update (never resurrects)."""
        if ttl is not None and self.ttl_cap is not None:
            ttl = min(ttl, self.ttl_cap)
        # Without a TTL (store max age 0), a plain SET also clears an old one.
        return _SetCommand(
            self.key(session_id), _pack(data, expires_at), ttl, only_new, not only_new
        )

    def swap_args(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> tuple[str, str, str, str]:
        """The key and arguments of :data:`_SWAP_SCRIPT`."""
        command = self.set_command(session_id, data, expires_at, ttl, only_new=False)
        ex = "" if command.ex is None else str(command.ex)
        return command.key, expected, command.value, ex


class _RedisBackend(_RedisKeys):
    """The four record primitives, one single-key Redis command each.

    ``create`` is ``SET NX`` (never overwrites another session), ``update`` is
    ``SET XX`` (a session deleted meanwhile, by logout in another tab, is
    not brought back): both are atomic in Redis, so no lock or transaction
    is needed and nothing spans two keys. ``ttl`` becomes ``EX`` so Redis
    drops abandoned sessions by itself.
    """

    def __init__(self, client: redis_py.Redis | RedisCluster, prefix: str) -> None:
        super().__init__(prefix)
        self.client = client

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        with _as_store_error("read a session (GET)"):
            raw: object = self.client.get(self.key(session_id))
        return None if raw is None else _unpack(raw)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        return self._set(self.set_command(session_id, data, expires_at, ttl, only_new=True))

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        return self._set(self.set_command(session_id, data, expires_at, ttl, only_new=False))

    def delete(self, session_id: str) -> bool:
        with _as_store_error("delete a session (DEL)"):
            removed: object = self.client.delete(self.key(session_id))
        return bool(removed)  # DEL answers how many keys it removed: 0 or 1

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        key, *args = self.swap_args(session_id, expected, data, expires_at, ttl)
        with _as_store_error("touch a session (EVAL)"):
            done: object = self.client.eval(_SWAP_SCRIPT, 1, key, *args)
        return bool(done)

    def _set(self, command: _SetCommand) -> bool:
        with _as_store_error("write a session (SET)"):
            done: object = self.client.set(
                command.key, command.value, ex=command.ex, nx=command.nx, xx=command.xx
            )
        return bool(done)


def _pack(data: str, expires_at: float | None) -> str:
    return ("" if expires_at is None else repr(float(expires_at))) + "|" + data


def _unpack(raw: object) -> tuple[str, float | None]:
    """Split ``<deadline>|<data>``; anything else is a corrupt record.

    A corrupt value (not ASCII, no ``|``, a deadline that is not a finite
    number; or Go's boj/redistore format, raw unsigned gob) is a decode
    failure: a fresh session, logged, never an outage and never trusted.
    """
    try:
        text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
        head, sep, data = text.partition("|")
        deadline = float(head) if head else None
    except (UnicodeDecodeError, ValueError):
        raise DeserializeError("corrupt session record in redis") from None
    if not sep or (deadline is not None and not math.isfinite(deadline)):
        raise DeserializeError("corrupt session record in redis")
    return data, deadline


def _pool_settings(
    timeout: float, connect_timeout: float, max_connections: int | None, retries: int
) -> tuple[dict[str, object], bool]:
    """Pool keywords (without ``retry``) and whether the pool must block: sync and async alike."""
    if retries < 0 or (max_connections is not None and max_connections < 1):
        raise ConfigurationError("RedisStore: retries must be >= 0, max_connections >= 1")
    # A bounded pool waits up to ``timeout`` for a free connection instead of failing.
    bounded: dict[str, object] = (
        {} if max_connections is None else {"max_connections": max_connections, "timeout": timeout}
    )
    return {"socket_timeout": timeout, "socket_connect_timeout": connect_timeout, **bounded}, bool(
        bounded
    )


#: Quick retries with jitter (``Retry(_BACKOFF(), retries)``, sync or async ``Retry``).
_BACKOFF = partial(EqualJitterBackoff, cap=0.1, base=0.01)


def _client_for(
    url: str, timeout: float, connect_timeout: float, max_connections: int | None, retries: int
) -> redis_py.Redis:
    """A client with its own pool; nothing connects until the first command."""
    settings, blocking = _pool_settings(timeout, connect_timeout, max_connections, retries)
    pool_class = redis_py.BlockingConnectionPool if blocking else redis_py.ConnectionPool
    from_url: Callable[..., redis_py.ConnectionPool] = pool_class.from_url  # untyped in redis 5
    try:
        pool = from_url(url, retry=Retry(_BACKOFF(), retries), **settings)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"RedisStore: bad url: {exc}") from exc
    return redis_py.Redis(connection_pool=pool)


class RedisStore(ServerSideStore):
    """Sessions in Redis; the cookie holds only the signed session ID.

    Give ``url`` (``redis://``, ``rediss://`` or ``unix://``) or an existing
    redis-py ``client=`` (``redis.Redis`` or ``redis.cluster.RedisCluster``),
    not both. With ``url`` the store owns a connection pool: short socket
    timeouts and ``retries`` quick retries, so a hung server fails a request
    after ``(retries + 1) * socket_timeout`` and an unreachable one after
    ``(retries + 1) * socket_connect_timeout`` (4 s each by default, S-10.10):
    each retry waits its timeout again. A ``client=`` keeps its own timeouts
    (redis-py's default is none: a hung server would block forever).
    Retrying is safe: GET, DEL and ``SET XX`` are idempotent, and a ``SET
    NX`` whose first attempt landed reports "exists", so another ID is
    drawn and the orphan expires by TTL. With ``max_connections`` the pool
    blocks up to ``socket_timeout`` for a free connection instead of failing
    at once. Nothing connects until the first request, so start-up does not
    depend on Redis; :meth:`close` releases the pool (shared with
    :meth:`with_keys` clones).

    Any Redis failure raises :class:`~spec.errors.StoreError` from ``get``,
    ``new`` and ``save``; it never passes for "no session". Keys expire by
    TTL, so there is no ``purge_expired()``.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        url: str = DEFAULT_URL,
        prefix: str = "session_",
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        client: redis_py.Redis | RedisCluster | None = None,
        socket_timeout: float = 2.0,
        socket_connect_timeout: float = 2.0,
        max_connections: int | None = None,
        retries: int = 1,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        self._owned: redis_py.ConnectionPool | None = None
        if client is None:
            client = _client_for(
                url, socket_timeout, socket_connect_timeout, max_connections, retries
            )
            self._owned = client.connection_pool
        elif url != DEFAULT_URL:
            raise ConfigurationError("RedisStore: pass url or client, not both")
        self._redis = _RedisBackend(client, prefix)
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
    def client(self) -> redis_py.Redis | RedisCluster:
        """The redis-py client the store talks through."""
        return self._redis.client

    @property
    def prefix(self) -> str:
        """Prepended to every session ID to form its Redis key."""
        return self._redis.prefix

    def key_for(self, session_id: str) -> str:
        """The Redis key holding session ``session_id``."""
        return self._redis.key(session_id)

    def ping(self) -> None:
        """Check Redis answers, for a readiness probe; :class:`StoreError` with the cause if not.

        One ``PING`` through the store's own client, so with the same pool,
        timeouts and retries as a request: it fails when requests would. On
        Redis Cluster every primary must answer, since each holds sessions.
        """
        with _as_store_error("ping (PING)"):
            client = self._redis.client
            if isinstance(client, RedisCluster):
                client.ping(target_nodes=RedisCluster.PRIMARIES)
            else:
                client.ping()

    def close(self) -> None:
        """Close the connections of a pool this store made (a passed-in client is yours)."""
        if self._owned is not None:
            self._owned.disconnect()
