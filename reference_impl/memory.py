"""MemoryStore: server-side sessions in a dict, for tests and single-process apps."""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from itertools import count

from reference_impl._store.drivers import ServerSideStore
from spec import Clock, Options
from spec.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_SESSIONS", "MemoryStore"]

#: Records a :class:`MemoryStore` holds at most unless told otherwise. A
#: record costs about 500 bytes (a small session: the encoded values, its
#: key, the dict and heap entries), so the default bounds the store near
#: 50 MB: enough for any app that should run on one process's memory, and
#: small enough that cookie-less requests, each creating a session, cannot
#: exhaust the host's memory.
DEFAULT_MAX_SESSIONS = 100_000

_log = logging.getLogger("sessionspec")


class _MemoryBackend:
    """A thread-safe, bounded dict of records; every operation is atomic under one lock.

    Beside the dict, a min-heap orders the records by deadline (no deadline
    sorts last; ties by age), so expiry and eviction look only at its top:
    ``O(log n)`` per record instead of a scan of every record. Updates and
    deletes leave the old heap entry in place (lazy deletion: an entry
    counts only while its sequence number is the record's), and the heap
    is rebuilt once stale entries outnumber live ones, which keeps it at
    most about twice the size of the dict.
    """

    def __init__(self, clock: Clock, max_sessions: int) -> None:
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ConfigurationError(
                f"max_sessions must be a positive int, got {max_sessions!r} "
                f"(the default is {DEFAULT_MAX_SESSIONS})"
            )
        self._records: dict[str, tuple[str, float | None, int]] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        self._sequence = count()
        self._lock = threading.Lock()
        self._clock = clock
        # user ID -> {session ID: deadline}, for user_sessions (S-10.11); same lock.
        self._users: dict[str, dict[str, float]] = {}
        self.max_sessions = max_sessions
        self.evicted_live = 0

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        with self._lock:
            record = self._records.get(session_id)
        return None if record is None else (record[0], record[1])

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            if session_id in self._records:
                return False
            if len(self._records) >= self.max_sessions:
                self._evict_one()
            self._put(session_id, data, expires_at)
            return True

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        with self._lock:
            if session_id not in self._records:
                return False
            self._put(session_id, data, expires_at)
            return True

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        with self._lock:
            record = self._records.get(session_id)
            if record is None or record[0] != expected:
                return False
            self._put(session_id, data, expires_at)
            return True

    def delete(self, session_id: str) -> bool:
        with self._lock:
            return self._records.pop(session_id, None) is not None

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        deadline = math.inf if expires_at is None else expires_at
        now = self._clock()
        with self._lock:
            entries = self._users.setdefault(user_id, {})
            for stale in [sid for sid, until in entries.items() if until < now]:
                del entries[stale]  # pruned here too, so a user's entries stay bounded
            entries[session_id] = max(deadline, entries.get(session_id, -math.inf))

    def unindex_user(self, session_id: str, user_id: str) -> None:
        with self._lock:
            entries = self._users.get(user_id)
            if entries is not None:
                entries.pop(session_id, None)
                if not entries:
                    del self._users[user_id]

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        with self._lock:
            entries = self._users.get(user_id, {})
            return [sid for sid, until in entries.items() if until >= now]

    def purge_expired(self) -> int:
        now = self._clock()
        with self._lock:
            for user_id in list(self._users):  # and user entries whose record is gone
                entries = self._users[user_id]
                for sid in [s for s, until in entries.items() if until < now]:
                    del entries[sid]
                for sid in [s for s in entries if s not in self._records]:
                    del entries[sid]
                if not entries:
                    del self._users[user_id]
            return self._drop_expired(now)

    def live(self) -> int:
        """The number of unexpired records (expired ones are dropped on the way)."""
        now = self._clock()
        with self._lock:
            self._drop_expired(now)
            return len(self._records)

    def _put(self, session_id: str, data: str, expires_at: float | None) -> None:
        seq = next(self._sequence)
        self._records[session_id] = (data, expires_at, seq)
        deadline = math.inf if expires_at is None else expires_at
        heapq.heappush(self._deadlines, (deadline, seq, session_id))
        if len(self._deadlines) > 2 * len(self._records) + 64:
            self._rebuild()

    def _current(self, entry: tuple[float, int, str]) -> bool:
        record = self._records.get(entry[2])
        return record is not None and record[2] == entry[1]

    def _drop_expired(self, now: float) -> int:
        """Pop records whose deadline is past (``expires_at < now``), as a load would refuse."""
        dropped = 0
        heap = self._deadlines
        while heap and heap[0][0] < now:
            entry = heapq.heappop(heap)
            if self._current(entry):
                del self._records[entry[2]]
                dropped += 1
        return dropped

    def _evict_one(self) -> None:
        """Make room: the record closest to its deadline goes (an expired one first)."""
        now = self._clock()
        if self._drop_expired(now):
            return
        heap = self._deadlines
        while heap:
            entry = heapq.heappop(heap)
            if self._current(entry):
                del self._records[entry[2]]
                self.evicted_live += 1
                if self.evicted_live == 1:
                    _log.warning(
                        "MemoryStore is full (%d live sessions): evicting the ones closest to "
                        "expiry; raise max_sessions or use a shared store (Redis, SQL)",
                        self.max_sessions,
                    )
                return

    def _rebuild(self) -> None:
        self._deadlines = [
            (math.inf if exp is None else exp, seq, sid)
            for sid, (_, exp, seq) in self._records.items()
        ]
        heapq.heapify(self._deadlines)

    def __len__(self) -> int:
        return self.live()


class MemoryStore(ServerSideStore):
    """Sessions kept in this process's memory; the cookie holds only the signed ID.

    Meant for tests and single-process apps: the data is lost on restart
    and not shared between worker processes. Records are stored encoded (as
    gorilla's securecookie text), so a request never shares mutable values
    with another, and each record keeps its own deadline, so a session's
    shorter ``max_age`` is enforced here, not only in the browser.

    At most ``max_sessions`` records are kept (default
    :data:`DEFAULT_MAX_SESSIONS`): every visit without a cookie that saves
    a session adds one, so an unbounded dict lets anyone exhaust the
    process's memory. When the store is full, a new session first evicts
    expired records, then the live ones closest to their deadline (their
    users are logged out a little early; a WARNING on the ``sessionspec``
    logger says so once). Each eviction costs ``O(log n)`` (S-12.2).

    ``blocking = False``: no I/O (the lock is held only for dict work), so
    async code calls this store inline rather than in a worker thread.
    """

    blocking = False

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
            self._memory,
            *key_pairs,
            options=options,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    @property
    def max_sessions(self) -> int:
        """The most records this store holds; a new session beyond it evicts one."""
        return self._memory.max_sessions

    def purge_expired(self) -> int:
        """Drop records past their deadline; return how many were dropped."""
        return self._purged(self._memory.purge_expired())

    def __len__(self) -> int:
        """The number of live (unexpired) records."""
        return len(self._memory)
