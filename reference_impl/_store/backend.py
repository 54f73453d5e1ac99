"""What a server-side store asks of its storage: four primitives on encoded records.

A *backend* performs the I/O steps of a plan (``reference_impl._store.plan``)
and nothing else: every decision (ID checks, expiry, no overwrite, no
resurrection, regenerate_id) is made by the core before and after the step.
So a backend author writes four small methods and inherits every guarantee of
``docs/spec.md`` S-10 from :class:`~reference_impl.ServerSideStore`.

:class:`RecordBackend` is the blocking shape, :class:`AsyncRecordBackend` the
awaited one. :class:`InlineBackend` and :class:`ThreadedBackend` let one sync
backend serve an async store: inline when a step cannot block (a dict under a
lock), in a worker thread when it can (a file, a socket).
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from reference_impl._store.plan import (
    Create,
    Delete,
    IndexUser,
    ListUser,
    Op,
    Read,
    Record,
    Swap,
    UnindexUser,
    Update,
)
from spec.errors import StoreError

__all__ = [
    "AsyncRecordBackend",
    "AsyncSwapBackend",
    "AsyncUserIndexBackend",
    "InlineBackend",
    "RecordBackend",
    "SwapBackend",
    "ThreadedBackend",
    "UserIndexBackend",
    "aperform",
    "perform",
]


class RecordBackend(Protocol):
    """The four storage primitives a server-side store needs.

    Records are the securecookie text of the session values (signed, and
    encrypted with a block key, so a backend never holds readable data),
    plus an absolute deadline ``expires_at`` (Unix seconds on the store's
    clock) for backends that can keep one. ``ttl`` is the same lifetime in
    seconds from now, for backends whose own expiry (a Redis TTL) only
    collects garbage: it never decides whether a session is alive, the
    store's clock does. Every method raises :class:`~spec.errors.StoreError`
    when the backend itself fails: an outage must never pass for "no session".
    """

    def read(self, session_id: str) -> Record | None:
        """Return ``(data, expires_at)`` for ``session_id``, or ``None`` if absent."""
        ...

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        """Store a new record; return ``False`` (writing nothing) if the ID exists."""
        ...

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        """Replace an existing record; return ``False`` (writing nothing) if it is gone."""
        ...

    def delete(self, session_id: str) -> bool:
        """Remove the record if present; return ``True`` only if this call removed it.

        Atomic: of two concurrent deletes of one record, exactly one returns
        ``True``. A save after ``regenerate_id()`` relies on it to claim the
        old record, so a logout in another tab cannot be undone (S-10.5).
        """
        ...


class AsyncRecordBackend(Protocol):
    """:class:`RecordBackend` with every primitive awaited; the same contract."""

    async def read(self, session_id: str) -> Record | None:
        """Return ``(data, expires_at)`` for ``session_id``, or ``None`` if absent."""
        ...

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Store a new record; return ``False`` (writing nothing) if the ID exists."""
        ...

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Replace an existing record; return ``False`` (writing nothing) if it is gone."""
        ...

    async def delete(self, session_id: str) -> bool:
        """Remove the record if present; return ``True`` only if this call removed it."""
        ...


@runtime_checkable
class SwapBackend(RecordBackend, Protocol):
    """A :class:`RecordBackend` that can also compare-and-set a record (optional).

    Needed for ``idle_timeout`` and for a touch (S-9.23), which re-stamp a
    session a request only read: the swap writes only if nobody saved the
    record since it was loaded, so a touch can never undo a concurrent write.
    """

    def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Replace the record if its text equals ``expected``; return whether it did.

        Atomic with respect to ``update``/``delete`` of the same record, and
        ``False`` (writing nothing) if the record is gone: no resurrection.
        """
        ...


