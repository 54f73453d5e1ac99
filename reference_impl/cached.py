"""CachedStore: a cache backend (Memcached, Redis) in front of a primary one (SQL).

Loads come from the cache and fall back to the primary, filling the cache;
every write and delete goes to the primary first and then removes the cached
copy (invalidation, never an overwrite), so the primary always decides and a
logout is never undone by a stale cache entry. Both sides are
:class:`~reference_impl.RecordBackend` objects, for instance the ``backend``
of a :class:`~reference_impl.sql.SQLStore` and of a
:class:`~reference_impl.memcached.MemcachedStore`. The async twin is
``reference_impl.aio.cached``; ``docs/backends/cached.md`` gives the
guarantees in full.
"""

from __future__ import annotations

import logging

from reference_impl._store.backend import RecordBackend, SwapBackend, can_swap
from reference_impl._store.drivers import ServerSideStore
from reference_impl._store.plan import Record
from spec import Clock, Options
from spec.errors import ConfigurationError, DeserializeError, StoreError
from spec.protocols import Serializer

# _check_cache_ttl, _invalidation_failed and _log are shared with reference_impl.aio.cached.
__all__ = ["DEFAULT_CACHE_TTL", "CachedBackend", "CachedStore", "cached_backend"]

#: Seconds a cached copy lives at most: the bound on staleness if an invalidation fails.
DEFAULT_CACHE_TTL = 300

_log = logging.getLogger("sessionspec.cache")


def _check_cache_ttl(cache_ttl: int) -> int:
    """``cache_ttl`` must be a positive number of seconds: a copy must not live forever."""
    if isinstance(cache_ttl, bool) or not isinstance(cache_ttl, int) or cache_ttl < 1:
        raise ConfigurationError(
            f"cache_ttl must be a positive number of seconds, not {cache_ttl!r}: it bounds how "
            "long a cached copy can outlive a failed invalidation"
        )
    return cache_ttl


def _invalidation_failed(exc: StoreError) -> StoreError:
    """The :class:`StoreError` of a write whose cached copy could not be removed."""
    return StoreError(
        f"the primary was written, but the cached copy may remain until its cache_ttl ends: {exc}",
        backend=exc.backend,
        action="invalidate a cached session",
    )


class CachedBackend:
    """A :class:`RecordBackend` that reads through ``cache`` and writes to ``primary``.

    * ``read``: the cache; on a miss the primary, then the record is added
      to the cache (``create``: never over another copy) for ``cache_ttl``
      seconds and the primary is read once more: if the record changed or
      went in between, the copy just added is removed again. That re-check
      closes the race where a load fills the cache with a record that a
      concurrent logout deleted just after the load read it: without it the
      cache would serve the logged-out session until the copy expired.
    * ``create``: the primary; then the new record is added to the cache
      (safe: nobody else knows a fresh ID yet). A cache failure there is
      logged, not raised.
    * ``update``, ``delete`` (and ``swap``): the primary first, then the
      cached copy is deleted. A concurrent load cannot put the old record
      back (the re-check above), so once the call returns no load sees the
      record as it was before.
    * A cache that fails on read (``StoreError``) or holds a corrupt copy
      is logged at WARNING on ``sessionspec.cache`` and the primary answers.
    * A cache that fails on invalidation makes the write raise
      :class:`StoreError`: the primary holds the change, but the old copy
      may still be cached, and the caller must know (a logout answered with
      a 503, not with success). That copy lives at most ``cache_ttl``
      seconds: the bound on staleness when the cache fails at the worst
      moment. While the cache is down, loads and new sessions keep working
      from the primary; saves of existing sessions fail closed.
    """

    def __init__(
        self, primary: RecordBackend, cache: RecordBackend, cache_ttl: int = DEFAULT_CACHE_TTL
    ) -> None:
        self.primary = primary
        self.cache = cache
        self.cache_ttl = _check_cache_ttl(cache_ttl)

    def read(self, session_id: str) -> Record | None:
        try:
            cached = self.cache.read(session_id)
        except (StoreError, DeserializeError) as exc:
            _log.warning("session cache unusable on read, using the primary: %s", exc)
            if isinstance(exc, DeserializeError):
                self._forget_quietly(session_id)
            return self.primary.read(session_id)
        if cached is not None:
            return cached
        record = self.primary.read(session_id)
        if record is None or not self._fill(session_id, record):
            return record
        again = self.primary.read(session_id)
        if again != record:  # written or deleted meanwhile: the copy may be stale
            self._invalidate(session_id)
        return again

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        if not self.primary.create(session_id, data, expires_at, ttl):
            return False
        self._fill(session_id, (data, expires_at))
        return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        updated = self.primary.update(session_id, data, expires_at, ttl)
        self._invalidate(session_id)  # also when gone: a copy must not outlive its record
        return updated

    def delete(self, session_id: str) -> bool:
        removed = self.primary.delete(session_id)
        self._invalidate(session_id)
        return removed

    def purge_expired(self) -> int:
        """The primary's purge (cached copies of purged records are past their deadline)."""
        purge = getattr(self.primary, "purge_expired", None)
        if purge is None:
            raise ConfigurationError(
                f"the primary backend {type(self.primary).__name__} has no purge_expired()"
            )
        count: int = purge()
        return count

    def _fill(self, session_id: str, record: Record) -> bool:
        """Add a copy; ``True`` if it may have landed (added, or the outcome is unknown)."""
        data, expires_at = record
        try:
            return self.cache.create(session_id, data, expires_at, self.cache_ttl)
        except StoreError as exc:
            _log.warning("session cache unusable on fill: %s", exc)
            return True

    def _invalidate(self, session_id: str) -> None:
        try:
            self.cache.delete(session_id)
        except StoreError as exc:
            _log.error("session cache invalidation failed: %s", exc)
            raise _invalidation_failed(exc) from exc

    def _forget_quietly(self, session_id: str) -> None:
        try:
            self.cache.delete(session_id)
        except StoreError as exc:
            _log.warning("session cache: could not remove a corrupt copy: %s", exc)


