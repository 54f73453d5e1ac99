"""AsyncMemoryStore: server-side sessions in a dict, behind an async interface."""

from __future__ import annotations

import time

from reference_impl._store.backend import InlineBackend
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl.memory import DEFAULT_MAX_SESSIONS, _MemoryBackend
from spec import Clock, Options

__all__ = ["AsyncMemoryStore"]


class AsyncMemoryStore(AsyncServerSideStore):
    """:class:`~reference_impl.memory.MemoryStore` for async apps (tests, single process).

    Bounded like it (``max_sessions``, S-12.2). Each backend step is a dict
    (and heap) operation under a lock held for microseconds, so it runs on
    the event loop directly: a thread hop would cost more than the step.
    Same backend and same core as the sync store.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        clock: Clock | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        self._memory = _MemoryBackend(clock or time.time, max_sessions)
        super().__init__(
            InlineBackend(self._memory),
            *key_pairs,
            options=options,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def max_sessions(self) -> int:
        """The most records this store holds; a new session beyond it evicts one (S-12.2)."""
        return self._memory.max_sessions

    async def purge_expired(self) -> int:
        """Drop records past their deadline; return how many were dropped."""
        return self._purged(self._memory.purge_expired())

    def __len__(self) -> int:
        """The number of live (unexpired) records."""
        return len(self._memory)