@runtime_checkable
class AsyncSwapBackend(AsyncRecordBackend, Protocol):
    """:class:`SwapBackend` with every primitive awaited; the same contract."""

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Replace the record if its text equals ``expected``; return whether it did."""
        ...


@runtime_checkable
class UserIndexBackend(RecordBackend, Protocol):
    """A :class:`RecordBackend` that can list the sessions of a user (optional, S-10.11).

    Needed for ``store.user_sessions(user_id)`` and ``store.revoke_user(user_id)``.
    The store calls :meth:`index_user` *before* every write of a record
    whose session has a ``user_id`` (and after creating a new one), and
    :meth:`unindex_user` after a session leaves a user (logout, a new user,
    deletion). The index may list too much, never too little: an entry
    whose record is gone or expired is filtered out by the store, which
    reads each listed record, but a live session missing from the index
    would survive a "log out everywhere". So an entry's deadline must be
    at least its record's, and entries may be pruned once it has passed.
    A backend whose index lives in the record itself (a SQL column) sets
    ``refresh_user_index = False``: the store then calls :meth:`index_user`
    only when a record's user changes, not on every save.
    """

    def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        """List ``session_id`` under ``user_id`` until ``expires_at`` (``None``: no deadline)."""
        ...

    def unindex_user(self, session_id: str, user_id: str) -> None:
        """Remove ``session_id`` from ``user_id``'s list if it is there."""
        ...

    def user_sessions(self, user_id: str, now: float) -> list[str]:
        """The IDs listed under ``user_id`` with no deadline or one not before ``now``."""
        ...


@runtime_checkable
class AsyncUserIndexBackend(AsyncRecordBackend, Protocol):
    """:class:`UserIndexBackend` with every primitive awaited; the same contract."""

    async def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        """List ``session_id`` under ``user_id`` until ``expires_at`` (``None``: no deadline)."""
        ...

    async def unindex_user(self, session_id: str, user_id: str) -> None:
        """Remove ``session_id`` from ``user_id``'s list if it is there."""
        ...

    async def user_sessions(self, user_id: str, now: float) -> list[str]:
        """The IDs listed under ``user_id`` with no deadline or one not before ``now``."""
        ...


def user_indexing(backend: object) -> tuple[bool, bool]:
    """Whether ``backend`` keeps a user index, and whether every save must refresh it."""
    if isinstance(backend, InlineBackend | ThreadedBackend):
        return user_indexing(backend.backend)
    indexes = all(
        callable(getattr(backend, name, None))
        for name in ("index_user", "unindex_user", "user_sessions")
    )
    return indexes, bool(getattr(backend, "refresh_user_index", True))


def _no_user_index(backend: object) -> StoreError:
    return StoreError(
        f"{type(backend).__name__} keeps no user index: add index_user, unindex_user and "
        "user_sessions (see UserIndexBackend) to list or revoke a user's sessions",
        action="index a user's sessions",
    )


def can_swap(backend: object) -> bool:
    """Whether ``backend`` offers ``swap`` (a wrapper answers for what it wraps)."""
    inner = getattr(backend, "backend", None)
    if isinstance(backend, InlineBackend | ThreadedBackend):
        return can_swap(inner)
    return callable(getattr(backend, "swap", None))


def _no_swap(backend: object) -> StoreError:
    return StoreError(
        f"{type(backend).__name__} has no swap(session_id, expected, data, expires_at, ttl): "
        "add it (see SwapBackend) to use idle_timeout or touch",
        action="touch a session",
    )


def perform(backend: RecordBackend | None, op: Op) -> object:
    """Run one plan step on a sync backend and return what the backend returned."""
    if backend is None:
        raise TypeError(f"a store without a backend was asked for {op!r}")
    if isinstance(op, Read):
        return backend.read(op.session_id)
    if isinstance(op, Create):
        return backend.create(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Update):
        return backend.update(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Delete):
        return backend.delete(op.session_id)
    if isinstance(op, Swap):
        # getattr, not isinstance(SwapBackend): a runtime Protocol check walks
        # the protocol's members on every call, a fifth of a merging save.
        swap = getattr(backend, "swap", None)
        if swap is None:
            raise _no_swap(backend)
        return swap(op.session_id, op.expected, op.data, op.expires_at, op.ttl)
    if isinstance(op, IndexUser | UnindexUser | ListUser):
        if not isinstance(backend, UserIndexBackend):
            raise _no_user_index(backend)
        if isinstance(op, IndexUser):
            backend.index_user(op.session_id, op.user_id, op.expires_at, op.ttl)
            return None
        if isinstance(op, UnindexUser):
            backend.unindex_user(op.session_id, op.user_id)
            return None
        return backend.user_sessions(op.user_id, op.now)
    raise TypeError(f"not a backend step: {op!r}")


