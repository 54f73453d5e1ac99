"""CookieStore: the whole session lives, signed and optionally encrypted, in the cookie."""

from __future__ import annotations

from reference_impl._store.cookie import CookieCore
from reference_impl._store.drivers import SyncDriver
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["CookieStore"]


class CookieStore(SyncDriver[CookieCore]):
    """Keeps session values in the cookie itself (gorilla's ``NewCookieStore``).

    Nothing is stored on the server, so there is nothing to clean up and
    nothing to lose, but the values travel with every request and are limited
    to about 4 KB. Without a block key the values are signed, not hidden:
    anyone holding the cookie can read them.

    The codec's ``max_age`` (the store's, see :meth:`max_age`) is the
    longest a cookie is accepted, whatever its own ``Max-Age`` says: gorilla's
    format has no room for a per-session lifetime. So give the store the
    longest lifetime you use ("remember me") and shorten individual sessions
    through ``session.options``.

    ``blocking = False``: loading and saving only compute, so async code
    (``asave_all``, the ASGI integrations) calls this store inline.
    """

    blocking = False

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
