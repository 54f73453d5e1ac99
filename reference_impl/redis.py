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

import hashlib
import math
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any, NamedTuple, Self

try:
    import redis as redis_py
    from redis.backoff import EqualJitterBackoff
    from redis.cluster import RedisCluster
    from redis.exceptions import NoScriptError, RedisClusterException, RedisError
    from redis.retry import Retry
    from redis.sentinel import Sentinel
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "redis", "redis", __name__) from None

from reference_impl._store.drivers import ServerSideStore
from spec import Clock, Options
from spec.errors import ConfigurationError, DeserializeError, StoreError
from spec.protocols import Serializer

# The helpers below with a leading underscore (_RedisKeys, _SetCommand,
# _as_store_error, _Script, _pool_settings, _unpack, _BACKOFF, _durable_delete,
# _sentinel_settings) are shared with
# reference_impl.aio.redis only, so both stores send the same commands; they
# are not API.
__all__ = ["DEFAULT_URL", "RedisStore"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_FAILURES = (RedisError, RedisClusterException, OSError)


class _as_store_error:  # lower case: used like the function it replaced
    """Turn every client failure into :class:`StoreError`: an outage is never "no session".

    A class rather than ``@contextlib.contextmanager``: it wraps every command
    of every request, and a generator-based manager costs a generator
    object and two resumptions each time.
    """

    __slots__ = ("action",)

    def __init__(self, action: str) -> None:
        self.action = action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc is not None and isinstance(exc, _FAILURES):
            raise StoreError(
                f"{type(exc).__name__}: {exc}", backend="redis", action=self.action
            ) from exc


class _Script(NamedTuple):
    """A Lua script and its SHA-1, so a call can send ``EVALSHA`` instead of the text.

    ``EVAL`` ships the whole script (hundreds of bytes) with every request
    and has the server hash it again; ``EVALSHA`` names the cached script.
    A server that does not have it cached (restarted, ``SCRIPT FLUSH``, a
    failover to a replica, a cluster node that never ran it) answers
    ``NOSCRIPT``, and the call is repeated once as ``EVAL``, which caches it
    again. Nothing is loaded up front, so start-up still needs no Redis.
    """

    text: str
    sha: str

    @classmethod
    def of(cls, text: str) -> _Script:
        return cls(text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())

    def run(self, client: Any, key: str, *args: object) -> object:
        """The script's reply on ``key`` with ``args``, through a sync client."""
        try:
            return client.evalsha(self.sha, 1, key, *args)
        except NoScriptError:
            return client.eval(self.text, 1, key, *args)

    async def arun(self, client: Any, key: str, *args: object) -> object:
        """The script's reply on ``key`` with ``args``, through a ``redis.asyncio`` client."""
        try:
            return await client.evalsha(self.sha, 1, key, *args)
        except NoScriptError:
            return await client.eval(self.text, 1, key, *args)


class _SetCommand(NamedTuple):
    """One ``SET key value [EX ttl] NX|XX``, built once for the sync and async backends."""

    key: str
    value: str
    ex: int | None
    nx: bool
    xx: bool


#: ``swap`` as one atomic, single-key script (so Redis Cluster routes it like
#: a GET): replace the record only if its data part still reads ``ARGV[1]``.
_SWAP_SCRIPT = _Script.of("""
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
""")


#: Delete one record if its deadline has passed (``ARGV[1]`` is now): the
#: check and the delete are one atomic step, so a session saved meanwhile
#: (a new deadline) is never purged. Single-key, like every command here.
_PURGE_SCRIPT = _Script.of("""
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local bar = string.find(current, '|', 1, true)
if not bar or bar == 1 then return 0 end
local deadline = tonumber(string.sub(current, 1, bar - 1))
if deadline and deadline < tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
""")


#: List a session under a user (S-10.11): one sorted set per user, the session
#: IDs scored by their deadline (``+inf``: none). ``GT`` only ever pushes a
#: deadline out, so the entry outlives its record. The key's own TTL is the
#: longest entry's: Redis drops a user's index once every session in it has
#: expired, and entries past their deadline are pruned when it is read.
#: One key per call (the user's), so it runs on Redis Cluster unchanged.
_INDEX_USER_SCRIPT = _Script.of("""
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('PERSIST', KEYS[1])
  return 1
end
local ttl = tonumber(ARGV[3])
local current = redis.call('TTL', KEYS[1])
if fresh or (current >= 0 and current < ttl) then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return 1
""")

#: A user's listed IDs whose deadline is not before ``ARGV[1]`` (now); the others go.
_USER_SESSIONS_SCRIPT = _Script.of("""
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
""")


def _glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis ``MATCH`` pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


class _RedisKeys:
    """Where and what both backends write: keys, packed records and ``SET`` options.

    Shared with ``reference_impl.aio.redis``, so the async store sends
    exactly the commands this one does.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ttl_cap: int | None = None
        #: ``WAIT`` after a delete for this many replicas (0: no WAIT), up to this many ms.
        self.durable_replicas, self.durable_timeout_ms = 0, 0

    def check_acknowledged(self, acknowledged: object) -> None:
        """Raise :class:`StoreError` unless ``WAIT`` reported enough replicas.

        The delete did happen on the primary, but a failover now could
        promote a replica that never saw it and bring the session back, so
        the logout is reported as failed rather than as done.
        """
        count = acknowledged if isinstance(acknowledged, int) else -1
        if count < self.durable_replicas:
            raise StoreError(
                f"only {max(count, 0)} of {self.durable_replicas} replica(s) acknowledged the "
                f"delete within {self.durable_timeout_ms} ms; a failover could undo it",
                backend="redis",
                action="delete a session durably (WAIT)",
            )

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    def user_key(self, user_id: str) -> str:
        """The sorted set of ``user_id``'s sessions: ``<prefix>user:<user ID>`` (S-10.11).

        ``:`` never occurs in a session ID, so it can never be a session's
        key; purge skips it (not a string), and a user ID has no ``{``, so
        no hash tag can pin it to another key's slot.
        """
        return f"{self.prefix}user:{user_id}"

    def index_args(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> tuple[str, str, str, str]:
        """The key and arguments of :data:`_INDEX_USER_SCRIPT`."""
        if ttl is not None and self.ttl_cap is not None:
            ttl = min(ttl, self.ttl_cap)
        score = "+inf" if expires_at is None else repr(float(expires_at))
        return self.user_key(user_id), score, session_id, "" if ttl is None else str(ttl)

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
        if self.durable_replicas:
            # DEL and WAIT on one connection: WAIT waits for that connection's writes.
            with _as_store_error("delete a session (DEL + WAIT)"):
                pipe = self.client.pipeline(transaction=False)
                pipe.delete(self.key(session_id))
                pipe.wait(self.durable_replicas, self.durable_timeout_ms)
                removed, acknowledged = pipe.execute()
            self.check_acknowledged(acknowledged)
            return bool(removed)
        with _as_store_error("delete a session (DEL)"):
            removed = self.client.delete(self.key(session_id))
        return bool(removed)  # DEL answers how many keys it removed: 0 or 1

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        key, *args = self.swap_args(session_id, expected, data, expires_at, ttl)
        with _as_store_error("touch a session (EVALSHA)"):
            done = _SWAP_SCRIPT.run(self.client, key, *args)
        return bool(done)

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        key, *args = self.index_args(session_id, user_id, expires_at, ttl)
        with _as_store_error("index a user's session (EVALSHA)"):
            _INDEX_USER_SCRIPT.run(self.client, key, *args)

    def unindex_user(self, session_id: str, user_id: str) -> None:
        with _as_store_error("unindex a user's session (ZREM)"):
            self.client.zrem(self.user_key(user_id), session_id)

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        with _as_store_error("list a user's sessions (EVALSHA)"):
            found = _USER_SESSIONS_SCRIPT.run(self.client, self.user_key(user_id), repr(float(now)))
        return _ids(found)

    def _set(self, command: _SetCommand) -> bool:
        with _as_store_error("write a session (SET)"):
            done: object = self.client.set(
                command.key, command.value, ex=command.ex, nx=command.nx, xx=command.xx
            )
        return bool(done)


def _ids(found: object) -> list[str]:
    """Session IDs from a script's reply (bytes or str, as the client decodes)."""
    if not isinstance(found, list):
        return []
    return [item.decode("ascii") if isinstance(item, bytes) else str(item) for item in found]


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


def _durable_delete(
    backend: _RedisKeys, client: object, replicas: int, timeout_ms: int, label: str
) -> None:
    """Check and set the opt-in ``WAIT`` after deletes (sync and async stores alike)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ConfigurationError(f"{label}: durable_delete_replicas must be an int >= 0")
    if not replicas:
        return
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ConfigurationError(
            f"{label}: durable_delete_timeout_ms must be a positive int (WAIT 0 would block "
            "a logout forever while a replica is down)"
        )
    if isinstance(client, RedisCluster) or type(client).__name__ == "RedisCluster":
        raise ConfigurationError(
            f"{label}: durable deletes (WAIT) are not supported on Redis Cluster; "
            "use a primary with replicas (Sentinel) or leave durable_delete_replicas at 0"
        )
    pool = getattr(client, "connection_pool", None)
    socket_timeout = getattr(pool, "connection_kwargs", {}).get("socket_timeout")
    if isinstance(socket_timeout, int | float) and timeout_ms >= socket_timeout * 1000:
        raise ConfigurationError(
            f"{label}: durable_delete_timeout_ms ({timeout_ms}) must be below the "
            f"socket_timeout ({socket_timeout:g} s), or the socket gives up before WAIT answers"
        )
    backend.durable_replicas, backend.durable_timeout_ms = replicas, timeout_ms


def _sentinel_primary(
    sentinel_class: Callable[..., Any],
    retry_class: Callable[..., Any],
    sentinels: Sequence[tuple[str, int]],
    service_name: str,
    *,
    password: str | None,
    sentinel_password: str | None,
    db: int,
    timeouts: tuple[float, float],
    retries: int,
    label: str,
    settings: dict[str, Any],
) -> tuple[Any, Any]:
    """A client of the primary ``service_name`` names, and its ``Sentinel``, sync or async.

    One recipe for both stores (``redis.sentinel`` or ``redis.asyncio.sentinel``
    classes): the data connections get the store's timeouts and quick
    retries, and so do the connections to the sentinels, whose own default
    would back off for seconds when none answers.
    """
    socket_timeout, socket_connect_timeout = timeouts
    addresses, sentinel_kwargs = _sentinel_settings(
        sentinels,
        service_name,
        socket_timeout,
        socket_connect_timeout,
        sentinel_password,
        label,
        settings,
    )
    pool_settings, _ = _pool_settings(socket_timeout, socket_connect_timeout, None, retries)
    sentinel_kwargs["retry"] = retry_class(_BACKOFF(), retries)
    sentinel = sentinel_class(
        addresses,
        sentinel_kwargs=sentinel_kwargs,
        password=password,
        db=db,
        retry=retry_class(_BACKOFF(), retries),
        **pool_settings,
    )
    return sentinel.master_for(service_name), sentinel


def _sentinel_settings(
    sentinels: Sequence[tuple[str, int]],
    service_name: str,
    timeout: float,
    connect_timeout: float,
    sentinel_password: str | None,
    label: str,
    settings: dict[str, Any],
) -> tuple[list[tuple[str, int]], dict[str, object]]:
    """Checked sentinel addresses and the keywords for the connections *to the sentinels*.

    Those get the same short timeouts as the data connections: a hung
    sentinel must not block a request that only needed to find the primary.
    Keywords that would be silently ignored (the pool comes from Sentinel)
    are refused.
    """
    ignored = sorted({"url", "client", "max_connections"} & settings.keys())
    if ignored:
        raise ConfigurationError(
            f"{label}.from_sentinel: {', '.join(ignored)} cannot be combined with sentinels "
            "(the store's pool connects to the primary Sentinel names)"
        )
    addresses = list(sentinels)
    if not addresses or not all(
        isinstance(a, tuple | list) and len(a) == 2 and isinstance(a[1], int) for a in addresses
    ):
        raise ConfigurationError(
            f"{label}: sentinels must be a non-empty list of (host, port) pairs, not {sentinels!r}"
        )
    if not isinstance(service_name, str) or not service_name:
        raise ConfigurationError(f"{label}: service_name must name the monitored primary")
    to_sentinels: dict[str, object] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
    }
    if sentinel_password is not None:
        to_sentinels["password"] = sentinel_password
    return [(str(h), int(p)) for h, p in addresses], to_sentinels


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
    TTL, so there is no ``purge_expired()``. :meth:`from_sentinel` builds
    the store on the primary Redis Sentinel names.

    Replication is asynchronous: a delete the primary acknowledged can be
    lost if the primary fails before a replica got it, and the promoted
    replica then brings the logged-out session back. With
    ``durable_delete_replicas=n`` every delete (logout, ``regenerate_id``'s
    old ID, an expired session's record) is followed by ``WAIT n
    durable_delete_timeout_ms`` on the same connection, and fewer than
    ``n`` acknowledgements raise :class:`~spec.errors.StoreError`: the
    logout is reported as failed (503, no cookie change) rather than
    silently undoable. Not on Redis Cluster.
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
        durable_delete_replicas: int = 0,
        durable_delete_timeout_ms: int = 500,
    ) -> None:
        self._owned: redis_py.ConnectionPool | None = None
        self._sentinel: Sentinel | None = None
        if client is None:
            client = _client_for(
                url, socket_timeout, socket_connect_timeout, max_connections, retries
            )
            self._owned = client.connection_pool
        elif url != DEFAULT_URL:
            raise ConfigurationError("RedisStore: pass url or client, not both")
        self._redis = _RedisBackend(client, prefix)
        _durable_delete(
            self._redis,
            client,
            durable_delete_replicas,
            durable_delete_timeout_ms,
            "RedisStore",
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
        """A store on the primary that Redis Sentinel names for ``service_name``.

        ``sentinels`` are ``(host, port)`` pairs; ``password`` is the Redis
        servers' (``sentinel_password`` the sentinels', if they have one).
        Every new connection asks the sentinels where the primary is, so
        after a failover the same store reaches the promoted replica with no
        restart; while the failover runs, requests get
        :class:`~spec.errors.StoreError`, never a fresh session. The
        timeouts and retries are those of a ``url`` store, and also bound
        each query to a sentinel. Other keywords (``prefix``, ``options``,
        ``durable_delete_replicas``, ...) are the constructor's.
        :meth:`close` releases the pool and the sentinel connections.
        """
        client: redis_py.Redis
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

    def purge_expired(self, batch_size: int = 1000) -> int:
        """Delete the records past their deadline on the store's clock; count them.

        Redis drops abandoned keys by TTL by itself, so this is rarely needed:
        it matters for records whose deadline is the store's clock's, not
        Redis's (a test clock, a TTL capped by ``ttl_cap``). Keys are walked
        with ``SCAN`` (``batch_size`` per round trip, every node of a
        cluster) and each is checked and deleted by one atomic script, so
        nothing blocks the server for long.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive int; got {batch_size!r}")
        client, now, removed = self._redis.client, repr(float(self.clock())), 0
        with _as_store_error("purge sessions (SCAN, EVALSHA)"):
            pattern = _glob_escape(self._redis.prefix) + "*"
            for key in client.scan_iter(match=pattern, count=batch_size):
                removed += 1 if _PURGE_SCRIPT.run(client, key, now) else 0  # 1: deleted
        return self._purged(removed)

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
        if self._sentinel is not None:
            for connection in self._sentinel.sentinels:
                connection.close()
