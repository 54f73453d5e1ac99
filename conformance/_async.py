"""Async stores under the sync suite: a dedicated event-loop thread and a sync view.

Every clause is written once, as sync code driving a :class:`spec.Store`.
When a hook hands the suite a :class:`spec.AsyncStore`, the suite wraps it
in :class:`SyncStoreView`, whose methods run the store's coroutines on one
event loop that lives in its own thread for the whole process. So:

* the clauses, the stateful machine, ``python -m conformance`` and
  Hypothesis run unchanged against async stores;
* clients bound to an event loop (``redis.asyncio``, SQLAlchemy's async
  engines) see one loop for their whole life, even when test fixtures
  share them across tests;
* tests that use threads (S-9.18, S-10.6) become concurrent tasks on that
  loop, the way an ASGI server would run them.

Hooks that take a store (``raw_record``, ``break_backend``, ``close_store``) are given the
real async store, and may be coroutine functions: the suite awaits them on
the loop. :func:`run_async` runs anything else there (closing a client in a
fixture's teardown, say).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from spec import AsyncStore, Registry, Request, ResponseWriter, Session
from spec.registry import is_async_store

__all__ = ["SyncStoreView", "accept_async_hooks", "as_sync_store", "real_store", "run_async"]

_T = TypeVar("_T")
_WRAPPED = "_conformance_accepts_async"
#: Hooks that return a store, and hooks that take one as their first argument.
_MAKING_HOOKS = ("make_store", "make_store_with_keys", "make_store_with_timeouts")
_USING_HOOKS = ("raw_record", "break_backend", "close_store")


class _SuiteLoop:
    """One event loop, in one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(
                    target=serve, name="conformance-event-loop", daemon=True
                )
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread


_SUITE_LOOP = _SuiteLoop()


def run_async(awaitable: Awaitable[_T]) -> _T:
    """Run ``awaitable`` on the suite's event-loop thread and return its result.

    Every async store under test runs there; call this from test code (a
    fixture's teardown, a hook), never from a coroutine on that loop.
    """
    if _SUITE_LOOP.in_loop_thread():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()  # never started: no "never awaited" warning
        raise RuntimeError("run_async() called from the suite's own event loop: await instead")
    if asyncio.iscoroutine(awaitable):  # the common case: no wrapper coroutine
        result: _T = asyncio.run_coroutine_threadsafe(awaitable, _SUITE_LOOP.get()).result()
        return result

    async def wait() -> _T:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(wait(), _SUITE_LOOP.get()).result()


class SyncStoreView:
    """A :class:`spec.Store` that runs an async store's coroutines on the suite's loop.

    ``get`` caches through the sync :meth:`Registry.get` keyed by this view,
    and sessions are bound to the view, so ``session.save`` and ``save_all``
    (which the clauses use) reach the async store's ``save``. Any other
    attribute is the store's own; a method returning an awaitable is run to
    completion (``purge_expired``), and one returning an async store is
    wrapped too (``with_keys``).
    """

    def __init__(self, store: AsyncStore) -> None:
        self.async_store = store

    def get(self, request: Request, name: str) -> Session:
        """Return session ``name`` of this request, loading it once."""
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        """Await the async store's ``new``; the session is bound to this view."""
        session = run_async(self.async_store.new(request, name))
        session.bind(self)
        return session

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Await the async store's ``save``."""
        run_async(self.async_store.save(request, response, session))

    def __getattr__(self, name: str) -> Any:
        if name == "async_store":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        attribute = getattr(self.async_store, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args: object, **kwargs: object) -> object:
            return _synced(attribute(*args, **kwargs))

        return call

    def __repr__(self) -> str:
        return f"SyncStoreView({self.async_store!r})"


def _synced(result: object) -> object:
    if inspect.isawaitable(result):
        result = run_async(result)
    return as_sync_store(result)


def as_sync_store(store: _T) -> _T:
    """``store`` itself, or a :class:`SyncStoreView` of it if it is an async store."""
    if is_async_store(store) and not isinstance(store, SyncStoreView):
        return cast(_T, SyncStoreView(store))
    return store


def real_store(store: object) -> object:
    """The store a :class:`SyncStoreView` shows (anything else is returned as is)."""
    return store.async_store if isinstance(store, SyncStoreView) else store


def _making(hook: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(hook)
    def make(self: object, *args: object, **kwargs: object) -> object:
        return _synced(hook(self, *args, **kwargs))  # an ``async def`` hook is awaited too

    setattr(make, _WRAPPED, True)
    return make


def _using(hook: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(hook)
    def use(self: object, store: object, *args: object, **kwargs: object) -> object:
        result = hook(self, real_store(store), *args, **kwargs)
        return run_async(result) if inspect.isawaitable(result) else result

    setattr(use, _WRAPPED, True)
    return use


def accept_async_hooks(cls: type) -> None:
    """Let the hooks ``cls`` defines deal in async stores (called for every suite subclass).

    ``make_store`` and ``make_store_with_keys`` may return an async store
    (or be ``async def``): the suite gets a :class:`SyncStoreView` of it.
    ``raw_record``, ``break_backend`` and ``close_store`` receive the real store and may be
    coroutine functions. Sync stores pass through untouched.
    """
    for names, wrap in ((_MAKING_HOOKS, _making), (_USING_HOOKS, _using)):
        for name in names:
            hook = cls.__dict__.get(name)
            if inspect.isfunction(hook) and not getattr(hook, _WRAPPED, False):
                setattr(cls, name, wrap(hook))
