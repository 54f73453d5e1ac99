"""AsyncCookieStore: the whole session in the cookie, behind an async interface."""

from __future__ import annotations

from reference_impl import cookie_store
from reference_impl._store.core import ConformanceFactory
from reference_impl._store.drivers import AsyncStoreBase
from reference_impl.cookie_store import CookieStore
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["AsyncCookieStore", "conformance_factory"]


class AsyncCookieStore(AsyncStoreBase[CookieStore]):
    """:class:`~reference_impl.cookie_store.CookieStore` for async apps.

    A cookie store does no I/O (signing and encrypting are CPU work), so
    its loads and saves run on the event loop as they are; the async
    interface only lets it sit beside other async stores, cached by
    :meth:`spec.Registry.aget` and saved by ``asave_all``. Same constructor
    and behaviour as the sync store, which does the work.
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            CookieStore(*key_pairs, options=options, serializer=serializer, clock=clock)
        )


#: ``python -m conformance reference_impl.aio.cookie_store:conformance_factory``
conformance_factory = ConformanceFactory(
    "async-cookie",
    lambda clock, keys: AsyncCookieStore(*keys, clock=clock),
    cookie_store.conformance_factory.capabilities,
)
