"""Framework integrations, and the framework-free pieces every adapter shares.

The adapters live in their own modules and each imports its framework only
inside itself, so ``import reference_impl.integrations`` (like
``reference_impl.integrations.wsgi`` and ``reference_impl.integrations.asgi``) needs no framework:

* ``reference_impl.integrations.wsgi``: WSGI middleware (any WSGI app or server);
* ``reference_impl.integrations.asgi``: ASGI middleware (any ASGI app or server);
* ``reference_impl.integrations.flask``: a Flask ``SessionInterface``;
* ``reference_impl.integrations.starlette``: Starlette and FastAPI helpers;
* ``reference_impl.integrations.django``: Django middleware, and a ``SESSION_ENGINE``.

Every adapter follows the same three rules, implemented once here:

1. **Only modified sessions are saved** (S-5.6). Writing the cookie on every
   response extends its lifetime without the user doing anything, and lets a
   slow read-only request overwrite the cookie a concurrent request just
   changed (Starlette #828, #2019). ``save_every_request`` opts back into
   gorilla's ``sessions.Save`` behaviour for sliding expiry.
2. **Nothing reaches the response until every save succeeded.** Cookies are
   collected first (:class:`CookieCollector`) and added only when
   ``save_all`` raised nothing. A response carrying some of the cookies of a
   request would leave the browser with a mix of old and new sessions (say a
   new login but a stale CSRF session), so a save error becomes a 500 with
   no ``Set-Cookie`` at all.
3. **``Vary: Cookie`` whenever a session was accessed**, modified or not. The
   body then depends on the cookie, and a shared cache that ignored it could
   serve one user's page (and name, and flash message) to another.
"""

from __future__ import annotations

from dataclasses import dataclass

from spec import Cookie, Registry, Request
from spec.registry import REGISTRY_STATE_KEY

__all__ = [
    "CookieCollector",
    "PendingHeaders",
    "acollect_session_headers",
    "collect_session_headers",
    "install_registry",
    "registry_of",
    "request_registry",
    "vary_with_cookie",
    "was_accessed",
]


class CookieCollector:
    """A ``ResponseWriter`` that only remembers the cookies stores set on it.

    Adapters save into a collector rather than into the real response, so a
    failing save leaves the response untouched (rule 2 above).
    """

    __slots__ = ("cookies",)

    def __init__(self) -> None:
        self.cookies: list[Cookie] = []

    def set_cookie(self, cookie: Cookie) -> None:
        """Remember ``cookie``."""
        self.cookies.append(cookie)

    def header_values(self) -> tuple[str, ...]:
        """The ``Set-Cookie`` header values, rendered as Go does (S-3.1), in order."""
        return tuple(cookie.render() for cookie in self.cookies)


@dataclass(frozen=True, slots=True)
class PendingHeaders:
    """What an adapter adds to a response: the cookies, and whether to vary on them."""

    #: Rendered ``Set-Cookie`` values, one per saved session.
    set_cookies: tuple[str, ...] = ()
    #: Whether any session was loaded during the request (add ``Vary: Cookie``).
    accessed: bool = False


def install_registry(request: Request) -> Registry:
    """Give ``request`` its own registry as it starts (every adapter calls this first).

    A registry already in ``request.state`` is kept only if it was made for
    this very request (an outer layer of the same request, such as the WSGI
    middleware around Django's); one made for any other request or scope is
    replaced. The state is not always private: ASGI servers copy the
    lifespan state into every request, shallowly, so a registry there would
    hand one visitor's sessions to the next (S-5.8).
    """
    return Registry.of(request)


class request_registry:
    """The request's own registry for the duration of a ``with`` block (the ASGI middlewares).

    On entry it installs the registry (:func:`install_registry`). On exit it
    takes the registry out of ``request.state`` again if this block put it
    there: the registry refers to its request and the request's state holds
    the registry, a reference cycle that only the garbage collector would
    free, on every request, keeping each request's sessions alive until
    then. A registry an outer layer installed for the same request is left
    to that layer. A class rather than ``@contextmanager``: it runs on
    every request, and a generator costs more.
    """

    __slots__ = ("_before", "_registry", "_request")

    def __init__(self, request: Request) -> None:
        self._request = request

    def __enter__(self) -> Registry:
        self._before = self._request.state.get(REGISTRY_STATE_KEY)
        self._registry = install_registry(self._request)
        return self._registry

    def __exit__(self, *exc_info: object) -> None:
        registry = self._registry
        if registry is not self._before:
            state = self._request.state
            if state.get(REGISTRY_STATE_KEY) is registry:
                del state[REGISTRY_STATE_KEY]


def registry_of(request: Request) -> Registry | None:
    """The request's own registry if a session was asked for, else ``None`` (creates nothing).

    A registry in the state that belongs to another request is ignored: its
    sessions are not this response's to save (S-5.8).
    """
    found = request.state.get(REGISTRY_STATE_KEY)
    if found is None or (isinstance(found, Registry) and not found.owned_by(request)):
        return None
    return Registry.of(request)  # raises ConfigurationError if the slot holds junk


def collect_session_headers(request: Request, *, only_modified: bool) -> PendingHeaders:
    """Save the request's sessions into a collector and return the headers to add.

    Raises :class:`~spec.errors.SaveAllError` (after every session was
    tried) if any save failed; the caller must then add nothing.
    """
    registry = registry_of(request)
    if registry is None:
        return PendingHeaders()
    accessed = bool(registry.sessions())
    collector = CookieCollector()
    registry.save_all(collector, only_modified=only_modified)
    return PendingHeaders(collector.header_values(), accessed)


async def acollect_session_headers(request: Request, *, only_modified: bool) -> PendingHeaders:
    """:func:`collect_session_headers` for async code (async stores awaited, S-5.7).

    Sync stores' saves run in a worker thread, so the event loop never waits
    on a disk or a network.
    """
    registry = registry_of(request)
    if registry is None:
        return PendingHeaders()
    accessed = bool(registry.sessions())
    collector = CookieCollector()
    await registry.asave_all(collector, only_modified=only_modified)
    return PendingHeaders(collector.header_values(), accessed)


def was_accessed(request: Request) -> bool:
    """Whether any session of ``request`` was loaded (so the response varies on cookies)."""
    registry = registry_of(request)
    return registry is not None and bool(registry.sessions())


def vary_with_cookie(vary: str | None) -> str:
    """Return the ``Vary`` value ``vary`` with ``Cookie`` added, unless already covered.

    ``*`` already covers every header, and an existing ``Cookie`` entry (in
    any case) is not repeated.
    """
    if not vary or not vary.strip():
        return "Cookie"
    entries = {entry.strip().lower() for entry in vary.split(",")}
    if "cookie" in entries or "*" in entries:
        return vary
    return f"{vary}, Cookie"
