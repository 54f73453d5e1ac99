"""MemcachedStore: server-side sessions in Memcached, one item per session.

Needs the ``sessionspec[memcached]`` extra (pymemcache). The cookie holds the
signed session ID; the item ``<prefix><ID>`` holds ``<deadline>|<securecookie
text>``, as the Redis store's keys do: the values signed (and, with a block
key, encrypted), so whoever can write to Memcached can neither forge nor read
them, and the deadline (Unix seconds on the store's clock) lets the store
enforce a session's shorter ``max_age`` itself (S-10.8). The Memcached
expiry only collects garbage.

Memcached is a cache: it may evict any item under memory pressure and
forgets everything on a restart. Such a loss shows up as a fresh session
whose ``load_error`` is :class:`~spec.errors.SessionNotFoundError`, never as
a crash, and an unreachable server is always :class:`~spec.errors.StoreError`
(``docs/backends/memcached.md``). The backend and its helpers are shared
with the async twin, ``reference_impl.aio.memcached.AsyncMemcachedStore``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

try:
    from pymemcache.client.base import PooledClient  # type: ignore[import-untyped]
    from pymemcache.client.rendezvous import RendezvousHash  # type: ignore[import-untyped]
    from pymemcache.exceptions import (  # type: ignore[import-untyped]
        MemcacheError,
        MemcacheUnexpectedCloseError,
    )
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "pymemcache", "memcached", __name__) from None

from reference_impl._store.drivers import ServerSideStore
from spec import Clock, Options
from spec.errors import ConfigurationError, DeserializeError, StoreError
from spec.protocols import Serializer

# _MemcachedBackend is shared with reference_impl.aio.memcached only; not API.
__all__ = ["DEFAULT_SERVERS", "MemcachedStore"]

DEFAULT_SERVERS = ("127.0.0.1:11211",)
#: Memcached reads an expiry above 30 days as an absolute Unix time, not seconds from now.
RELATIVE_TTL_LIMIT = 30 * 86400
#: Absolute expiries stay below 2**31 so no server's time arithmetic can overflow.
_MAX_ABSOLUTE = 2**31 - 1
#: The longest key Memcached accepts; an ID is 52 characters.
_MAX_KEY = 250
_ID_LENGTH = 52
#: Failures of the connection itself: the command may be retried on a new one.
_CONNECTION_FAILURES = (OSError, MemcacheUnexpectedCloseError)

ServerSpec = str | tuple[str, int]


def memcached_expire(ttl: int | None, wall: Callable[[], float] = time.time) -> int:
    """The ``exptime`` Memcached needs for a lifetime of ``ttl`` seconds (``0``: never).

    Memcached takes an expiry of up to 30 days as seconds from now, and
    anything larger as an absolute Unix time: a 60-day session sent as
    ``5184000`` would mean 2 March 1970, already past, and the item would
    vanish at once (a silent logout). Beyond 30 days the absolute time is
    sent, from this machine's wall clock (run NTP: a skew only moves when the
    garbage is collected, never whether a session is alive, which the
    deadline inside the value decides). A lifetime past 2038 is sent as
    "never": garbage then stays, sessions still end on their deadline.
    """
    if ttl is None or ttl <= 0:
        return 0
    if ttl <= RELATIVE_TTL_LIMIT:
        return ttl
    at = int(wall()) + ttl
    return at if at <= _MAX_ABSOLUTE else 0


def _pack(data: str, expires_at: float | None) -> bytes:
    return (("" if expires_at is None else repr(float(expires_at))) + "|" + data).encode("ascii")


def _unpack(raw: object) -> tuple[str, float | None]:
    """Split ``<deadline>|<data>``; anything else is a corrupt record (a fresh session, logged)."""
    try:
        text = raw.decode("ascii") if isinstance(raw, bytes) else str(raw)
        head, sep, data = text.partition("|")
        deadline = float(head) if head else None
    except (UnicodeDecodeError, ValueError):
        raise DeserializeError("corrupt session record in memcached") from None
    if not sep or (deadline is not None and not math.isfinite(deadline)):
        raise DeserializeError("corrupt session record in memcached")
    return data, deadline


def _server_spec(server: object) -> ServerSpec:
    """``"host:port"``, ``"host"`` (port 11211), ``"[::1]:11211"``, ``(host, port)`` or a
    Unix socket path (``"/run/memcached.sock"``, ``"unix:/run/memcached.sock"``)."""
    if isinstance(server, tuple) and len(server) == 2:
        host, port = server
        if isinstance(host, str) and isinstance(port, int) and 0 < port < 65536:
            return (host, port)
    elif isinstance(server, str) and server:
        if server.startswith("unix:"):
            return server[5:]
        if server.startswith("/"):
            return server
        host, sep, port_text = server.rpartition(":")
        if not sep or server.endswith("]"):
            host, port_text = server, "11211"
        host = host.strip("[]")
        if host and port_text.isdigit() and 0 < int(port_text) < 65536:
            return (host, int(port_text))
    raise ConfigurationError(
        f"MemcachedStore: bad server {server!r}: give 'host:port', (host, port) "
        "or a Unix socket path"
    )


def _check_prefix(prefix: str) -> str:
    """Memcached keys are at most 250 bytes of printable ASCII without spaces."""
    if not prefix.isascii() or not all(33 <= ord(c) < 127 for c in prefix):
        raise ConfigurationError(
            f"MemcachedStore: prefix {prefix!r} must be printable ASCII without spaces "
            "(Memcached keys cannot hold anything else)"
        )
    if len(prefix) + _ID_LENGTH > _MAX_KEY:
        raise ConfigurationError(
            f"MemcachedStore: prefix is {len(prefix)} characters; at most "
            f"{_MAX_KEY - _ID_LENGTH} fit in Memcached's {_MAX_KEY}-byte keys with a session ID"
        )
    return prefix


class _MemcachedBackend:
    """The four record primitives, one atomic Memcached command each (and ``swap``).

    ``create`` is ``add`` (stores only if the key is absent: never
    overwrites another session), ``update`` is ``replace`` (stores only if
    the key is present: a session deleted meanwhile, by a logout in another
    tab, is not brought back, S-10.5), ``delete`` answers whether it removed
    the item. Each is atomic on the server, so nothing needs a lock, and of
    two concurrent deletes exactly one answers ``DELETED``.

    ``replace`` rather than ``gets`` + ``cas``: both refuse to recreate a
    deleted item, but ``cas`` needs a ``gets`` first (a second round trip on
    every save) and fails when another request saved the same session in
    between, which is not a lost session and would need a retry loop.

    With several servers, each key goes to one server by rendezvous hashing
    over the fixed list, and a server that is down is a :class:`StoreError`
    for its keys. pymemcache's ``HashClient`` instead drops a failing server
    and rehashes its keys onto the others, and answers "miss" while it
    retries: that is a silent logout, and when the server comes back its
    old items (sessions logged out meanwhile on another server) reappear.
    """

    def __init__(
        self,
        servers: Sequence[object],
        prefix: str,
        *,
        timeout: float,
        connect_timeout: float,
        max_pool_size: int | None,
        retries: int,
    ) -> None:
        if isinstance(servers, str | bytes) or not servers:
            raise ConfigurationError(
                "MemcachedStore: servers must be a non-empty list, e.g. ['127.0.0.1:11211']"
            )
        if retries < 0 or (max_pool_size is not None and max_pool_size < 1):
            raise ConfigurationError("MemcachedStore: retries must be >= 0, max_pool_size >= 1")
        if timeout <= 0 or connect_timeout <= 0:
            raise ConfigurationError("MemcachedStore: timeouts must be positive seconds")
        self.prefix = _check_prefix(prefix)
        self.retries = retries
        #: Caps every expiry (seconds); the conformance factory uses it to leave no litter.
        self.ttl_cap: int | None = None
        self.clients: dict[str, Any] = {}
        for server in servers:
            spec = _server_spec(server)
            name = spec if isinstance(spec, str) else f"{spec[0]}:{spec[1]}"
            self.clients[name] = PooledClient(
                spec,
                connect_timeout=connect_timeout,
                timeout=timeout,
                no_delay=True,
                default_noreply=False,  # every write waits for its answer
                max_pool_size=max_pool_size,
            )
        self._ring = RendezvousHash(list(self.clients))

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    def client_for(self, key: str) -> Any:
        """The one server that holds ``key``, always the same for the same server list."""
        if len(self.clients) == 1:
            return next(iter(self.clients.values()))
        return self.clients[self._ring.get_node(key)]

    def expire(self, ttl: int | None) -> int:
        if ttl is not None and self.ttl_cap is not None:
            ttl = min(ttl, self.ttl_cap)
        return memcached_expire(ttl)

    def _call(self, action: str, client: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        """Run one command; retry on a new connection ``retries`` times; fail as StoreError.

        A retry is safe, and fails closed when the first attempt did land:
        ``get`` and ``version`` change nothing; an ``add`` that landed
        answers "exists" (another ID is drawn, the orphan expires); a
        ``replace`` or ``delete`` that landed is repeated or answers "not
        found" (the save then raises ``SessionInterruptedError``, never
        resurrects anything).
        """
        for attempt in range(self.retries + 1):
            try:
                return getattr(client, command)(*args, **kwargs)
            except _CONNECTION_FAILURES as exc:
                if attempt < self.retries:
                    continue  # the pool dropped that connection; the next one is new
                raise _store_error(action, exc) from exc
            except MemcacheError as exc:  # the server answered with an error
                raise _store_error(action, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        key = self.key(session_id)
        raw = self._call("read a session (get)", self.client_for(key), "get", key)
        return None if raw is None else _unpack(raw)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        key = self.key(session_id)
        stored = self._call(
            "create a session (add)",
            self.client_for(key),
            "add",
            key,
            _pack(data, expires_at),
            expire=self.expire(ttl),
            noreply=False,
        )
        return bool(stored)

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        key = self.key(session_id)
        stored = self._call(
            "update a session (replace)",
            self.client_for(key),
            "replace",
            key,
            _pack(data, expires_at),
            expire=self.expire(ttl),
            noreply=False,
        )
        return bool(stored)

    def delete(self, session_id: str) -> bool:
        key = self.key(session_id)
        removed = self._call(
            "delete a session (delete)", self.client_for(key), "delete", key, noreply=False
        )
        return bool(removed)  # DELETED or NOT_FOUND

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Replace the record only if it still holds ``expected``: ``gets``, then ``cas``.

        For a touch (``idle_timeout``), which re-stamps a session the request
        only read: the ``cas`` token makes the write fail if anyone saved or
        deleted the record since the ``gets``, so a touch never undoes a
        concurrent write and never recreates a deleted session.
        """
        key = self.key(session_id)
        client = self.client_for(key)
        raw, token = self._call("touch a session (gets)", client, "gets", key)
        if raw is None:
            return False
        try:
            current, _ = _unpack(raw)
        except DeserializeError:
            return False
        if current != expected:
            return False
        stored = self._call(
            "touch a session (cas)",
            client,
            "cas",
            key,
            _pack(data, expires_at),
            token,
            expire=self.expire(ttl),
            noreply=False,
        )
        return stored is True  # False: changed meanwhile; None: deleted meanwhile

    def ping(self) -> None:
        """Ask every server for its version: each must answer, or :class:`StoreError`."""
        for name, client in self.clients.items():
            self._call(f"ping {name} (version)", client, "version")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def _store_error(action: str, exc: BaseException) -> StoreError:
    """The client's one-line text (pymemcache's close error has none: say what it means)."""
    text = str(exc).strip()
    if not text:
        text = (
            "the server closed the connection"
            if isinstance(exc, MemcacheUnexpectedCloseError)
            else "no details"
        )
    return StoreError(
        f"{type(exc).__name__}: {text.splitlines()[0]}", backend="memcached", action=action
    )


