"""AsyncMemoryStore: server-side sessions in a dict, behind an async interface."""

from __future__ import annotations

from reference_impl import memory
from reference_impl._store.core import ConformanceFactory
from reference_impl._store.drivers import AsyncStoreBase
from reference_impl._store.plan import Op
from reference_impl._store.server_side import perform
from reference_impl.memory import DEFAULT_MAX_SESSIONS, MemoryStore
from spec import Clock, Options

__all__ = ["AsyncMemoryStore", "conformance_factory"]


class AsyncMemoryStore(AsyncStoreBase[MemoryStore]):
    """:class:`~reference_impl.memory.MemoryStore` for async apps (tests, single process).

    Bounded like it (``max_sessions``, S-12.2). Each backend step is a dict
    (and heap) operation under a lock held for microseconds, so it runs on
    the event loop directly: a thread hop would cost more than the step.
    The sync store does the work.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        clock: Clock | None = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        super().__init__(
            MemoryStore(*key_pairs, options=options, clock=clock, max_sessions=max_sessions)
        )

    @property
    def max_sessions(self) -> int:
        """The most records this store holds; a new session beyond it evicts one (S-12.2)."""
        return self.core.max_sessions

    async def _perform(self, op: Op) -> object:
        return perform(self.core.backend, op)

    async def purge_expired(self) -> int:
        """Drop records past their deadline; return how many were dropped."""
        return self.core.purge_expired()

    def __len__(self) -> int:
        """The number of live (unexpired) records."""
        return len(self.core)


#: ``python -m conformance reference_impl.aio.memory:conformance_factory``
conformance_factory = ConformanceFactory(
    "async-memory",
    lambda clock, keys: AsyncMemoryStore(*keys, clock=clock),
    memory.conformance_factory.capabilities,
)
