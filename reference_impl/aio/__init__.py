"""Async twins of the reference stores, for ASGI apps (``spec.AsyncStore``, S-5.7, S-8.3).

* ``AsyncCookieStore``: ``CookieStore``, no I/O at all, runs on the loop;
* ``AsyncMemoryStore``: ``MemoryStore``, dict steps that cannot block, on the loop;
* ``AsyncFilesystemStore``: ``FilesystemStore``, every file step in a worker thread;
* ``AsyncRedisStore``: ``RedisStore`` on ``redis.asyncio``;
* ``AsyncSQLStore``: ``SQLStore`` on SQLAlchemy's asyncio engine;
* ``AsyncMemcachedStore``: ``MemcachedStore``, each pymemcache command in a worker thread.

Each takes its sync twin's constructor arguments and makes the same
decisions by running the same sans-I/O plans (``reference_impl._store.plan``);
only the way a backend step is performed differs. ``AsyncRedisStore``,
``AsyncSQLStore`` and ``AsyncMemcachedStore`` are imported on first use, so
this package needs neither redis-py, SQLAlchemy nor pymemcache unless they
are asked for. See ``docs/async.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from reference_impl._store.backend import AsyncRecordBackend as AsyncRecordBackend
from reference_impl._store.backend import AsyncUserIndexBackend as AsyncUserIndexBackend
from reference_impl._store.drivers import AsyncServerSideStore as AsyncServerSideStore
from reference_impl.aio.cookie_store import AsyncCookieStore as AsyncCookieStore
from reference_impl.aio.filesystem import AsyncFilesystemStore as AsyncFilesystemStore
from reference_impl.aio.memory import AsyncMemoryStore as AsyncMemoryStore

if TYPE_CHECKING:
    from reference_impl.aio.memcached import AsyncMemcachedStore as AsyncMemcachedStore
    from reference_impl.aio.redis import AsyncRedisStore as AsyncRedisStore
    from reference_impl.aio.sql import AsyncSQLStore as AsyncSQLStore
    from spec import AsyncStore

    # mypy proves every store here is an AsyncStore (S-8.3).
    _STORES: tuple[type[AsyncStore], ...] = (
        AsyncCookieStore,
        AsyncMemoryStore,
        AsyncFilesystemStore,
        AsyncRedisStore,
        AsyncSQLStore,
        AsyncMemcachedStore,
    )

__all__ = [
    "AsyncCookieStore",
    "AsyncFilesystemStore",
    "AsyncMemcachedStore",
    "AsyncMemoryStore",
    "AsyncRecordBackend",
    "AsyncRedisStore",
    "AsyncSQLStore",
    "AsyncServerSideStore",
    "AsyncUserIndexBackend",
]

_LAZY = {
    "AsyncRedisStore": "reference_impl.aio.redis",
    "AsyncSQLStore": "reference_impl.aio.sql",
    "AsyncMemcachedStore": "reference_impl.aio.memcached",
}


def __getattr__(name: str) -> object:
    """Import the stores with optional dependencies only when they are used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
