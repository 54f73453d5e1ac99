"""Starlette and FastAPI: ``request.session`` on any store, named sessions, a FastAPI dependency.

Replace Starlette's own sessions in one line (the app's routes stay as they are)::

    from starlette.middleware import Middleware
    from reference_impl import CookieStore
    from reference_impl.integrations.starlette import SessionMiddleware
    from spec import Options

    store = CookieStore(hash_key, block_key, options=Options(max_age=14 * 24 * 3600))
    app = Starlette(routes=..., middleware=[Middleware(SessionMiddleware, store=store)])

    async def login(request):
        request.session["user"] = "alice"   # Starlette's idioms, unchanged

:class:`SessionMiddleware` takes the knobs of
``starlette.middleware.sessions.SessionMiddleware`` (``session_cookie``,
``max_age``, ``path``, ``same_site``, ``https_only``, ``domain``,
``partitioned``) and puts a :class:`SessionDict` in ``scope["session"]``, so
``request.session`` and ``websocket.session`` work as with Starlette's, but
the data lives in a sessionspec store of your choice (signed or encrypted
cookies, Redis, SQL, files; sync or async).

Several sessions per request (one per store and name) stay available through
:func:`get_session` and, in FastAPI, :func:`session_dependency`::

    Auth = Annotated[Session, Depends(session_dependency(store, "auth"))]

The rules every integration follows (only modified sessions are saved,
``Vary: Cookie``, a failed save answers 500 with no cookies) are explained in
:mod:`reference_impl.integrations`.

This module imports Starlette (FastAPI is not needed for the dependency: it
takes a Starlette ``Request``); nothing else in ``reference_impl`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

from pydantic import BaseModel

try:
    from starlette.requests import HTTPConnection, Request
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "starlette", "starlette", __name__) from None

from reference_impl.integrations._common import (
    CookieCollector,
    PendingHeaders,
    request_registry,
)
from reference_impl.integrations.asgi import (
    MIDDLEWARE_STATE_KEY,
    SESSION_SCOPE_TYPES,
    ASGIApp,
    Message,
    Receive,
    Scope,
    ScopeRequest,
    Send,
    request_of,
    with_session_headers,
)
from spec import (
    AsyncStore,
    Options,
    Registry,
    Session,
    SessionKey,
    Store,
    TypedSession,
    check_cookie_name,
)
from spec._tracked import TrackedDict
from spec.errors import ConfigurationError
from spec.protocols import never_blocks
from spec.registry import REGISTRY_STATE_KEY, is_async_store

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = [
    "STARLETTE_MAX_AGE",
    "SessionDict",
    "SessionMiddleware",
    "get_session",
    "save_typed_session",
    "session_dependency",
    "spec_request",
    "typed_session_dependency",
]

#: Starlette's default cookie lifetime: 14 days, in seconds.
STARLETTE_MAX_AGE = 14 * 24 * 60 * 60


class _StoreDefault:
    """The type of :data:`STORE_DEFAULT`."""

    def __repr__(self) -> str:
        return "STORE_DEFAULT"


#: ``SessionMiddleware(max_age=...)`` left out: the store's own ``max_age``.
STORE_DEFAULT = _StoreDefault()


def spec_request(connection: HTTPConnection) -> ScopeRequest:
    """The :class:`spec.Request` for a Starlette ``Request`` (its state is ``request.state``)."""
    return request_of(connection.scope)


async def get_session(connection: HTTPConnection, store: Store | AsyncStore, name: str) -> Session:
    """Return session ``name`` of ``store`` for this request, loading it once per request.

    An async store's ``new`` is awaited (:meth:`Registry.aget`); a sync
    store's runs in a worker thread, so a disk or network read never blocks
    the event loop (S-5.7).

    Raises :class:`~spec.errors.ConfigurationError` when
    :class:`SessionMiddleware` is not installed: nothing would save the
    session, and changes would vanish silently.
    """
    request = spec_request(connection)
    if not request.state.get(MIDDLEWARE_STATE_KEY):
        raise ConfigurationError(
            "sessionspec: SessionMiddleware is not installed, so nothing would save this "
            "session; add Middleware(SessionMiddleware) to the application"
        )
    return await _load(Registry.of(request), store, name)


async def _load(registry: Registry, store: Store | AsyncStore, name: str) -> Session:
    if _is_sync_store(store):
        if never_blocks(store):  # no I/O: inline is cheaper than a worker thread
            return registry.get(store, name)
        return await asyncio.to_thread(registry.get, store, name)
    return await registry.aget(store, name)


def _is_sync_store(store: Store | AsyncStore) -> TypeIs[Store]:
    return not is_async_store(store)


def session_dependency(
    store: Store | AsyncStore, name: str
) -> Callable[[Request], Awaitable[Session]]:
    """A FastAPI dependency giving the request's session ``name`` from ``store``.

    Use it as ``Annotated[Session, Depends(session_dependency(store, "auth"))]``.
    The session is saved by :class:`SessionMiddleware` if the endpoint
    modified it. A bad ``name`` raises ``InvalidCookieNameError`` here, when
    the app is built, not on the first request.
    """
    check_cookie_name(name)

    async def sessionspec_session(request: Request) -> Session:
        return await get_session(request, store, name)

    return sessionspec_session


class SessionDict(dict[SessionKey, Any]):
    """``request.session``: a plain ``dict`` that notes being read and being changed.

    It is what Starlette's own middleware hands out, so code written for it
    (``request.session["user"] = ...``, ``.get``, ``.pop``, ``.clear()``,
    ``JSONResponse(request.session)``) keeps working. Starlette calls
    :meth:`mark_accessed` when the app reads ``request.session`` (the
    response then varies on the cookie); every method that changes the dict
    calls :meth:`mark_modified` (the session is then saved). As with
    Starlette, a change *inside* a stored list or dict is not seen: assign
    the value again, or call :meth:`mark_modified`.
    """

    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        """Record that the app read the session (so the response gets ``Vary: Cookie``)."""
        self.accessed = True

    def mark_modified(self) -> None:
        """Record a change to be saved (a change is also an access)."""
        self.accessed = True
        self.modified = True

    def __setitem__(self, key: SessionKey, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: SessionKey) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def __ior__(self, other: Any, /) -> SessionDict:  # type: ignore[override,misc]
        self.mark_modified()
        return super().__ior__(other)

    def clear(self) -> None:
        """Remove every value; a session loaded non-empty then has its cookie deleted."""
        self.mark_modified()
        super().clear()

    def pop(self, key: SessionKey, *default: Any) -> Any:
        """Remove ``key`` and return its value (a change only if ``key`` was there)."""
        if key in self:
            self.mark_modified()
        return super().pop(key, *default)

    def popitem(self) -> tuple[SessionKey, Any]:
        """Remove and return the last item."""
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: SessionKey, default: Any = None) -> Any:
        """``dict.setdefault`` (a change only if ``key`` was missing)."""
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """``dict.update`` (always a change, as in Starlette)."""
        self.mark_modified()
        super().update(*args, **kwargs)


class _StorelessSession:
    """``scope["session"]`` when the middleware has no store: says what to do, on first use.

    Without it Starlette's ``request.session`` would fail with "SessionMiddleware
    must be installed" while ours is installed, which sends the reader the
    wrong way.
    """

    __slots__ = ()

    def mark_accessed(self) -> NoReturn:
        raise ConfigurationError(
            "sessionspec: request.session needs a store: install "
            "Middleware(SessionMiddleware, store=...) (a CookieStore, RedisStore, ...), "
            "or load named sessions with get_session()/session_dependency()"
        )


class SessionMiddleware:
    """Starlette's ``SessionMiddleware``, on a sessionspec store, plus named sessions.

    With ``store``, every ``http`` and ``websocket`` request gets
    ``scope["session"]``, a :class:`SessionDict` of the values of session
    ``session_cookie`` in ``store``: ``request.session`` and
    ``websocket.session`` work exactly as with Starlette's middleware. The
    session is loaded before the app runs (a sync store in a worker thread,
    S-5.7), as Starlette does; without a cookie no store I/O happens.
    ``lifespan`` passes through untouched: its state is shared by every
    request, so no session may live there (S-5.8).

    When the response starts:

    * a changed, non-empty ``request.session`` is saved and its cookie sent;
    * a changed, empty one that was loaded from a cookie (``clear()`` on a
      logged-in session) is deleted: the store removes its record, if it has
      one, and the cookie is expired;
    * an unchanged one sends nothing, as in current Starlette (older releases
      re-sent the cookie on every response with data). Re-sending extends a
      session's life without the user doing anything and lets a slow
      read-only request overwrite what a concurrent request just saved.
      ``save_every_request=True`` re-sends every non-empty session (sliding
      expiry), if you want that.

    The cookie knobs override the store's options for this cookie, with
    Starlette's defaults: ``path="/"``, ``same_site="lax"``, ``HttpOnly``,
    ``Secure`` only with ``https_only=True``, ``domain=None`` (host only),
    ``max_age=1209600`` (14 days; ``None`` makes a browser-session cookie).
    ``max_age`` must equal the store's own ``options.max_age``, checked here:
    the store, not the cookie, enforces the lifetime on the server (a cookie
    store's signed timestamp, a server-side record's deadline), so a store
    allowing longer would accept a stolen cookie after the browser had
    dropped it. A session that carries its own ``max_age`` (set by another
    service sharing the store, S-9.21) keeps it. Knobs browsers reject
    (``same_site="none"`` or ``partitioned`` without ``https_only``), a
    ``max_age`` of 0 or less, and Starlette's ``secret_key`` (the keys belong
    to the store) raise :class:`~spec.errors.ConfigurationError` here, at
    start-up.

    Without ``store`` the middleware only saves the sessions loaded with
    :func:`get_session`, as :class:`reference_impl.integrations.asgi.SessionMiddleware` does,
    and ``request.session`` raises a :class:`~spec.errors.ConfigurationError`
    saying to pass a store. With a store, :func:`get_session` works too, for
    further sessions in the same response.

    A failing save raises from the app's ``await send(...)`` of
    ``http.response.start`` before any header is passed on; the app's or the
    server's error handling answers 500 and no ``Set-Cookie`` of this
    request reaches the client.
    """

    __slots__ = (
        "_max_age_from_store",
        "_options",
        "_same_as_wanted",
        "app",
        "save_every_request",
        "session_cookie",
        "store",
    )

    def __init__(
        self,
        app: ASGIApp,
        store: Store | AsyncStore | None = None,
        *,
        session_cookie: str = "session",
        max_age: int | _StoreDefault | None = STORE_DEFAULT,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
        save_every_request: bool = False,
        secret_key: object = None,
    ) -> None:
        if secret_key is not None:
            raise ConfigurationError(
                "sessionspec: SessionMiddleware takes store=, not secret_key=: the keys belong "
                "to the store, e.g. store=CookieStore(hash_key) with a random 32- or 64-byte "
                "key (and a 32-byte block key to encrypt); see docs/integrations/starlette.md"
            )
        check_cookie_name(session_cookie)
        defaults = getattr(store, "options", None)
        if isinstance(max_age, _StoreDefault):
            # Not given: the store's lifetime where it states one (it enforces it on
            # the server anyway), else Starlette's 14 days.
            if isinstance(defaults, Options):
                max_age = defaults.max_age or None
            else:
                max_age = STARLETTE_MAX_AGE
        if max_age is not None and max_age <= 0:
            raise ConfigurationError(
                f"sessionspec: SessionMiddleware(max_age={max_age!r}) would make a cookie the "
                "browser drops at once; pass a number of seconds > 0, or None for a cookie "
                "that ends with the browser session"
            )
        self.app = app
        self.store = store
        self.session_cookie = session_cookie
        self.save_every_request = save_every_request
        cookie_max_age = 0 if max_age is None else max_age
        # A store that states its options enforces its own lifetime; one that
        # does not (a third-party store) gets the knob on every session.
        self._max_age_from_store = isinstance(defaults, Options)
        if isinstance(defaults, Options) and defaults.max_age != cookie_max_age:
            raise ConfigurationError(
                f"sessionspec: SessionMiddleware(max_age={max_age!r}) differs from the store's "
                f"max_age {defaults.max_age}; the store enforces the lifetime on the server, "
                "so build it with options=Options(max_age="
                f"{cookie_max_age}) (0 is a browser-session cookie), or pass "
                f"max_age={defaults.max_age or None} here"
            )
        base = defaults if isinstance(defaults, Options) else Options()
        self._options = base.replace(
            max_age=cookie_max_age,
            path=path,
            domain=domain or "",
            same_site=same_site,
            secure=https_only,
            http_only=True,
            partitioned=partitioned,
        )
        # The last session options found equal to ours (a store's defaults).
        self._same_as_wanted: Options | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in SESSION_SCOPE_TYPES:
            await self.app(scope, receive, send)
            return
        request = request_of(scope)
        with request_registry(request) as registry:  # never one inherited (S-5.8)
            await self._serve(request, registry, scope, receive, send)

    async def _serve(
        self, request: ScopeRequest, registry: Registry, scope: Scope, receive: Receive, send: Send
    ) -> None:
        main: Session | None = None
        mapping: SessionDict | None = None
        if self.store is not None:
            main = await _load(registry, self.store, self.session_cookie)
            self._apply_options(main)
            mapping = SessionDict(main.values)
            scope["session"] = mapping
        elif "session" not in scope:
            scope["session"] = _StorelessSession()
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # a websocket: read the session, save nothing
            return
        request.state[MIDDLEWARE_STATE_KEY] = True
        failed = False

        async def send_with_sessions(message: Message) -> None:
            nonlocal failed
            if message["type"] == "http.response.start":
                if failed:
                    # The app is answering our own save error: no cookies at all.
                    pending = PendingHeaders(accessed=self._accessed(registry, main, mapping))
                else:
                    try:
                        pending = await self._save(request, registry, main, mapping)
                    except Exception:
                        failed = True
                        raise
                message = dict(message)
                message["headers"] = with_session_headers(message.get("headers") or (), pending)
            await send(message)

        await self.app(scope, receive, send_with_sessions)

    def _apply_options(self, session: Session) -> None:
        """Give a just-loaded session this cookie's options, without counting it as a change."""
        wanted = self._options
        current = session.options
        if current is wanted or current is self._same_as_wanted:
            return  # the store's own options object, already found equal: no comparison
        if self._max_age_from_store and current.max_age != wanted.max_age:
            wanted = wanted.replace(max_age=current.max_age)  # its own (S-9.21)
        if current != wanted:
            session.options = wanted
            session.mark_unmodified()
        elif wanted is self._options:
            self._same_as_wanted = current  # stores hand every session the same object

    def _accessed(
        self, registry: Registry, main: Session | None, mapping: SessionDict | None
    ) -> bool:
        """Whether the response depends on a session cookie (``Vary: Cookie``).

        ``request.session`` is loaded for every request, so it counts only
        once the app read it; sessions from :func:`get_session` count when
        loaded.
        """
        if mapping is not None and mapping.accessed:
            return True
        return any(session is not main or session.modified for session in registry.sessions())

    async def _save(
        self,
        request: ScopeRequest,
        registry: Registry,
        main: Session | None,
        mapping: SessionDict | None,
    ) -> PendingHeaders:
        """Carry ``request.session`` into its session, save what must be, return the headers."""
        if main is not None and mapping is not None and mapping.modified:
            if mapping:
                if isinstance(main.values, TrackedDict):
                    # Only the keys this request changed, so a concurrent save merges (S-10.20).
                    main.values.assign(mapping)
                    main.values.changed = True  # the mapping was modified: save it
                else:
                    main.values = dict(mapping)
            elif not main.is_new:  # loaded from a cookie, now emptied: log out
                main.values = {}
                main.options = main.options.replace(max_age=-1)
            else:  # never stored, still empty: nothing to write, as in Starlette
                main.mark_unmodified()
        current = request.state.get(REGISTRY_STATE_KEY)
        if current is not registry:  # replaced during the request: save only if still ours
            if not isinstance(current, Registry) or not current.owned_by(request):
                return PendingHeaders()
            registry = current
        accessed = self._accessed(registry, main, mapping)
        collector = CookieCollector()
        if self.save_every_request:
            for session in registry.sessions():
                if session.modified or not (session is not main or session.values):
                    continue
                # Re-sent so the cookie's lifetime restarts: a touch where the store
                # can (never rewriting values a concurrent request saved, S-9.25),
                # else a save.
                if not await registry.atouch(session, collector, force=True):
                    session.mark_modified()
        await registry.asave_all(collector, only_modified=True)
        lines = collector.header_values()
        # A response that sets a session cookie depends on that session, read or not.
        return PendingHeaders(lines, accessed or bool(lines))


# -- typed sessions in one line (spec.TypedSession) ----------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def typed_session_dependency(
    typed: TypedSession[_Model],
) -> Callable[[Request], Awaitable[_Model]]:
    """A FastAPI dependency giving the request's session of ``typed`` as its model.

    ``Annotated[Cart, Depends(typed_session_dependency(carts))]``. Like
    :func:`session_dependency`, it refuses an app without
    :class:`SessionMiddleware` (nothing would save the session) and loads
    a sync store's session in a worker thread.
    """

    async def load_typed_session(request: Request) -> _Model:
        await get_session(request, typed.store, typed.name)  # the middleware check, and the load
        return await typed.aload(spec_request(request))

    return load_typed_session


async def save_typed_session(
    connection: HTTPConnection, typed: TypedSession[_Model], value: _Model
) -> None:
    """Keep ``value`` as the session's values; :class:`SessionMiddleware` writes the cookie."""
    await get_session(connection, typed.store, typed.name)
    await typed.aput(spec_request(connection), value)
