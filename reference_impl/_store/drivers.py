"""Drivers: the thin runtime layer that turns a core's plans into a store.

Every reference store is a driver over a core (``_store.core``) and, for
server-side stores, a backend (``_store.backend``):

* :class:`SyncDriver` holds ``get``, ``new`` and ``save`` for blocking code,
  performing each backend step with a plain call;
* :class:`AsyncDriver` holds the same three for ``async`` code, awaiting
  each step.

Each of the three is defined once, here, for every store; the decisions
are the core's and the I/O is the backend's, so a sync store and its async
twin cannot drift apart. Configuration (``options``, ``max_age()``,
``max_length()``, ``with_keys()``) is the core's, reached through
:class:`_Configured`, which both drivers share.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Awaitable, Callable
from typing import Generic, Self, TypeVar, cast

from reference_impl._store.backend import (
    AsyncRecordBackend,
    RecordBackend,
    aperform,
    can_swap,
    perform,
    user_indexing,
)
from reference_impl._store.core import StoreCore
from reference_impl._store.meta import Lifetimes
from reference_impl._store.plan import Op, arun_plan, run_plan
from reference_impl._store.server_side import ServerSideCore
from reference_impl._store.users import revoke_plan, user_sessions_plan
from reference_impl.securecookie import SecureCookie
from spec import (
    AsyncSession,
    Clock,
    Options,
    Registry,
    Request,
    ResponseWriter,
    Session,
    SessionListener,
)
from spec.errors import ConfigurationError
from spec.protocols import Serializer

__all__ = ["AsyncDriver", "AsyncServerSideStore", "ServerSideStore", "SyncDriver", "require_swap"]

C = TypeVar("C", bound=StoreCore)


class _Configured(Generic[C]):
    """A store's configuration, kept by its core: both drivers share this face."""

    def __init__(self, core: C) -> None:
        self.core = core
        core.label = type(self).__name__  # rejections are logged under the store's name

    @property
    def options(self) -> Options:
        """The options new sessions start with."""
        return self.core.options

    @options.setter
    def options(self, options: Options) -> None:
        self.core.options = options

    @property
    def clock(self) -> Clock:
        """The clock every codec and deadline uses."""
        return self.core.clock

    @property
    def serializer(self) -> Serializer:
        """The serializer of the session values."""
        return self.core.serializer

    @property
    def codecs(self) -> list[SecureCookie]:
        """The codecs, the first one signing everything new."""
        return self.core.codecs

    def max_age(self, seconds: int) -> None:
        """Set the default cookie lifetime and every codec's expiry (gorilla's ``MaxAge``).

        ``0`` makes browser-session cookies and switches server-side expiry
        off (logged: a stolen cookie then stays valid until the keys change).
        """
        self.core.max_age(seconds)

    def max_length(self, length: int) -> None:
        """Set every codec's maximum encoded length (``0`` disables the check)."""
        self.core.max_length(length)

    @property
    def absolute_timeout(self) -> int:
        """Seconds a session lives after creation however active it is (0 = off; S-9.22)."""
        return self.core.lifetimes.absolute_timeout

    @property
    def idle_timeout(self) -> int:
        """Seconds without a request after which a session ends (0 = off; S-9.23)."""
        return self.core.lifetimes.idle_timeout

    def _purged(self, count: int) -> int:
        """Report a purge to the listeners (S-9.26) and pass its count on."""
        self.core.emit("purged", count=count)
        return count

    def add_listener(self, listener: SessionListener) -> None:
        """Call ``listener`` with every :class:`~spec.SessionEvent` of this store (S-9.26).

        Stores made by :meth:`with_keys` share the listeners.
        """
        self.core.listeners.append(listener)

    def remove_listener(self, listener: SessionListener) -> None:
        """Stop calling ``listener`` (``ValueError`` if it was not added)."""
        self.core.listeners.remove(listener)

    @property
    def merges_concurrent_saves(self) -> bool:
        """Whether a save applies only its own changes onto the current record (S-10.20).

        True for every built-in server-side store; a :class:`RecordBackend`
        without ``swap`` replaces the record instead (the last writer wins),
        and so does the cookie store, whose data the browser holds.
        """
        core = self.core
        return isinstance(core, ServerSideCore) and core.merges

    @property
    def regenerate_grace(self) -> int:
        """Seconds an ID retired by ``regenerate_id`` answers, read-only (S-10.22; 0 = never)."""
        core = self.core
        return core.regenerate_grace if isinstance(core, ServerSideCore) else 0

    @regenerate_grace.setter
    def regenerate_grace(self, seconds: int) -> None:
        core = self.core
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 60:
            raise ConfigurationError(
                f"regenerate_grace must be whole seconds from 0 (off) to 60; got {seconds!r}. "
                "Each second is a second in which a planted pre-login ID still reads the "
                "logged-in session, so keep it to the few seconds requests take"
            )
        if seconds and not (isinstance(core, ServerSideCore) and core.merges):
            raise ConfigurationError(
                f"regenerate_grace needs a server-side store whose backend has swap(); "
                f"{type(self).__name__} has none (a cookie store has no ID to retire)"
            )
        if isinstance(core, ServerSideCore):
            core.regenerate_grace = seconds

    def touch_due(self, session: Session, *, force: bool = False) -> bool:
        """Whether :meth:`touch` would write now (no I/O: callers skip a thread hop if not)."""
        return self.core.touch_due(session, force=force)

    def _set_lifetimes(
        self, absolute_timeout: int, idle_timeout: int, *, track_created: bool
    ) -> None:
        """Install the timeouts (the stores' constructors call this)."""
        self.core.lifetimes = Lifetimes(absolute_timeout, idle_timeout, track_created)

    def with_keys(self, *key_pairs: bytes) -> Self:
        """A store sharing this one's backend and options but using other keys.

        Lets a running service rotate keys without losing server-side
        sessions: ``store = store.with_keys(NEW_HASH, NEW_BLOCK, OLD_HASH, OLD_BLOCK)``.
        """
        clone = copy.copy(self)
        clone.core = self.core.with_keys(*key_pairs)
        return clone


