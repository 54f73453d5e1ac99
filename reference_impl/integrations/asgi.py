"""ASGI middleware: a per-request session registry, saved inside the wrapped ``send``.

::

    from reference_impl.integrations.asgi import SessionMiddleware, request_of

    async def app(scope, receive, send):
        session = await async_store.get(request_of(scope), "auth")
        ...

    app = SessionMiddleware(app)

A plain ASGI callable with no framework behind it (it also works as Starlette
or FastAPI middleware). ``lifespan`` and other non-HTTP scopes pass straight
through; a ``websocket`` scope gets its own registry (sessions can be read
from the handshake's cookies) but nothing is saved. Every HTTP request gets a
registry of its own when it starts, never one found in a shared state (S-5.8).
For HTTP, the response is changed only inside the wrapped
``send``, on ``http.response.start``: every *modified* session is saved with
``await Registry.asave_all(...)`` (async stores awaited, sync stores' saves in
a worker thread, S-5.7), then the ``Set-Cookie`` lines and ``Vary: Cookie``
are appended. The reasons for each rule are in :mod:`reference_impl.integrations`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from reference_impl.integrations._common import (
    PendingHeaders,
    acollect_session_headers,
    request_registry,
    vary_with_cookie,
    was_accessed,
)
from spec.cookie import cookie_values
from spec.errors import ConfigurationError

__all__ = [
    "MIDDLEWARE_STATE_KEY",
    "SESSION_SCOPE_TYPES",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "ScopeRequest",
    "Send",
    "SessionMiddleware",
    "request_of",
]

#: ASGI's types, spelled as Starlette spells them (so the two interoperate).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Set in the request state by :class:`SessionMiddleware`, so helpers can
#: refuse to hand out sessions that nothing would save.
MIDDLEWARE_STATE_KEY = "sessionspec.asgi_middleware"

#: The ASGI scope types that are one client's request, and so may have sessions:
#: an HTTP request, and a websocket (its handshake carries the cookies).
SESSION_SCOPE_TYPES = frozenset({"http", "websocket"})


class ScopeRequest:
    """A :class:`spec.Request` over an ASGI HTTP scope.

    Every ``cookie`` header (HTTP/2 may send several) is read, in order,
    through :func:`spec.parse_cookie_header`. The state is the scope's
    ``state`` dict, which Starlette exposes as ``request.state`` and which
    lives exactly as long as the request (S-5.1).

    Only ``http`` and ``websocket`` scopes are accepted (S-5.8): anything
    else, ``lifespan`` above all, raises :class:`ConfigurationError`. The
    lifespan ``state`` is copied into every request by the server, so a
    session loaded there would be shared by every visitor.
    """

    __slots__ = ("scope",)

    def __init__(self, scope: Scope) -> None:
        kind = scope.get("type")
        if kind not in SESSION_SCOPE_TYPES:
            raise ConfigurationError(
                f"sessionspec: request_of() got an ASGI {kind!r} scope; sessions belong to "
                "one client's request, and a lifespan scope's state is copied into every "
                'request. Start the app with: if scope["type"] != "http": ... (handle or '
                "return), and load sessions only for http (or websocket) scopes"
            )
        self.scope = scope

    @property
    def owner(self) -> Scope:
        """The scope dict itself: what identifies this request to its registry (S-5.8)."""
        return self.scope

    def cookie_values(self, name: str) -> list[str]:
        """Every value of cookie ``name`` sent with the request, in header order."""
        headers: Iterable[tuple[bytes, bytes]] = self.scope.get("headers") or ()
        found = [value for key, value in headers if key == b"cookie" or key.lower() == b"cookie"]
        if not found:
            return []
        joined = found[0] if len(found) == 1 else b"; ".join(found)
        return cookie_values(joined.decode("latin-1"), name)

    @property
    def state(self) -> MutableMapping[str, object]:
        """The scope's ``state`` mapping (created if the server gave none)."""
        state: MutableMapping[str, object] | None = self.scope.get("state")
        if state is None:
            state = self.scope.setdefault("state", {})
        return state


def request_of(scope: Scope) -> ScopeRequest:
    """The :class:`spec.Request` for the HTTP (or websocket) request described by ``scope``.

    Raises :class:`~spec.errors.ConfigurationError` for a ``lifespan`` or
    any other scope type (see :class:`ScopeRequest`).
    """
    return ScopeRequest(scope)


class SessionMiddleware:
    """Saves the sessions an ASGI app used, adding their cookies to its response.

    ``save_every_request=False`` (the default) saves only sessions the
    request modified, so a request that merely read its session sends no
    ``Set-Cookie``. ``True`` saves every session the request accessed
    (gorilla's ``sessions.Save``), re-stamping the cookie so that expiry
    slides with activity; a fresh session that was only looked at is then
    saved too (a record, with a server-side store).

    A failing save raises from the app's ``await send(...)`` of
    ``http.response.start``, before that message (or any header) is passed
    on. The framework's or server's error handling then answers 500, and no
    ``Set-Cookie`` of this request ever reaches the client. Sessions changed
    after the response started (in a streamed body) cannot be saved.
    """

    __slots__ = ("app", "save_every_request")

    def __init__(self, app: ASGIApp, *, save_every_request: bool = False) -> None:
        self.app = app
        self.save_every_request = save_every_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in SESSION_SCOPE_TYPES:
            await self.app(scope, receive, send)
            return
        request = request_of(scope)
        with request_registry(request):  # never one inherited through a shared state (S-5.8)
            await self._serve(request, scope, receive, send)

    async def _serve(
        self, request: ScopeRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request.state[MIDDLEWARE_STATE_KEY] = True
        only_modified = not self.save_every_request
        failed = False

        async def send_with_sessions(message: Message) -> None:
            nonlocal failed
            if message["type"] == "http.response.start":
                if failed:
                    # The app is answering our own save error: no cookies at all.
                    pending = PendingHeaders(accessed=was_accessed(request))
                else:
                    try:
                        pending = await acollect_session_headers(
                            request, only_modified=only_modified
                        )
                    except Exception:
                        failed = True
                        raise
                message = dict(message)
                message["headers"] = with_session_headers(message.get("headers") or (), pending)
            await send(message)

        await self.app(scope, receive, send_with_sessions)


def with_session_headers(
    headers: Iterable[tuple[bytes, bytes]], pending: PendingHeaders
) -> list[tuple[bytes, bytes]]:
    """A copy of ``headers`` with ``Vary: Cookie`` (if accessed) and the ``Set-Cookie`` lines."""
    out = [(bytes(name), bytes(value)) for name, value in headers]
    if pending.accessed:
        varies = [i for i, (name, _) in enumerate(out) if name.lower() == b"vary"]
        if not varies:
            out.append((b"vary", b"Cookie"))
        else:
            values = [out[i][1].decode("latin-1") for i in varies]
            if all(vary_with_cookie(value) != value for value in values):
                name = out[varies[0]][0]
                out[varies[0]] = (name, vary_with_cookie(values[0]).encode("latin-1"))
    out.extend((b"set-cookie", line.encode("latin-1")) for line in pending.set_cookies)
    return out
