"""CookieStore: the whole session lives, signed and optionally encrypted, in the cookie."""

from __future__ import annotations

from reference_impl._store.core import (
    CodecStoreBase,
    ConformanceFactory,
    values_of,
)
from reference_impl.securecookie import encode_multi
from spec import Clock, Cookie, Options, Request, ResponseWriter, Session, SessionKey
from spec.errors import ValueTooLongError
from spec.protocols import Serializer

__all__ = ["CookieStore", "conformance_factory"]


class CookieStore(CodecStoreBase):
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
    """

    def __init__(
        self,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(key_pairs, options, serializer, clock)

    def _load(self, name: str, raw: str) -> tuple[str, dict[SessionKey, object]]:
        """The values are the cookie itself; there is no ID."""
        return "", values_of(self._decode(name, raw))

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Encode the values into the cookie, or delete the cookie if ``max_age < 0``.

        A cookie longer than the codec's ``max_length`` (counting the name,
        as browsers do) raises :class:`ValueTooLongError` and nothing is
        written: a browser would silently drop it and log the user out.
        """
        now = self.clock()
        if session.options.max_age < 0:
            if request.cookie_values(session.name):
                response.set_cookie(Cookie.for_session(session.name, "", session.options, now))
            session.mark_unmodified()
            return
        encoded = encode_multi(session.name, dict(session.values), self.codecs)
        limit = self.codecs[0].max_length
        size = len(session.name) + 1 + len(encoded)
        if limit and size > limit:
            raise ValueTooLongError(size, limit)
        response.set_cookie(Cookie.for_session(session.name, encoded, session.options, now))
        session.clear_regenerate_request()
        session.mark_unmodified()


#: ``python -m conformance reference_impl.cookie_store:conformance_factory``
conformance_factory = ConformanceFactory(
    "cookie",
    lambda clock, keys: CookieStore(*keys, clock=clock),
    {"max_value_bytes": 4096},
)