class MemcachedStore(ServerSideStore):
    """Sessions in Memcached; the cookie holds only the signed session ID.

    ``servers`` lists ``"host:port"`` strings, ``(host, port)`` pairs or Unix
    socket paths (default ``["127.0.0.1:11211"]``). With several, each
    session lives on one of them, chosen by rendezvous hashing over the list;
    keep the list the same on every application server, or sessions seem to
    vanish. Each server gets a thread-safe connection pool (``max_pool_size``
    connections at most, unbounded by default). ``timeout`` bounds every
    reply and ``connect_timeout`` every connect; a connection that fails is
    dropped and the command retried ``retries`` times on a new one, so a
    hung server fails a request after ``(retries + 1) * timeout`` (S-10.10)
    and the first request after a Memcached restart still succeeds.

    ``absolute_timeout`` and ``idle_timeout`` are every store's (a touch is
    ``gets`` + ``cas``). Any Memcached failure raises
    :class:`~spec.errors.StoreError`; it never passes for "no session".

    What Memcached cannot promise: it evicts items when memory runs short
    and loses everything on restart. Either shows up as a fresh session with
    ``load_error`` :class:`~spec.errors.SessionNotFoundError` (or
    :class:`~spec.errors.SessionInterruptedError` from a save, if it happens
    mid-request): a logout, never a crash. There is no
    ``purge_expired()``: Memcached cannot list its keys, and it drops
    expired items by itself. Nothing connects until the first request.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        servers: Sequence[ServerSpec] = DEFAULT_SERVERS,
        prefix: str = "session_",
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        timeout: float = 2.0,
        connect_timeout: float = 2.0,
        max_pool_size: int | None = None,
        retries: int = 1,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        self._memcached = _MemcachedBackend(
            servers,
            prefix,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_pool_size=max_pool_size,
            retries=retries,
        )
        super().__init__(
            self._memcached,
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def prefix(self) -> str:
        """Prepended to every session ID to form its Memcached key."""
        return self._memcached.prefix

    @property
    def servers(self) -> list[str]:
        """The servers, as ``host:port`` or a socket path, in the order given."""
        return list(self._memcached.clients)

    def key_for(self, session_id: str) -> str:
        """The Memcached key holding session ``session_id``."""
        return self._memcached.key(session_id)

    def ping(self) -> None:
        """Check every server answers (for a readiness probe); :class:`StoreError` if one does not.

        The error's ``action`` names the server (``ping 10.0.0.5:11211
        (version)``) and its ``cause`` the client's error.
        """
        self._memcached.ping()

    def close(self) -> None:
        """Close the pooled connections (the store reconnects if used again)."""
        self._memcached.close()
