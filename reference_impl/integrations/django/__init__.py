"""Django: middleware giving views ``request.sessionspec`` and saving modified sessions.

::

    # settings.py
    MIDDLEWARE = [..., "reference_impl.integrations.django.SessionspecMiddleware"]

    # views.py
    from reference_impl.integrations.django import sessions_of

    def login(request):
        session = sessions_of(request).get(STORE, "auth")   # or request.sessionspec.get(...)
        session.values["user"] = request.POST["user"]
        return HttpResponse("ok")

To replace Django's own ``request.session`` (so that ``django.contrib.auth``,
the admin and ``contrib.messages`` use a sessionspec store), use the session
engine instead: ``SESSION_ENGINE = "reference_impl.integrations.django.session_engine"``
(:mod:`reference_impl.integrations.django.session_engine`). This middleware
is for several sessionspec sessions per request, beside ``request.session``.
In ``process_response`` every *modified* session is saved and its cookie
added exactly as rendered by :meth:`spec.Cookie.render` (Go's attribute
order and date format, S-3.1), not re-rendered by Django. A 5xx response
saves nothing, as with Django's ``SessionMiddleware``. See
:mod:`reference_impl.integrations` for why only modified sessions, why
``Vary: Cookie`` and why a failed save answers 500 with no cookies.

This module imports Django; nothing else in ``reference_impl`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from contextlib import suppress
from http.cookies import CookieError, Morsel
from typing import TypeVar

from pydantic import BaseModel

try:
    from django.http import HttpRequest
    from django.http.response import HttpResponseBase
    from django.utils.cache import patch_vary_headers
except ModuleNotFoundError as _missing:  # the optional package is not installed
    from spec.errors import MissingDependencyError

    raise MissingDependencyError(_missing.name or "django", "django", __name__) from None

from reference_impl.integrations._common import collect_session_headers, was_accessed
from reference_impl.integrations.wsgi import EnvironRequest, request_of
from spec import Registry, Session, Store, TypedSession
from spec.errors import ConfigurationError

__all__ = [
    "REQUEST_ATTRIBUTE",
    "SessionAccessor",
    "SessionspecMiddleware",
    "save_typed_session",
    "sessions_of",
    "typed_session",
]

#: The attribute the middleware sets on every ``HttpRequest``.
REQUEST_ATTRIBUTE = "sessionspec"


class SessionAccessor:
    """``request.sessionspec``: the request's sessions, one per (store, name).

    ``get(store, name)`` is :meth:`Registry.get` for this request;
    :attr:`request` is the :class:`spec.Request` (for ``store.get`` directly)
    and :attr:`registry` the registry itself.
    """

    __slots__ = ("request",)

    def __init__(self, request: EnvironRequest) -> None:
        self.request = request

    @property
    def registry(self) -> Registry:
        """The request's session registry."""
        return Registry.of(self.request)

    def get(self, store: Store, name: str) -> Session:
        """Return session ``name`` of ``store``, loaded once per request (S-5.2)."""
        return self.registry.get(store, name)


def sessions_of(request: HttpRequest) -> SessionAccessor:
    """The typed form of ``request.sessionspec``.

    Raises :class:`~spec.errors.ConfigurationError` when the middleware is
    not installed (changes would otherwise never be saved).
    """
    accessor = getattr(request, REQUEST_ATTRIBUTE, None)
    if not isinstance(accessor, SessionAccessor):
        raise ConfigurationError(
            "sessionspec: add 'reference_impl.integrations.django.SessionspecMiddleware' "
            "to MIDDLEWARE"
        )
    return accessor


class SessionspecMiddleware:
    """Django middleware: ``request.sessionspec`` in, modified sessions saved on the way out.

    The session state lives in ``request.META`` (the WSGI environ under WSGI),
    so it is shared with :class:`reference_impl.integrations.wsgi.SessionMiddleware` if both
    are used. Only sync stores (Django middleware runs sync; Django adapts
    it under ASGI). A failing save raises from this middleware before any
    cookie is added; Django's exception handling turns that into its 500
    response, which carries none of our cookies.
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        spec_request = request_of(request.META)
        Registry.of(spec_request)  # this request's own registry from the start (S-5.8)
        setattr(request, REQUEST_ATTRIBUTE, SessionAccessor(spec_request))
        response = self.get_response(request)
        return self.process_response(request, response)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """Save every modified session, then add ``Vary: Cookie`` and the cookies.

        Nothing is saved for a 5xx response, as Django's ``SessionMiddleware``
        does: a view that changed the session and then failed (Django has
        already turned its exception into the 500 response we get here)
        must not commit half of its work, nor send a cookie on the error page.
        """
        spec_request = sessions_of(request).request
        if response.status_code >= 500:
            if was_accessed(spec_request):
                patch_vary_headers(response, ("Cookie",))
            return response
        pending = collect_session_headers(spec_request, only_modified=True)
        if pending.accessed or was_accessed(spec_request):
            patch_vary_headers(response, ("Cookie",))
        for line in pending.set_cookies:
            name = key = line.partition("=")[0]
            n = 1
            while isinstance(response.cookies.get(key), _RenderedMorsel):
                n += 1
                key = f"{name}#{n}"  # two stores using one name: keep both lines
            response.cookies[key] = _RenderedMorsel(name, line)
        return response


class _RenderedMorsel(Morsel[str]):
    """A ``Morsel`` whose ``Set-Cookie`` text is our rendered line, unchanged.

    Django writes one ``Set-Cookie`` header per entry of ``response.cookies``
    with ``morsel.output(header="")``; ``response.set_cookie`` would re-render
    the cookie with ``http.cookies`` rules (other quoting, no ``Partitioned``
    before Python 3.14), so the line :meth:`spec.Cookie.render` produced is
    kept as is.
    """

    def __init__(self, name: str, line: str) -> None:
        super().__init__()
        self._line = line
        value = line.partition("=")[2].partition(";")[0]
        # So response.cookies[name].value works; a name Morsel reserves
        # ("path", "expires") is refused there, and the line is right anyway.
        with suppress(CookieError):
            self.set(name, value, value)

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        """The ``Set-Cookie`` value exactly as sessionspec rendered it."""
        return self._line


# -- typed sessions in one line (spec.TypedSession) ----------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def typed_session(request: HttpRequest, typed: TypedSession[_Model]) -> _Model:
    """The request's session of ``typed`` as its model: ``cart = typed_session(request, carts)``.

    Needs :class:`SessionspecMiddleware` (it saves the session); stored
    values that do not fit the model give its defaults, never a 500.
    """
    return typed.load(sessions_of(request).request)


def save_typed_session(request: HttpRequest, typed: TypedSession[_Model], value: _Model) -> None:
    """Keep ``value`` as the session's values; the middleware writes the cookie."""
    typed.put(sessions_of(request).request, value)