class _SwappingCachedBackend(CachedBackend):
    """:class:`CachedBackend` over a primary that can ``swap``: touches, then invalidation."""

    primary: SwapBackend

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        swapped = self.primary.swap(session_id, expected, data, expires_at, ttl)
        if swapped:
            self._invalidate(session_id)
        return swapped


def cached_backend(
    primary: RecordBackend, cache: RecordBackend, cache_ttl: int = DEFAULT_CACHE_TTL
) -> CachedBackend:
    """A :class:`CachedBackend`, with ``swap`` exactly when the primary has it."""
    if can_swap(primary):
        return _SwappingCachedBackend(primary, cache, cache_ttl)
    return CachedBackend(primary, cache, cache_ttl)


class CachedStore(ServerSideStore):
    """A server-side store over ``primary_backend`` with ``cache_backend`` in front of it.

    ::

        sql = SQLStore(HASH_KEY, BLOCK_KEY, url="postgresql+psycopg://...")
        memcached = MemcachedStore(HASH_KEY, BLOCK_KEY, servers=["cache:11211"])
        store = CachedStore(sql.backend, memcached.backend, HASH_KEY, BLOCK_KEY)

    The keys sign the cookie (the records on both sides are the same
    signed text). ``cache_ttl`` (seconds, default 300) is how long a cached
    copy lives at most, and so how long a copy can outlive a write whose
    invalidation failed (that write raises :class:`StoreError`). Every
    guarantee of the primary holds; see :class:`CachedBackend` for the
    order of operations, and ``docs/backends/cached.md``.
    ``purge_expired()`` is the primary's, if it has one.
    """

    backend: CachedBackend

    def __init__(
        self,
        primary_backend: RecordBackend,
        cache_backend: RecordBackend,
        *key_pairs: bytes,
        cache_ttl: int = DEFAULT_CACHE_TTL,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        super().__init__(
            cached_backend(primary_backend, cache_backend, cache_ttl),
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def primary(self) -> RecordBackend:
        """The backend that decides: every write lands here first."""
        return self.backend.primary

    @property
    def cache(self) -> RecordBackend:
        """The backend loads try first."""
        return self.backend.cache

    def purge_expired(self) -> int:
        """Run the primary's ``purge_expired()``; :class:`ConfigurationError` if it has none."""
        return self.backend.purge_expired()