class SyncDriver(_Configured[C]):
    """A :class:`spec.Store`: the core's plans run with blocking backend calls."""

    def __init__(self, core: C, backend: RecordBackend | None = None) -> None:
        super().__init__(core)
        self.backend = backend
        # One bound callable per store: the plan runner calls the backend directly.
        self._perform: Callable[[Op], object] = functools.partial(perform, backend)

    def get(self, request: Request, name: str) -> Session:
        """Return session ``name`` for this request, loading it once (S-5.2)."""
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        """Load session ``name`` from the request (or a fresh one), bypassing the cache."""
        return run_plan(self.core.load_plan(request, name, self), self._perform)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and write its cookie to ``response``."""
        run_plan(self.core.save_plan(request, response, session), self._perform)

    def touch(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool = False
    ) -> bool:
        """Record a use of ``session`` the request did not change; ``True`` if it wrote (S-9.23).

        ``save_all(..., only_modified=True)`` calls it for every unmodified
        session, so the idle clock follows reads. It writes at most once per
        tenth of the idle window (or always with ``force``), and never the
        values: a concurrent save wins.
        """
        return run_plan(
            self.core.touch_plan(request, response, session, force=force), self._perform
        )


class AsyncDriver(_Configured[C]):
    """A :class:`spec.AsyncStore`: the core's plans run awaiting each backend step.

    Sessions are bound to this store, so ``session.asave`` awaits it and the
    sync ``session.save`` refuses it (S-5.7).
    """

    def __init__(self, core: C, backend: AsyncRecordBackend | None = None) -> None:
        super().__init__(core)
        self.backend = backend
        self._perform: Callable[[Op], Awaitable[object]] = functools.partial(aperform, backend)

    async def get(self, request: Request, name: str) -> AsyncSession:
        """Return session ``name`` for this request, loading it once (S-5.7)."""
        return await Registry.of(request).aget(self, name)

    async def new(self, request: Request, name: str) -> AsyncSession:
        """Load session ``name`` from the request (or a fresh one), bypassing the cache."""
        session = await arun_plan(self.core.load_plan(request, name, self), self._perform)
        return cast("AsyncSession", session)  # the same object: only the type says "use asave"

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and write its cookie to ``response``."""
        await arun_plan(self.core.save_plan(request, response, session), self._perform)

    async def touch(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool = False
    ) -> bool:
        """The async twin of :meth:`SyncDriver.touch` (S-9.23)."""
        plan = self.core.touch_plan(request, response, session, force=force)
        return await arun_plan(plan, self._perform)


