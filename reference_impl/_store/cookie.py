"""The cookie core: the whole session, signed and optionally encrypted, in the cookie.

Its plans yield no backend step: loading is decoding the cookie, saving is
encoding it. The drivers run them exactly like the server-side plans, so a
cookie store has the same ``get``/``new``/``save`` as every other store.
"""

from __future__ import annotations

from reference_impl._store.core import Loaded, StoreCore, values_of
from reference_impl._store.meta import write_meta
from reference_impl._store.plan import Plan
from reference_impl.securecookie import decode_multi, encode_multi
from spec import Cookie, Request, ResponseWriter, Session
from spec.errors import ValueTooLongError

__all__ = ["CookieCore"]


class CookieCore(StoreCore):
    """Decisions of a store that keeps the values in the cookie (gorilla's ``CookieStore``)."""

    def _load_one(self, name: str, raw: str) -> Plan[Loaded]:
        """The values are the cookie itself; there is no ID and no record."""
        return "", values_of(decode_multi(name, raw, self.codecs)), None
        yield  # a plan with no backend step

    def save_plan(self, request: Request, response: ResponseWriter, session: Session) -> Plan[None]:
        """Encode the values into the cookie, or delete the cookie if ``max_age < 0``.

        A cookie longer than the codec's ``max_length`` (counting the name,
        as browsers do) raises :class:`ValueTooLongError` and nothing is
        written: a browser would silently drop it and log the user out.
        """
        now = self.clock()
        if session.options.max_age < 0:
            if request.cookie_values(session.name):
                response.set_cookie(Cookie.for_session(session.name, "", session.options, now))
                self.emit("deleted", session.name)
            session.mark_unmodified()
            return
        encoded = encode_multi(
            session.name, write_meta(session, self.options, self.lifetimes, int(now)), self.codecs
        )
        limit = self.codecs[0].max_length
        size = len(session.name) + 1 + len(encoded)
        if limit and size > limit:
            raise ValueTooLongError(size, limit)
        response.set_cookie(Cookie.for_session(session.name, encoded, session.options, now))
        private = session.__pydantic_private__
        if self.listeners and session.is_new and private and private.get("_used_at") is None:
            self.emit("created", session.name)  # the first save of a session (S-9.26)
        self.saved(session, int(now), None)
        return
        yield  # a plan with no backend step

    def touch_plan(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool
    ) -> Plan[bool]:
        """Re-issue the cookie with the same values and a new last-use time (S-9.23).

        The browser holds the data, so re-sending it is the touch; a request
        that changed the session was saved instead, never touched.
        """
        if not self.touch_due(session, force=force):
            return False
        yield from self.save_plan(request, response, session)
        return True
