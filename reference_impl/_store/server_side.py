"""The layout every server-side store shares: a signed ID in the cookie, data elsewhere.

A backend implements four primitives on encoded records (:class:`RecordBackend`);
this module turns them into a :class:`~spec.Store` with the guarantees of
``docs/spec.md`` S-10: IDs are random and validated before any I/O, create
never overwrites, a save never resurrects a deleted session, an ID from a
cookie is never reused for a fresh session.

Those decisions live in :class:`ServerSideCore` as plans (``reference_impl._store.plan``)
with no I/O of their own: :class:`ServerSideStore` performs their steps on a
sync backend, ``reference_impl.aio.AsyncServerSideStore`` awaits them on an
async one, so the guarantees are written once for both.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from typing import Protocol

from reference_impl._store import plan as step
from reference_impl._store.core import CodecStoreBase, StoreCore, values_of
from reference_impl._store.plan import Create, Delete, Op, Plan, Read, Update, run_plan
from reference_impl.securecookie import encode_multi
from spec import Clock, Cookie, Options, Request, ResponseWriter, Session, SessionKey
from spec.errors import (
    ExpiredTimestampError,
    InvalidSessionIDError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)
from spec.protocols import Serializer

__all__ = [
    "ID_PATTERN",
    "ISSUED_ID_PATTERN",
    "RecordBackend",
    "ServerSideCore",
    "ServerSideStore",
    "check_session_id",
    "new_session_id",
    "perform",
]

#: The IDs we issue: 32 random bytes in unpadded base32, gorilla's FilesystemStore shape.
ISSUED_ID_PATTERN = re.compile(r"[A-Z2-7]{52}")
#: The IDs we accept: letters, digits, ``_`` and ``-``, 1 to 128 of them. Wider
#: than what we issue because a Go app may set ``session.ID`` itself (gorilla
#: saves any ID), and IDs only reach us inside a MAC-checked cookie, so only a
#: holder of the hash key chooses one. Narrow enough to be inert everywhere an
#: ID is used: no ``/``, ``\``, ``.`` or NUL (no path traversal, no hidden or
#: temporary file names, since files are ``session_<ID>``), no ``:``, ``*`` or
#: spaces (no Redis key namespace or pattern tricks), and at most 128
#: characters (``session_`` + 128 stays far below the 255-byte file name limit).
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CREATE_ATTEMPTS = 4


def new_session_id() -> str:
    """Return a fresh 256-bit random ID (52 base32 characters, gorilla's format)."""
    return base64.b32encode(os.urandom(32)).decode("ascii").rstrip("=")


def check_session_id(session_id: str) -> None:
    """Raise :class:`InvalidSessionIDError` unless ``session_id`` matches :data:`ID_PATTERN`.

    This runs before any file name, key or query is built from an ID, so an
    ID such as ``../../etc/passwd`` never reaches the backend, even from a
    cookie signed with our key (GO-2024-2730: an app that copied user input
    into ``session.ID``). Shorter IDs a Go app chose are accepted (S-10.3).
    """
    if ID_PATTERN.fullmatch(session_id) is None:
        raise InvalidSessionIDError()


class RecordBackend(Protocol):
    """The four storage primitives a server-side store needs.

    Records are the securecookie text of the session values, plus an
    optional absolute deadline ``expires_at`` (Unix seconds on the store's
    clock) for backends that can keep one. ``ttl`` is the same lifetime in
    seconds from now, for backends whose own expiry (a Redis TTL) only
    collects garbage: it never decides whether a session is alive, the
    store's clock does. Every method raises :class:`~spec.errors.StoreError`
    when the backend itself fails.
    """

    def read(self, session_id: str) -> tuple[str, float | None] | None:
        """Return ``(data, expires_at)`` for ``session_id``, or ``None`` if absent."""
        ...

    def create(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        """Store a new record; return ``False`` (writing nothing) if the ID exists."""
        ...

    def update(self, session_id: str, data: str, expires_at: float | None, ttl: int | None) -> bool:
        """Replace an existing record; return ``False`` (writing nothing) if it is gone."""
        ...

    def delete(self, session_id: str) -> bool:
        """Remove the record if present; return ``True`` only if this call removed it.

        Atomic: of two concurrent deletes of one record, exactly one returns
        ``True``. A save after ``regenerate_id()`` relies on it to claim the
        old record, so a logout in another tab cannot be undone (S-10.5).
        """
        ...


def perform(backend: RecordBackend, op: Op) -> object:
    """Run one plan step on a sync backend and return what the backend returned."""
    if isinstance(op, Read):
        return backend.read(op.session_id)
    if isinstance(op, Create):
        return backend.create(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Update):
        return backend.update(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Delete):
        return backend.delete(op.session_id)
    raise TypeError(f"not a backend step: {op!r}")


class ServerSideCore(StoreCore):
    """The decisions of a store whose cookie holds only the signed session ID, as plans."""

    def load_plan(self, name: str, raw: str) -> Plan[tuple[str, dict[SessionKey, object]]]:
        """Verify the signed ID, check its shape, then fetch and verify the record.

        A fresh session never takes over an ID from a cookie (unknown,
        deleted or expired): a new one is drawn when it is first saved, so
        an ID planted in a victim's browser is worthless (session fixation).
        """
        session_id = self._decode(name, raw)
        if not isinstance(session_id, str):
            raise InvalidSessionIDError()
        check_session_id(session_id)
        record = yield from step.read(session_id)
        if record is None:
            raise SessionNotFoundError(name)
        data, expires_at = record
        now = self.clock()
        if expires_at is not None and now > expires_at:
            raise ExpiredTimestampError(int(expires_at), int(now))
        return session_id, values_of(self._decode(name, data))

    def save_plan(self, request: Request, response: ResponseWriter, session: Session) -> Plan[None]:
        """Create, update or delete the record, then write the ID cookie.

        ``options.max_age < 0`` deletes the record and the cookie. A loaded
        session whose record disappeared meanwhile (logout in another tab)
        raises :class:`SessionInterruptedError` and writes nothing, instead
        of bringing the session back. After :meth:`Session.regenerate_id`
        the values move to a new ID and the old record is deleted.

        With ``regenerate_id`` the old record is *claimed* first: deleted,
        and only if that delete removed it is the new record created. A
        logout in another tab between load and save has already removed it,
        so the save raises :class:`SessionInterruptedError` instead of
        creating a new, logged-in record (with whatever the request added,
        ``role=admin`` say) that the logout would never have seen. Of two
        requests regenerating the same session, likewise only one wins. If
        the create then fails (``StoreError``), the session is gone: that
        fails closed, as a logout.
        """
        now = self.clock()
        name = session.name
        if session.id:
            check_session_id(session.id)
        if session.options.max_age < 0:
            had_cookie = bool(session.id) or bool(request.cookie_values(name))
            if session.id:
                yield from step.delete(session.id)
                session.id = ""
            session.clear_regenerate_request()
            session.mark_unmodified()
            if had_cookie:
                response.set_cookie(Cookie.for_session(name, "", session.options, now))
            return
        data = encode_multi(name, dict(session.values), self.codecs)
        ttl = self._lifetime(session)
        expires_at = now + ttl if ttl else None
        if session.id and not session.regenerate_requested:
            if not (yield from step.update(session.id, data, expires_at, ttl)):
                raise SessionInterruptedError(name)
            session_id = session.id
        else:
            if session.id and not (yield from step.delete(session.id)):
                raise SessionInterruptedError(name)  # logged out (or regenerated) elsewhere
            session_id = yield from self._create_plan(data, expires_at, ttl)
        cookie_value = encode_multi(name, session_id, self.codecs)
        session.id = session_id
        session.clear_regenerate_request()
        session.mark_unmodified()
        response.set_cookie(Cookie.for_session(name, cookie_value, session.options, now))

    def _create_plan(self, data: str, expires_at: float | None, ttl: int | None) -> Plan[str]:
        for _ in range(_CREATE_ATTEMPTS):
            session_id = new_session_id()
            if (yield from step.create(session_id, data, expires_at, ttl)):
                return session_id
        raise StoreError(f"could not create a unique session ID in {_CREATE_ATTEMPTS} attempts")

    def _lifetime(self, session: Session) -> int | None:
        """Seconds the record lives: the session's own max_age, capped by the store's."""
        store_limit = self.codecs[0].max_age
        lifetime = session.options.max_age if session.options.max_age > 0 else store_limit
        if store_limit:
            lifetime = min(lifetime, store_limit)
        return lifetime or None


class ServerSideStore(ServerSideCore, CodecStoreBase):
    """A sync store whose cookie holds only the signed session ID."""

    def __init__(
        self,
        backend: RecordBackend,
        key_pairs: Sequence[bytes],
        options: Options | None,
        serializer: Serializer | None,
        clock: Clock | None,
    ) -> None:
        super().__init__(key_pairs, options, serializer, clock)
        self.backend = backend

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Run :meth:`ServerSideCore.save_plan` on the backend."""
        run_plan(self.save_plan(request, response, session), self._perform)

    def _perform(self, op: Op) -> object:
        return perform(self.backend, op)