async def aperform(backend: AsyncRecordBackend | None, op: Op) -> object:
    """Await one plan step on an async backend (the twin of :func:`perform`)."""
    if backend is None:
        raise TypeError(f"a store without a backend was asked for {op!r}")
    if isinstance(op, Read):
        return await backend.read(op.session_id)
    if isinstance(op, Create):
        return await backend.create(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Update):
        return await backend.update(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Delete):
        return await backend.delete(op.session_id)
    if isinstance(op, Swap):
        swap = getattr(backend, "swap", None)
        if swap is None:
            raise _no_swap(backend)
        return await swap(op.session_id, op.expected, op.data, op.expires_at, op.ttl)
    if isinstance(op, IndexUser | UnindexUser | ListUser):
        if not isinstance(backend, AsyncUserIndexBackend):
            raise _no_user_index(backend)
        if isinstance(op, IndexUser):
            await backend.index_user(op.session_id, op.user_id, op.expires_at, op.ttl)
            return None
        if isinstance(op, UnindexUser):
            await backend.unindex_user(op.session_id, op.user_id)
            return None
        return await backend.user_sessions(op.user_id, op.now)
    raise TypeError(f"not a backend step: {op!r}")


class InlineBackend:
    """A sync backend whose steps cannot block, awaited without a thread.

    For in-memory records: each step holds a lock for microseconds, less
    than a hop to a worker thread would cost.
    """

    def __init__(self, backend: RecordBackend) -> None:
        self.backend = backend

    async def read(self, session_id: str) -> Record | None:
        return self.backend.read(session_id)

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return self.backend.create(session_id, data, expires_at, ttl)

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return self.backend.update(session_id, data, expires_at, ttl)

    async def delete(self, session_id: str) -> bool:
        return self.backend.delete(session_id)

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        swap = getattr(self.backend, "swap", None)
        if swap is None:
            raise _no_swap(self.backend)
        return bool(swap(session_id, expected, data, expires_at, ttl))

    async def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        self._users().index_user(session_id, user_id, expires_at, ttl)

    async def unindex_user(self, session_id: str, user_id: str) -> None:
        self._users().unindex_user(session_id, user_id)

    async def user_sessions(self, user_id: str, now: float) -> list[str]:
        return self._users().user_sessions(user_id, now)

    def _users(self) -> UserIndexBackend:
        if not isinstance(self.backend, UserIndexBackend):
            raise _no_user_index(self.backend)
        return self.backend


class ThreadedBackend:
    """A sync backend whose steps may block, each run in a worker thread.

    For files: ``fsync`` and lock waits then never stall the event loop, and
    sync and async stores share one implementation of the file format.
    """

    def __init__(self, backend: RecordBackend) -> None:
        self.backend = backend

    async def read(self, session_id: str) -> Record | None:
        return await asyncio.to_thread(self.backend.read, session_id)

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await asyncio.to_thread(self.backend.create, session_id, data, expires_at, ttl)

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        return await asyncio.to_thread(self.backend.update, session_id, data, expires_at, ttl)

    async def delete(self, session_id: str) -> bool:
        return await asyncio.to_thread(self.backend.delete, session_id)

    async def swap(
        self, session_id: str, expected: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        swap = getattr(self.backend, "swap", None)
        if swap is None:
            raise _no_swap(self.backend)
        return bool(await asyncio.to_thread(swap, session_id, expected, data, expires_at, ttl))

    async def index_user(
        self, session_id: str, user_id: str, expires_at: float | None, ttl: int | None
    ) -> None:
        await asyncio.to_thread(self._users().index_user, session_id, user_id, expires_at, ttl)

    async def unindex_user(self, session_id: str, user_id: str) -> None:
        await asyncio.to_thread(self._users().unindex_user, session_id, user_id)

    async def user_sessions(self, user_id: str, now: float) -> list[str]:
        return await asyncio.to_thread(self._users().user_sessions, user_id, now)

    def _users(self) -> UserIndexBackend:
        if not isinstance(self.backend, UserIndexBackend):
            raise _no_user_index(self.backend)
        return self.backend
