"""AsyncCookieStore: the whole session in the cookie, behind an async interface."""

from __future__ import annotations

from reference_impl._store.cookie import CookieCore
from reference_impl._store.drivers import AsyncDriver
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["AsyncCookieStore"]


class AsyncCookieStore(AsyncDriver[CookieCore]):
    """:class:`~reference_impl.cookie_store.CookieStore` for async apps.

    A cookie store does no I/O (signing and encrypting are CPU work), so
    its loads and saves run on the event loop as they are; the async
    interface only lets it sit beside other async stores, cached by
    :meth:`spec.Registry.aget` and saved by ``asave_all``. Same constructor,
    same core, same behaviour as the sync store.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        super().__init__(CookieCore(key_pairs, options, serializer, clock))
        self._set_lifetimes(absolute_timeout, idle_timeout, track_created=False)
