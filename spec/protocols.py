"""The interfaces users implement: stores, codecs, serializers, HTTP plumbing, clocks.

They are :class:`typing.Protocol` classes rather than base classes, so a
backend never inherits behaviour it did not ask for, and mypy checks a custom
store against the contract structurally: a wrong signature is a type error at
the user's definition site, not a crash on the first request.
"""

from __future__ import annotations

import inspect
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeGuard, runtime_checkable

if TYPE_CHECKING:
    from spec.cookie import Cookie
    from spec.session import AsyncSession, Session

__all__ = ["AsyncStore", "Clock", "Codec", "Request", "ResponseWriter", "Serializer", "Store"]


@runtime_checkable
class Clock(Protocol):
    """Returns the current Unix time in seconds (``time.time`` fits).

    Every codec and store takes one, so expiry is tested by moving a fake
    clock instead of sleeping or patching global time.
    """

    def __call__(self) -> float: ...


@runtime_checkable
class Serializer(Protocol):
    """Turns session values into bytes and back."""

    def serialize(self, value: object) -> bytes:
        """Return the bytes for ``value``; raise ``SerializeError`` if it cannot."""
        ...

    def deserialize(self, data: bytes) -> object:
        """Return the value encoded in ``data``; raise ``DeserializeError`` if it cannot."""
        ...


@runtime_checkable
class Codec(Protocol):
    """Signs (and optionally encrypts) a value under a cookie name, and checks it back."""

    def encode(self, name: str, value: object) -> str:
        """Return the cookie text for ``value``; raise an ``EncodeError`` on failure."""
        ...

    def decode(self, name: str, value: str) -> object:
        """Return the value in ``value``; raise a ``DecodeError`` if it must be rejected."""
        ...


@runtime_checkable
class Request(Protocol):
    """What a store needs from an incoming HTTP request."""

    def cookie_values(self, name: str) -> Sequence[str]:
        """Every value sent for cookie ``name``, in header order (possibly none)."""
        ...

    @property
    def state(self) -> MutableMapping[str, object]:
        """Storage that lives exactly as long as this request (holds the registry)."""
        ...


@runtime_checkable
class ResponseWriter(Protocol):
    """What a store needs from the outgoing HTTP response."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Add one ``Set-Cookie`` header for ``cookie``."""
        ...


@runtime_checkable
class Store(Protocol):
    """A place sessions live: in the cookie itself, in files, in a server.

    ``new`` builds a session from the request and never returns ``None`` and
    never raises for a bad cookie (the reason goes to ``Session.load_error``);
    it raises ``StoreError`` only when the backend itself failed. ``get`` is
    ``new`` cached per request through the :class:`~spec.Registry`.

    Optional: a class attribute ``blocking = False`` declares that the
    store does no I/O (:func:`never_blocks`), so async code calls it inline
    rather than in a worker thread. Leave it out if any call may wait on a
    disk, a socket or a lock held across I/O.
    """

    def get(self, request: Request, name: str) -> Session:
        """Return the session ``name`` of this request, loading it once per request."""
        ...

    def new(self, request: Request, name: str) -> Session:
        """Load (or create) session ``name`` from the request, bypassing the cache."""
        ...

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and write its cookie to ``response``."""
        ...


@runtime_checkable
class AsyncStore(Protocol):
    """A store whose I/O is awaited, for ASGI apps: the same contract as :class:`Store`.

    An event loop must never wait on a disk or a network inside a request:
    every other request on that loop would wait too. ``get`` is ``new``
    cached per request through :meth:`Registry.aget`.
    """

    async def get(self, request: Request, name: str) -> AsyncSession:
        """Return the session ``name`` of this request, loading it once per request."""
        ...

    async def new(self, request: Request, name: str) -> AsyncSession:
        """Load (or create) session ``name`` from the request, bypassing the cache."""
        ...

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and write its cookie to ``response``."""
        ...


def never_blocks(store: object) -> bool:
    """Whether a sync ``store`` declares that it does no I/O (``blocking = False``).

    ``blocking`` is an optional attribute of a :class:`Store`: a store
    whose ``new``, ``save`` and ``touch`` only compute (the cookie store,
    the in-memory store) sets it to ``False``, and async code (the
    registry's ``asave_all``, ``Session.asave``, the ASGI integrations) then
    calls it inline instead of in a worker thread, which costs more than the
    work. A store without the attribute is assumed to block: a disk or
    network wait inside the event loop would stall every other request.
    """
    return getattr(store, "blocking", True) is False


def is_async_store(store: object) -> TypeGuard[AsyncStore]:
    """Whether ``store`` is an :class:`AsyncStore` (its ``save`` is a coroutine function)."""
    # Defined beside AsyncStore so that Session.save/asave, the registry and
    # the adapters all decide "async or not" with this one test. The answer
    # is remembered per class and class-level ``save`` (it is asked twice per
    # request); a store whose instance carries its own ``save`` is asked
    # every time.
    if "save" in getattr(store, "__dict__", ()):
        return inspect.iscoroutinefunction(store.save)  # type: ignore[attr-defined]
    method = getattr(type(store), "save", None)
    if method is None:  # no save of its own class: whatever the instance answers, each time
        return inspect.iscoroutinefunction(getattr(store, "save", None))
    key = (type(store), method)
    known = _ASYNC_BY_CLASS.get(key)
    if known is None:
        known = _ASYNC_BY_CLASS[key] = inspect.iscoroutinefunction(getattr(store, "save", None))
    return known


#: Per (store class, its ``save``): whether that ``save`` is a coroutine function.
_ASYNC_BY_CLASS: dict[tuple[type, object], bool] = {}
