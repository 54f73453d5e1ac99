"""MemoryStore: server-side sessions in a dict, for tests and single-process apps."""

from __future__ import annotations

import threading
import time

from reference_impl._base import ConformanceFactory
from reference_impl._server_side import ServerSideStore
from spec import Clock, Options

__all__ = ["MemoryStore", "conformance_factory"]


class _MemoryBackend:
    """A thread-safe dict of records; every operation is atomic under one lock."""

    def __init__(self, clock: Clock) -> None:
        self._records: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        with self._lock:
            return self._records.get(session_id)

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            if session_id in self._records:
                return False
            self._records[session_id] = (data, expires_at)
            return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            if session_id not in self._records:
                return False
            self._records[session_id] = (data, expires_at)
            return True

    def delete(self, session_id: str) -> bool:
        with self._lock:
            return self._records.pop(session_id, None) is not None

    def purge_expired(self) -> int:
        now = self._clock()
        with self._lock:
            dead = [sid for sid, (_, exp) in self._records.items() if exp is not None and exp < now]
            for sid in dead:
                del self._records[sid]
        return len(dead)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


class MemoryStore(ServerSideStore):
    """Sessions kept in this process's memory; the cookie holds only the signed ID.

    Meant for tests and single-process apps: the data is lost on restart
    and not shared between worker processes. Records are stored encoded (as
    gorilla's securecookie text), so a request never shares mutable values
    with another, and each record keeps its own deadline, so a session's
    shorter ``max_age`` is enforced here, not only in the browser.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._memory = _MemoryBackend(clock or time.time)
        super().__init__(self._memory, key_pairs, options, None, clock)

    def purge_expired(self) -> int:
        """Drop records past their deadline; return how many were dropped."""
        return self._memory.purge_expired()

    def __len__(self) -> int:
        """The number of records held (live or not yet purged)."""
        return len(self._memory)


#: ``python -m conformance reference_impl.memory:conformance_factory``
conformance_factory = ConformanceFactory(
    "memory",
    lambda clock, keys: MemoryStore(*keys, clock=clock),
    {
        "server_side": True,
        "regenerate_id": True,
        "purge_expired": True,
        "record_deadlines": True,
        "max_value_bytes": 4096,
    },
)
