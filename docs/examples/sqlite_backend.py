"""A session backend on the standard library's sqlite3, wrapped in ``ServerSideStore``.

It is the backend built step by step in ``docs/writing-a-backend.md``:
four methods on opaque records, and everything
else (signed ID cookies, ID checks, expiry, no overwrite, no resurrection,
logging) comes from ``reference_impl.ServerSideStore``; ``SQLiteStore``
adds ``purge_expired`` and ``close``. From the repository root, prove it
with::

    python -m conformance --level server-side docs.examples.sqlite_backend:factory

``draft_factory`` is the tutorial's first draft, whose ``update`` writes back
a deleted row: the same command on it fails S-10.5 and nothing else
(``tests/test_backend_tutorial.py`` checks both).
"""

from __future__ import annotations

import sqlite3
import threading

from reference_impl import ServerSideStore
from reference_impl.testing import ConformanceFactory
from spec import Clock
from spec.errors import StoreError


class DraftBackend:
    """Sessions in one SQLite table. First draft: ``update`` brings back a deleted row."""

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.Lock()  # one connection, shared by every thread
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._run(
            "create the table",
            "CREATE TABLE IF NOT EXISTS sessions "
            "(id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at REAL)",
        )

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        _, row = self._run(
            "read a session", "SELECT data, expires_at FROM sessions WHERE id = ?", session_id
        )
        return None if row is None else (row[0], row[1])

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        changed, _ = self._run(
            "create a session",
            "INSERT OR IGNORE INTO sessions VALUES (?, ?, ?)",
            session_id,
            data,
            expires_at,
        )
        return changed == 1  # False: the ID is taken, and nothing was written

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        self._run(
            "update a session",
            "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
            session_id,
            data,
            expires_at,
        )
        return True

    def delete(self, session_id: str) -> bool:
        changed, _ = self._run("delete a session", "DELETE FROM sessions WHERE id = ?", session_id)
        return changed == 1  # True only if this call removed the row

    def purge(self, now: float) -> int:
        changed, _ = self._run("purge sessions", "DELETE FROM sessions WHERE expires_at < ?", now)
        return changed  # rows past their deadline; a row at its deadline still lives

    def close(self) -> None:
        self._db.close()

    def _run(
        self, action: str, sql: str, *args: object
    ) -> tuple[int, tuple[str, float | None] | None]:
        """Run one statement under the lock; return (rows changed, first row)."""
        try:
            with self._lock:
                cursor = self._db.execute(sql, args)
                return cursor.rowcount, cursor.fetchone()
        except sqlite3.Error as exc:  # an outage must never look like "no session"
            raise StoreError(str(exc), backend="sqlite", action=action) from exc


class SQLiteBackend(DraftBackend):
    """The fixed backend: ``update`` changes an existing row or reports that it is gone."""

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        changed, _ = self._run(
            "update a session",
            "UPDATE sessions SET data = ?, expires_at = ? WHERE id = ?",
            data,
            expires_at,
            session_id,
        )
        return changed == 1  # False: deleted meanwhile (a logout), so do not write it back


class SQLiteStore(ServerSideStore):
    """``ServerSideStore`` over a SQLite backend, with ``purge_expired`` and ``close``."""

    def __init__(
        self, backend: DraftBackend, *key_pairs: bytes, clock: Clock | None = None
    ) -> None:
        super().__init__(backend, *key_pairs, clock=clock)
        self.sqlite = backend

    def purge_expired(self) -> int:
        """Delete the rows past their deadline (run it from cron); count them."""
        return self.sqlite.purge(self.clock())

    def close(self) -> None:
        """Close the connection (the conformance suite calls it after each test)."""
        self.sqlite.close()


#: What the store declares: its records carry their own deadline. Being
#: server-side, regenerate_id and purge_expired the suite sees for itself.
CAPABILITIES: dict[str, object] = {"record_deadlines": True}

#: ``python -m conformance docs.examples.sqlite_backend:factory``
factory = ConformanceFactory(
    "sqlite",
    lambda clock, keys: SQLiteStore(SQLiteBackend(), *keys, clock=clock),
    CAPABILITIES,
    break_backend=lambda store: store.sqlite.close(),  # the outage, for S-10.4
)

#: The first draft, for the same command: it fails S-10.5.
draft_factory = ConformanceFactory(
    "sqlite-draft",
    lambda clock, keys: SQLiteStore(DraftBackend(), *keys, clock=clock),
    CAPABILITIES,
    break_backend=lambda store: store.sqlite.close(),
)
