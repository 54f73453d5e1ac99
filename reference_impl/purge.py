"""Deleting expired sessions on a schedule: once (cron) or in-process (an asyncio task).

Expired sessions are refused on load whatever happens here; purging only
reclaims the space they hold. Two ways to run it:

* ``python -m reference_impl purge module:attribute`` runs ``purge_expired()``
  once, prints the count and exits non-zero on failure: for cron, a systemd
  timer or a Kubernetes CronJob (:func:`purge_once`).
* :class:`PeriodicPurge` does the same from inside an async app, every
  ``interval`` seconds with random jitter, so several workers started
  together do not purge in lock-step, and stops cleanly with the app.

Each store bounds its own work per statement (``SQLStore.purge_expired``
deletes ``batch_size`` rows at a time), so a purge never holds a table lock
for long.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Callable
from types import TracebackType
from typing import Self

from spec.errors import ConfigurationError

__all__ = ["PeriodicPurge", "purge_once", "purge_once_async"]

_log = logging.getLogger("sessionspec.purge")


def _purge_method(store: object) -> Callable[..., object]:
    method = getattr(store, "purge_expired", None)
    if not callable(method):
        raise ConfigurationError(
            f"{type(store).__name__} has no purge_expired(): its backend expires sessions "
            "by itself (Memcached) or cannot list them; there is nothing to schedule"
        )
    return method  # type: ignore[no-any-return]


def _count(result: object, store: object) -> int:
    if isinstance(result, bool) or not isinstance(result, int):
        raise ConfigurationError(
            f"{type(store).__name__}.purge_expired() returned {result!r}, not a count"
        )
    return result


def purge_once(store: object) -> int:
    """Run ``store.purge_expired()`` once, sync or async, and return how many went.

    For scripts and the CLI: an async store's purge runs on a new event loop.
    A backend failure raises :class:`~spec.errors.StoreError`.
    """
    result = _purge_method(store)()
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    return _count(result, store)


async def purge_once_async(store: object) -> int:
    """:func:`purge_once` from async code: awaited, or in a worker thread for a sync store."""
    method = _purge_method(store)
    if inspect.iscoroutinefunction(method):
        return _count(await method(), store)
    result = await asyncio.to_thread(method)
    if inspect.isawaitable(result):
        result = await result
    return _count(result, store)


async def _awaited(result: object) -> object:
    assert inspect.isawaitable(result)
    return await result


class PeriodicPurge:
    """Purge ``store`` every ``interval`` seconds (± ``jitter`` of it) until stopped.

    ::

        purge = PeriodicPurge(store, interval=3600)
        purge.start()          # in the app's startup (lifespan)
        ...
        await purge.stop()     # in its shutdown: waits for a purge in progress

    or ``async with PeriodicPurge(store, interval=3600): ...``. A failed
    purge (``StoreError``: the database is down) is logged on
    ``sessionspec.purge`` and retried at the next interval; it never ends
    the task. ``runs`` and ``purged`` count what it did.
    """

    def __init__(self, store: object, *, interval: float = 3600.0, jitter: float = 0.1) -> None:
        _purge_method(store)  # refuse a store with nothing to purge at once
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ConfigurationError(f"interval must be a number of seconds > 0; got {interval!r}")
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
            raise ConfigurationError(f"jitter must be a fraction in [0, 1); got {jitter!r}")
        self.store = store
        self.interval = float(interval)
        self.jitter = float(jitter)
        self.runs = 0
        self.purged = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._random = random.SystemRandom()

    def next_delay(self) -> float:
        """Seconds until the next purge: the interval, spread by the jitter."""
        spread = self.interval * self.jitter
        return self.interval + self._random.uniform(-spread, spread)

    def start(self) -> None:
        """Start purging in a task on the running loop (``ConfigurationError`` if started)."""
        if self._task is not None and not self._task.done():
            raise ConfigurationError("this PeriodicPurge is already running; stop() it first")
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sessionspec-purge")

    async def stop(self) -> None:
        """Stop, letting a purge in progress finish, and wait for the task to end.

        The wait between purges ends at once; a purge already running is
        not cancelled mid-statement (that could leave a pooled database
        connection checked out and never returned), and each of its
        statements is bounded by the store's own timeouts.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task

    @property
    def running(self) -> bool:
        """Whether the purge task is alive."""
        return self._task is not None and not self._task.done()

    async def run_once(self) -> int:
        """One purge now, counted and logged like the scheduled ones; failures are logged."""
        self.runs += 1
        try:
            count = await purge_once_async(self.store)
        except Exception:
            self.failures += 1
            _log.exception("purging %s failed; retrying in %.0fs", self.label, self.interval)
            return 0
        self.purged += count
        _log.info("purged %d expired sessions from %s", count, self.label)
        return count

    @property
    def label(self) -> str:
        """The store's class name, for log lines."""
        return type(self.store).__name__

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), self.next_delay())
            except TimeoutError:
                await self.run_once()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