class ServerSideStore(SyncDriver[ServerSideCore]):
    """A store whose cookie holds only the signed session ID, over your :class:`RecordBackend`.

    The route for backend authors: implement ``read``, ``create``,
    ``update`` and ``delete`` on encoded records, wrap the backend, and every
    S-10 guarantee (ID checks before I/O, no overwrite, no resurrection,
    regenerate_id, expiry on the store's clock, logging) comes with it::

        store = ServerSideStore(MyBackend(), hash_key, block_key)
    """

    backend: RecordBackend

    def __init__(
        self,
        backend: RecordBackend,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
        regenerate_grace: int = 0,
    ) -> None:
        super().__init__(ServerSideCore(key_pairs, options, serializer, clock), backend)
        self._set_lifetimes(absolute_timeout, idle_timeout, track_created=True)
        require_swap(backend, idle_timeout)
        self.core.merges = can_swap(backend)
        self.regenerate_grace = regenerate_grace
        self.core.user_index, self.core.refresh_user_index = user_indexing(backend)

    def user_sessions(self, user_id: str) -> list[str]:
        """The IDs of ``user_id``'s live sessions, sorted: a device list (S-10.12).

        Expired and deleted sessions are not listed. ``ConfigurationError``
        if the backend keeps no user index (see ``UserIndexBackend``).
        """
        return run_plan(user_sessions_plan(self.core, user_id), self._perform)

    def revoke_user(self, user_id: str, *, keep: str | Session | None = None) -> int:
        """End every session of ``user_id`` but ``keep``; return how many ended (S-10.13).

        "Log out everywhere" (``keep=None``) or "log out my other devices"
        (``keep=session``). The records are deleted, so each browser loads
        a fresh session (``load_error`` is ``SessionNotFoundError``) and a
        request already holding one cannot save it back (S-10.5). Each
        ended session is a ``deleted`` event.
        """
        return run_plan(revoke_plan(self.core, user_id, keep), self._perform)


class AsyncServerSideStore(AsyncDriver[ServerSideCore]):
    """The async twin of :class:`ServerSideStore`, over an :class:`AsyncRecordBackend`.

    The base of ``AsyncRedisStore`` and ``AsyncSQLStore``, and of your own
    async backends: implement the four primitives, awaited, and every S-10
    guarantee comes from the shared plans.
    """

    backend: AsyncRecordBackend

    def __init__(
        self,
        backend: AsyncRecordBackend,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
        regenerate_grace: int = 0,
    ) -> None:
        super().__init__(ServerSideCore(key_pairs, options, serializer, clock), backend)
        self._set_lifetimes(absolute_timeout, idle_timeout, track_created=True)
        require_swap(backend, idle_timeout)
        self.core.merges = can_swap(backend)
        self.regenerate_grace = regenerate_grace
        self.core.user_index, self.core.refresh_user_index = user_indexing(backend)

    async def user_sessions(self, user_id: str) -> list[str]:
        """The async twin of :meth:`ServerSideStore.user_sessions` (S-10.12)."""
        return await arun_plan(user_sessions_plan(self.core, user_id), self._perform)

    async def revoke_user(self, user_id: str, *, keep: str | Session | None = None) -> int:
        """The async twin of :meth:`ServerSideStore.revoke_user` (S-10.13)."""
        return await arun_plan(revoke_plan(self.core, user_id, keep), self._perform)


def require_swap(backend: object, idle_timeout: int) -> None:
    """Refuse ``idle_timeout`` over a backend that cannot touch without a rewrite."""
    if idle_timeout and not can_swap(backend):
        raise ConfigurationError(
            f"idle_timeout needs a backend with swap(); {type(backend).__name__} has none. "
            "Add swap(session_id, expected, data, expires_at, ttl) (see SwapBackend), "
            "or leave idle_timeout at 0"
        )
