"""WSGI middleware: a per-request session registry, saved before the headers go out.

::

    from reference_impl.integrations.wsgi import SessionMiddleware, request_of

    def app(environ, start_response):
        session = store.get(request_of(environ), "auth")
        ...

    app = SessionMiddleware(app)

The middleware is a plain WSGI callable with no framework behind it. It wraps
the ``start_response`` it hands to the application, and only there touches
the headers: every *modified* session of the request is saved (S-5.6), the
``Set-Cookie`` lines are appended, and ``Vary: Cookie`` is added when a
session was accessed. Why only modified sessions, why ``Vary`` and why a save
error must not leave half the cookies on the response is explained in
:mod:`reference_impl.integrations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from reference_impl.integrations._common import (
    PendingHeaders,
    collect_session_headers,
    install_registry,
    vary_with_cookie,
    was_accessed,
)
from spec.cookie import cookie_values

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

__all__ = ["ENVIRON_STATE_KEY", "EnvironRequest", "SessionMiddleware", "request_of"]

#: The environ key holding the request's state (and so its session registry).
ENVIRON_STATE_KEY = "sessionspec.state"


class EnvironRequest:
    """A :class:`spec.Request` over a WSGI environ (or Django's ``request.META``).

    Cookies come from ``HTTP_COOKIE`` through :func:`spec.parse_cookie_header`,
    so every value of a duplicated cookie is seen in header order (S-3.9).
    The state lives in the environ itself: every ``EnvironRequest`` over one
    environ shares it, and it dies with the request (S-5.1).
    """

    __slots__ = ("environ",)

    def __init__(self, environ: MutableMapping[str, Any]) -> None:
        self.environ = environ

    @property
    def owner(self) -> MutableMapping[str, Any]:
        """The environ dict itself: what identifies this request to its registry (S-5.8)."""
        return self.environ

    def cookie_values(self, name: str) -> list[str]:
        """Every value of cookie ``name`` in the request's ``Cookie`` header, in order."""
        header = self.environ.get("HTTP_COOKIE", "")
        return cookie_values(header, name) if isinstance(header, str) else []

    @property
    def state(self) -> MutableMapping[str, object]:
        """Per-request storage kept in the environ under :data:`ENVIRON_STATE_KEY`."""
        state = self.environ.get(ENVIRON_STATE_KEY)
        if not isinstance(state, dict):
            state = {}
            self.environ[ENVIRON_STATE_KEY] = state
        return state


def request_of(environ: MutableMapping[str, Any]) -> EnvironRequest:
    """The :class:`spec.Request` for the WSGI request described by ``environ``."""
    return EnvironRequest(environ)


class SessionMiddleware:
    """Saves the sessions a WSGI app used, adding their cookies to its response.

    ``save_every_request=False`` (the default) saves only sessions the
    request modified: a request that merely read its session sends no
    ``Set-Cookie``. ``True`` saves every session the request *accessed*
    (gorilla's ``sessions.Save``), re-stamping its cookie so expiry slides
    with activity; note that this also saves a fresh, empty session that was
    only looked at, which with a server-side store creates a record.

    Sessions are saved when the app calls ``start_response``. If any save
    fails, the error is raised from ``start_response`` *before* a single
    header is added, so the server's normal error path answers 500 with no
    ``Set-Cookie``; the app never gets a half-saved response. Sessions
    changed after ``start_response`` (inside a streamed body) cannot be
    saved: the headers are gone.
    """

    __slots__ = ("app", "save_every_request")

    def __init__(self, app: WSGIApplication, *, save_every_request: bool = False) -> None:
        self.app = app
        self.save_every_request = save_every_request

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = request_of(environ)
        install_registry(request)  # never one inherited through a shared state (S-5.8)
        only_modified = not self.save_every_request
        failed = False

        def start_with_sessions(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: OptExcInfo | None = None,
            /,
        ) -> Callable[[bytes], object]:
            nonlocal failed
            if failed:
                # The app is answering our own save error: no cookies at all.
                pending = PendingHeaders(accessed=was_accessed(request))
            else:
                try:
                    pending = collect_session_headers(request, only_modified=only_modified)
                except Exception:
                    failed = True
                    raise
            return start_response(status, with_session_headers(headers, pending), exc_info)

        return self.app(environ, start_with_sessions)


def with_session_headers(
    headers: Sequence[tuple[str, str]], pending: PendingHeaders
) -> list[tuple[str, str]]:
    """A copy of ``headers`` with ``Vary: Cookie`` (if accessed) and the ``Set-Cookie`` lines."""
    out = list(headers)
    if pending.accessed:
        varies = [i for i, (name, _) in enumerate(out) if name.lower() == "vary"]
        if not varies:
            out.append(("Vary", "Cookie"))
        elif all(vary_with_cookie(out[i][1]) != out[i][1] for i in varies):
            name, value = out[varies[0]]
            out[varies[0]] = (name, vary_with_cookie(value))
    out.extend(("Set-Cookie", line) for line in pending.set_cookies)
    return out
