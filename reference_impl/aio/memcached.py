"""AsyncMemcachedStore: server-side sessions in Memcached, for async apps.

Needs the ``sessionspec[memcached]`` extra (pymemcache). Every command is the
sync :class:`~reference_impl.memcached.MemcachedStore`'s very code, run in a
worker thread (:class:`~reference_impl.ThreadedBackend` style): keys, record
format, ``add``/``replace``/``delete``, retries and error wrapping cannot drift
between the twins, and sync and async processes share one keyspace.

A thread rather than an asyncio client: pymemcache is the one Memcached
client the extra installs, and asyncio clients (aiomcache) would duplicate
the command logic for a round trip of well under a millisecond, against a
thread hop of some tens of microseconds. Each step holds a worker thread
for at most ``(retries + 1) * timeout``, so a hung server cannot stall the
event loop, only bound threads of the default executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reference_impl._store.backend import ThreadedBackend
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl.memcached import DEFAULT_SERVERS, ServerSpec, _MemcachedBackend
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["AsyncMemcachedStore"]


class AsyncMemcachedStore(AsyncServerSideStore):
    """:class:`~reference_impl.memcached.MemcachedStore` for async apps; each command in a thread.

    The same arguments, keys, guarantees and limits (eviction and restarts
    lose sessions; no ``purge_expired()``). Any Memcached failure raises
    :class:`~spec.errors.StoreError`. The pools are thread-safe, so one store
    serves any number of event loops.
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
            ThreadedBackend(self._memcached),
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

    async def aping(self) -> None:
        """Check every server answers (a readiness probe); :class:`StoreError` if one does not."""
        await asyncio.to_thread(self._memcached.ping)

    async def close(self) -> None:
        """Close the pooled connections (the store reconnects if used again)."""
        await asyncio.to_thread(self._memcached.close)
