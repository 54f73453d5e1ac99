"""AsyncCachedStore: the cache tier of :mod:`reference_impl.cached`, awaited.

The same order of operations (reads through the cache with a re-check of
the primary after each fill; writes to the primary, then invalidation) over
two :class:`~reference_impl.aio.AsyncRecordBackend` objects, for instance the
``backend`` of an ``AsyncSQLStore`` and of an ``AsyncMemcachedStore``.
"""

from __future__ import annotations

from reference_impl._store.backend import AsyncRecordBackend, AsyncSwapBackend, can_swap
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl._store.plan import Record
from reference_impl.cached import (
    DEFAULT_CACHE_TTL,
    _check_cache_ttl,
    _invalidation_failed,
    _log,
)
from spec import Clock, Options
from spec.errors import ConfigurationError, DeserializeError, StoreError
from spec.protocols import Serializer

__all__ = ["AsyncCachedBackend", "AsyncCachedStore", "async_cached_backend"]


class AsyncCachedBackend:
    """:class:`reference_impl.cached.CachedBackend` with every step awaited; the same contract."""

    def __init__(
        self,
        primary: AsyncRecordBackend,
        cache: AsyncRecordBackend,
        cache_ttl: int = DEFAULT_CACHE_TTL,
    ) -> None:
        self.primary = primary
        self.cache = cache
        self.cache_ttl = _check_cache_ttl(cache_ttl)

    async def read(self, session_id: str) -> Record | None:
        try:
            cached = await self.cache.read(session_id)
        except (StoreError, DeserializeError) as exc:
            _log.warning("session cache unusable on read, using the primary: %s", exc)
            if isinstance(exc, DeserializeError):
                await self._forget_quietly(session_id)
            return await self.primary.read(session_id)
        if cached is not None:
            return cached
        record = await self.primary.read(session_id)
        if record is None or not await self._fill(session_id, record):
            return record
        again = await self.primary.read(session_id)
        if again != record:  # written or deleted meanwhile: the copy may be stale
            await self._invalidate(session_id)
        return again

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        if not await self.primary.create(session_id, data, expires_at, ttl):
            return False
        await self._fill(session_id, (data, expires_at))
        return True

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        updated = await self.primary.update(session_id, data, expires_at, ttl)
        await self._invalidate(session_id)
        return updated

    async def delete(self, session_id: str) -> bool:
        removed = await self.primary.delete(session_id)
        await self._invalidate(session_id)
        return removed

    async def purge_expired(self) -> int:
        """The primary's purge (cached copies of purged records are past their deadline)."""
        purge = getattr(self.primary, "purge_expired", None)
        if purge is None:
            raise ConfigurationError(
                f"the primary backend {type(self.primary).__name__} has no purge_expired()"
            )
        count: int = await purge()
        return count

    async def _fill(self, session_id: str, record: Record) -> bool:
        data, expires_at = record
        try:
            return await self.cache.create(session_id, data, expires_at, self.cache_ttl)
        except StoreError as exc:
            _log.warning("session cache unusable on fill: %s", exc)
            return True

    async def _invalidate(self, session_id: str) -> None:
        try:
            await self.cache.delete(session_id)
        except StoreError as exc:
            _log.error("session cache invalidation failed: %s", exc)
            raise _invalidation_failed(exc) from exc

    async def _forget_quietly(self, session_id: str) -> None:
        try:
            await self.cache.delete(session_id)
        except StoreError as exc:
            _log.warning("session cache: could not remove a corrupt copy: %s", exc)


class _AsyncSwappingCachedBackend(AsyncCachedBackend):
    primary: AsyncSwapBackend

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        swapped = await self.primary.swap(session_id, expected, data, expires_at, ttl)
        if swapped:
            await self._invalidate(session_id)
        return swapped


def async_cached_backend(
    primary: AsyncRecordBackend, cache: AsyncRecordBackend, cache_ttl: int = DEFAULT_CACHE_TTL
) -> AsyncCachedBackend:
    """An :class:`AsyncCachedBackend`, with ``swap`` exactly when the primary has it."""
    if can_swap(primary):
        return _AsyncSwappingCachedBackend(primary, cache, cache_ttl)
    return AsyncCachedBackend(primary, cache, cache_ttl)


class AsyncCachedStore(AsyncServerSideStore):
    """:class:`reference_impl.cached.CachedStore` for async apps, over async backends.

    ``AsyncCachedStore(sql.backend, memcached.backend, HASH_KEY, BLOCK_KEY)``
    with an ``AsyncSQLStore`` and an ``AsyncMemcachedStore``; the same
    ``cache_ttl`` and guarantees.
    """

    backend: AsyncCachedBackend

    def __init__(
        self,
        primary_backend: AsyncRecordBackend,
        cache_backend: AsyncRecordBackend,
        *key_pairs: bytes,
        cache_ttl: int = DEFAULT_CACHE_TTL,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        super().__init__(
            async_cached_backend(primary_backend, cache_backend, cache_ttl),
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def primary(self) -> AsyncRecordBackend:
        """The backend that decides: every write lands here first."""
        return self.backend.primary

    @property
    def cache(self) -> AsyncRecordBackend:
        """The backend loads try first."""
        return self.backend.cache

    async def purge_expired(self) -> int:
        """Run the primary's ``purge_expired()``; :class:`ConfigurationError` if it has none."""
        return await self.backend.purge_expired()
