"""The per-request session cache, and saving every session of a request at once."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from typing import cast

from spec._tokens import TOKEN, check_cookie_name
from spec.errors import ConfigurationError, InvalidCookieNameError, SaveAllError
from spec.protocols import (
    AsyncStore,
    Request,
    ResponseWriter,
    Store,
    is_async_store,
    never_blocks,
)
from spec.session import AsyncSession, Session

__all__ = [
    "REGISTRY_STATE_KEY",
    "Registry",
    "asave_all",
    "check_cookie_name",
    "is_async_store",
    "owner_of",
    "save_all",
]

#: The key under which a request's registry lives in ``request.state``.
REGISTRY_STATE_KEY = "sessionspec.registry"


#: Serialises creating or replacing a registry (rare; lookups take no lock).
_INSTALL_LOCK = threading.Lock()
_log = logging.getLogger("sessionspec.security")


def owner_of(request: Request) -> object:
    """The object that identifies ``request``: its ``owner`` attribute, else its ``state``.

    The reference adapters give ``owner`` as the ASGI scope or WSGI environ
    dict. A :class:`~spec.Request` without one is identified by its
    ``state`` mapping, which must then be the same object on every access.
    """
    owner = getattr(request, "owner", None)
    return request.state if owner is None else owner


class Registry:
    """Caches the sessions of one request, keyed by (store, name).

    It lives in the request's own ``state`` and dies with it: there is no
    module-level map to clear (gorilla needed ``context.ClearHandler`` to
    avoid a leak). Keying by store as well as name means two stores that
    happen to use the same cookie name never share a session (gorilla keys by
    name only). A lock makes concurrent ``get`` calls on one request safe
    (gorilla panics with "concurrent map writes").

    A registry belongs to the request it was made for, and is only ever
    handed back for that request (S-5.8). The owner is the object that *is*
    the request: ``request.owner`` when the :class:`~spec.Request` has one
    (the ASGI scope dict, the WSGI environ dict), else its ``state`` mapping.
    Wrappers such as ``ScopeRequest`` are made afresh on every call, so the
    wrapper's identity would mean nothing; the scope's does. The security
    reason: ``state`` is not always private to one request. ASGI servers copy
    the ``lifespan`` state into every request's ``scope["state"]``, and the
    copy is shallow, so a registry that reached the lifespan state (an app
    loading a session at startup) would be the *same object* in every
    request, and its cached sessions, say alice's login, would be served to
    every visitor. :meth:`of` therefore treats a registry made for another
    owner as foreign and puts a fresh one in its place (and logs it on
    ``sessionspec.security``), and the middlewares install the request's own
    registry when the request starts.
    """

    __slots__ = ("_alock", "_lock", "_owner", "_request", "_sessions")

    def __init__(self, request: Request, owner: object | None = None) -> None:
        self._request = request
        self._owner = owner_of(request) if owner is None else owner
        self._lock = threading.RLock()
        self._alock: asyncio.Lock | None = None
        self._sessions: dict[tuple[int, str], tuple[Store | AsyncStore, Session]] = {}

    @classmethod
    def of(cls, request: Request) -> Registry:
        """Return the registry of ``request``, creating it on first use.

        A registry found in ``request.state`` that was made for another
        request (see the class docstring) is never returned: it is replaced
        by a fresh one (S-5.8). Anything else in the slot is a
        :class:`ConfigurationError`.
        """
        state = request.state
        owner = getattr(request, "owner", None)  # owner_of(request), inline: this is per request
        if owner is None:
            owner = state
        found = state.get(REGISTRY_STATE_KEY)
        if isinstance(found, Registry) and found._owner is owner:
            return found
        if found is not None and not isinstance(found, Registry):
            raise ConfigurationError(
                f"request.state[{REGISTRY_STATE_KEY!r}] holds a {type(found).__name__}, "
                "not a Registry; leave that key to sessionspec"
            )
        with _INSTALL_LOCK:  # two threads of one request must end up with one registry
            found = state.get(REGISTRY_STATE_KEY)
            if isinstance(found, Registry) and found._owner is owner:
                return found
            if found is not None:
                _log.warning(
                    "request.state held a session registry made for another request "
                    "(state shared between requests, e.g. an ASGI lifespan state); "
                    "it was replaced by a fresh one: load sessions only inside a request"
                )
            fresh = cls(request, owner)
            state[REGISTRY_STATE_KEY] = fresh
            return fresh

    def owned_by(self, request: Request) -> bool:
        """Whether this registry was made for ``request`` (the same scope or environ)."""
        return self._owner is owner_of(request)

    def get(self, store: Store, name: str) -> Session:
        """Return session ``name`` from ``store``, calling ``store.new`` only once."""
        if TOKEN.fullmatch(name) is None:  # check_cookie_name, inline on the per-request path
            raise InvalidCookieNameError(name)
        key = (id(store), name)
        with self._lock:
            hit = self._sessions.get(key)
            if hit is not None:
                return hit[1]
            session = store.new(self._request, name)
            session.adopt(store)  # bound, and what new() did was loading, not a change
            self._sessions[key] = (store, session)
            return session

    async def aget(self, store: AsyncStore, name: str) -> AsyncSession:
        """Return session ``name`` from an async ``store``, awaiting ``store.new`` only once.

        Concurrent tasks of one request asking for the same session wait for
        the first load instead of loading it twice.
        """
        check_cookie_name(name)
        key = (id(store), name)
        if self._alock is None:
            self._alock = asyncio.Lock()
        async with self._alock:
            hit = self._sessions.get(key)
            if hit is not None:
                return cast("AsyncSession", hit[1])  # keyed by this async store: its session
            session = await store.new(self._request, name)
            session.adopt(store)
            with self._lock:
                self._sessions[key] = (store, session)
            return session

    def sessions_with_stores(self) -> list[tuple[Store | AsyncStore, Session]]:
        """The (store, session) pairs loaded so far, in first-requested order."""
        with self._lock:
            return list(self._sessions.values())

    def sessions(self) -> list[Session]:
        """The sessions loaded so far, in the order they were first requested."""
        with self._lock:
            return [session for _, session in self._sessions.values()]

    async def atouch(self, session: Session, response: ResponseWriter, *, force: bool) -> bool:
        """Touch one session of this request through its store (S-9.23); ``False`` if it can't.

        For integrations with their own save rules (Starlette's
        ``save_every_request`` refreshes every non-empty session): the
        store's ``touch`` is awaited, or run in a thread for a sync store
        that has work to do. ``False`` means the store offers no ``touch``.
        """
        with self._lock:
            owners = [store for store, held in self._sessions.values() if held is session]
        touch = getattr(owners[0], "touch", None) if owners else None
        if touch is None:
            return False
        await _atouch(owners[0], touch, self._request, response, session, not force)
        return True

    def save_all(self, response: ResponseWriter, *, only_modified: bool = False) -> None:
        """Save every cached session; report all failures together at the end.

        With ``only_modified`` (what the framework integrations use), sessions
        the request did not change are not saved, so they send no
        ``Set-Cookie``; a store that offers ``touch`` is asked to record the
        use instead, which it does at most once per tenth of its idle window
        (S-9.23). Without ``only_modified`` an unchanged session is touched
        at once (never rewritten with stale values) where the store can
        touch, and saved where it cannot.
        One failing session does not stop the others from being saved. If
        any failed, :class:`SaveAllError` names each one with its error.
        """
        failures: list[tuple[str, BaseException]] = []
        with self._lock:
            held = list(self._sessions.values())
        for store, session in held:
            try:
                if is_async_store(store):
                    raise ConfigurationError(
                        f"session {session.name!r} comes from an async store: use asave_all"
                    )
                modified = session.modified
                touch = None if modified else getattr(store, "touch", None)
                if touch is not None:
                    touch(self._request, response, session, force=not only_modified)
                elif modified or not only_modified:
                    store.save(self._request, response, session)
            except Exception as exc:  # collected, re-raised below as one SaveAllError
                failures.append((session.name, exc))
        if failures:
            raise SaveAllError(failures)

    async def asave_all(self, response: ResponseWriter, *, only_modified: bool = False) -> None:
        """:meth:`save_all` for async code: async stores are awaited, sync ones run in a thread.

        A sync store's save may touch a disk or a network; running it in a
        worker thread keeps the event loop serving other requests meanwhile.
        A sync store that declares ``blocking = False`` is called inline.
        """
        failures: list[tuple[str, BaseException]] = []
        with self._lock:
            held = list(self._sessions.values())
        for store, session in held:
            try:
                modified = session.modified
                touch = None if modified else getattr(store, "touch", None)
                if touch is not None:
                    await _atouch(store, touch, self._request, response, session, only_modified)
                elif not (modified or not only_modified):
                    continue
                elif is_async_store(store):
                    await store.save(self._request, response, session)
                elif never_blocks(store):  # no I/O: a thread hop would cost more than the save
                    store.save(self._request, response, session)
                else:
                    await asyncio.to_thread(store.save, self._request, response, session)
            except Exception as exc:  # collected, re-raised below as one SaveAllError
                failures.append((session.name, exc))
        if failures:
            raise SaveAllError(failures)


async def _atouch(
    store: Store | AsyncStore,
    touch: Callable[..., object],
    request: Request,
    response: ResponseWriter,
    session: Session,
    only_modified: bool,
) -> None:
    """Touch from async code: awaited, or in a thread for a sync store that has work to do.

    A sync store's ``touch_due`` (where it has one) answers without I/O, so
    the common case, nothing due, costs no thread hop.
    """
    force = not only_modified
    if is_async_store(store):
        done = touch(request, response, session, force=force)
        if inspect.isawaitable(done):
            await done
        return
    due = getattr(store, "touch_due", None)
    if due is not None and not due(session, force=force):
        return
    if never_blocks(store):
        touch(request, response, session, force=force)
    else:
        await asyncio.to_thread(touch, request, response, session, force=force)


def save_all(request: Request, response: ResponseWriter, *, only_modified: bool = False) -> None:
    """Save every session ``store.get`` gave out on ``request`` (gorilla's ``sessions.Save``)."""
    Registry.of(request).save_all(response, only_modified=only_modified)


async def asave_all(
    request: Request, response: ResponseWriter, *, only_modified: bool = False
) -> None:
    """:func:`save_all` for async code (see :meth:`Registry.asave_all`)."""
    await Registry.of(request).asave_all(response, only_modified=only_modified)
