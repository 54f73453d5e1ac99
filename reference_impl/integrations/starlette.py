"""Starlette and FastAPI: the ASGI middleware, a request helper and a FastAPI dependency.

::

    from starlette.middleware import Middleware
    from reference_impl.integrations.starlette import SessionMiddleware, session_dependency

    app = FastAPI(middleware=[Middleware(SessionMiddleware)])
    Auth = Annotated[Session, Depends(session_dependency(store, "auth"))]

    @app.post("/login")
    async def login(session: Auth) -> dict[str, str]:
        session.values["user"] = "alice"
        return {"ok": "yes"}

:class:`SessionMiddleware` is :class:`reference_impl.integrations.asgi.SessionMiddleware`,
a plain ASGI middleware: it saves every *modified* session when the response
starts (see :mod:`reference_impl.integrations` for why only modified ones,
why ``Vary: Cookie`` and why a failed save answers 500 with no cookies).
Unlike ``starlette.middleware.sessions``, the session object is a typed
:class:`~spec.Session` from any sessionspec store, not a ``dict`` in a cookie.

This module imports Starlette (FastAPI is not needed for the dependency: it
takes a Starlette ``Request``); nothing else in ``reference_impl`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

try:
    from starlette.requests import HTTPConnection, Request
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "starlette", "starlette", __name__) from None

from reference_impl.integrations.asgi import (
    MIDDLEWARE_STATE_KEY,
    ScopeRequest,
    SessionMiddleware,
    request_of,
)
from spec import AsyncStore, Registry, Session, Store, check_cookie_name
from spec.errors import ConfigurationError
from spec.registry import is_async_store

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = ["SessionMiddleware", "get_session", "session_dependency", "spec_request"]


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
    registry = Registry.of(request)
    if _is_sync_store(store):
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
