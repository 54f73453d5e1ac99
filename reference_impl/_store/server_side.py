"""The server-side core: a signed ID in the cookie, the data in a backend.

:class:`ServerSideCore` turns the four primitives of a record backend
(``reference_impl._store.backend``) into the guarantees of ``docs/spec.md``
S-10: IDs are random and validated before any I/O, create never overwrites,
a save never resurrects a deleted session, an ID from a cookie is never
reused for a fresh session. It does so as plans with no I/O of their own;
the drivers perform their steps on a sync backend or await them on an async
one, so the guarantees are written once for both.
"""

from __future__ import annotations

import base64
import math
import os
import re
from typing import cast

from reference_impl._store import plan as step
from reference_impl._store import users
from reference_impl._store.core import Loaded, StoreCore, values_of
from reference_impl._store.meta import (
    CREATED_AT_KEY,
    RESERVED_PREFIX,
    USER_ID_KEY,
    read_meta,
    write_meta,
)
from reference_impl._store.plan import Plan, Read, Record
from reference_impl.securecookie import decode_multi, encode_multi
from spec import Cookie, Request, ResponseWriter, Session, SessionKey, SessionValue
from spec._tracked import TrackedDict
from spec.errors import (
    AbsoluteTimeoutError,
    DecodeError,
    ExpiredTimestampError,
    InvalidSessionIDError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)

__all__ = [
    "ID_PATTERN",
    "ISSUED_ID_PATTERN",
    "ServerSideCore",
    "check_session_id",
    "new_session_id",
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
#: How many times a save re-reads and re-merges a record that other requests
#: keep changing under it before it gives up with ``StoreError`` (S-10.20).
#: Every failed attempt means another save succeeded, so the store as a
#: whole always progresses; the bound only stops one request waiting forever.
#: Eight threads saving into one file-backed session (S-10.21) made one save
#: lose up to 70 times in a row in 32 measured runs (64 failed in CI), so
#: the bound sits well above that. A random pause between attempts was
#: tried and made it worse across processes: the saves that win do not
#: pause, so a loser that does falls further behind.
MERGE_ATTEMPTS = 256
#: The reserved key of a forwarding record: what an ID retired by
#: ``regenerate_id`` holds during the grace period, the new ID (S-10.22).
MOVED_TO_KEY = "_sessionspec.moved_to"
#: Until when (Unix seconds) a forwarding record answers: kept in the record
#: itself, since not every backend keeps a deadline (files do not).
MOVED_UNTIL_KEY = "_sessionspec.moved_until"


class _Moved(str):
    """The record text of a session loaded through a retired ID (S-10.22).

    A ``str`` (the new session's record) that remembers the ID it was found
    under, so a save through the old ID is recognised and refused: the old
    ID only ever reads.
    """

    moved_to: str


def merge_payload(
    current: dict[SessionKey, SessionValue],
    own: dict[SessionKey, SessionValue],
    values: dict[SessionKey, SessionValue],
    *,
    keep_user: bool = False,
) -> dict[SessionKey, SessionValue]:
    """This request's changes applied onto the record as it is now (S-10.20).

    ``current`` is the stored payload, ``own`` what this request would have
    written (its values and reserved keys), ``values`` its tracked values.
    Keys the request set take its value, keys it deleted go, every other
    key keeps the stored value, so a concurrent request's change survives.
    Reserved keys (the session's own ``max_age``, last use) are this
    request's, except ``created_at``, which stays the stored one: a session
    is as old as its record, whoever saves it. With ``keep_user`` (the
    request did not change ``session.user_id``) the stored user stays too:
    a request loaded before a concurrent logout must not log the session
    back in with its stale copy (S-10.11).
    """
    if not isinstance(values, TrackedDict) or values.replaced:
        merged = {k: v for k, v in own.items()}
    else:
        merged = {k: v for k, v in current.items() if not _reserved(k)}
        for key in values if values.all_set else values.set_keys:
            if key in values:
                merged[key] = values[key]
        for key in values.deleted_keys:
            merged.pop(key, None)
        merged.update((k, v) for k, v in own.items() if _reserved(k))
    if CREATED_AT_KEY in current and CREATED_AT_KEY in merged:
        merged[CREATED_AT_KEY] = current[CREATED_AT_KEY]
    if keep_user:
        merged.pop(USER_ID_KEY, None)
        if USER_ID_KEY in current:
            merged[USER_ID_KEY] = current[USER_ID_KEY]
    return merged


def _reserved(key: SessionKey) -> bool:
    return isinstance(key, str) and key.startswith(RESERVED_PREFIX)


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


class ServerSideCore(StoreCore):
    """The decisions of a store whose cookie holds only the signed session ID, as plans.

    ``merges`` (set by the driver: the backend has ``swap``) turns on
    merge-on-save (S-10.20); without it a save replaces the record, the
    last writer winning. ``regenerate_grace`` is how many seconds an ID
    retired by ``regenerate_id`` keeps answering, read-only, with the new
    session (S-10.22; 0 = never).
    """

    merges: bool = False
    regenerate_grace: int = 0
    #: The backend keeps a user index (S-10.11), and every save must refresh it.
    user_index: bool = False
    refresh_user_index: bool = True

    def _load_one(self, name: str, raw: str) -> Plan[Loaded]:
        """Verify the signed ID, check its shape, then fetch and verify the record.

        A fresh session never takes over an ID from a cookie (unknown,
        deleted or expired): a new one is drawn when it is first saved, so
        an ID planted in a victim's browser is worthless (session fixation).
        """
        session_id = decode_multi(name, raw, self.codecs)
        if not isinstance(session_id, str):
            raise InvalidSessionIDError()
        check_session_id(session_id)
        record = cast("Record | None", (yield Read(session_id)))
        if record is None:
            raise SessionNotFoundError(name)
        data, expires_at = record
        now = self.clock()
        if expires_at is not None and now > expires_at:
            error = self._expiry_reason(name, data, expires_at, now)
            if isinstance(error, AbsoluteTimeoutError):
                yield from step.delete(session_id)
            raise error
        values = values_of(decode_multi(name, data, self.codecs))
        if MOVED_TO_KEY in values:
            until = values.get(MOVED_UNTIL_KEY)
            if not isinstance(until, int) or now > until:
                raise ExpiredTimestampError(until if isinstance(until, int) else 0, int(now))
            return (yield from self._follow(name, session_id, values[MOVED_TO_KEY], now))
        return session_id, values, data

    def _follow(self, name: str, session_id: str, target: object, now: float) -> Plan[Loaded]:
        """Load the new session an ID retired within its grace period points to (S-10.22).

        One hop only, and the session keeps the *old* ID: the new ID is never
        revealed through the old cookie, and the record text is marked
        (:class:`_Moved`) so a save through the old ID is refused.
        """
        if not isinstance(target, str):
            raise InvalidSessionIDError()
        check_session_id(target)
        record = yield from step.read(target)
        if record is None:
            raise SessionNotFoundError(name)
        data, expires_at = record
        if expires_at is not None and now > expires_at:
            raise ExpiredTimestampError(int(expires_at), int(now))
        values = values_of(decode_multi(name, data, self.codecs))
        if MOVED_TO_KEY in values:  # a chain: regenerated again; never follow twice
            raise SessionNotFoundError(name)
        moved = _Moved(data)
        moved.moved_to = target
        return session_id, values, moved

    def _expiry_reason(
        self, name: str, data: str, expires_at: float, now: float
    ) -> ExpiredTimestampError:
        """Why a record past its deadline expired: a timeout it records, else plain expiry.

        The deadline is the earliest of the session's lifetime and both
        timeouts (:meth:`deadline`), so the record says which one it was.
        """
        if self.lifetimes.absolute_timeout or self.lifetimes.idle_timeout:
            try:
                meta = read_meta(values_of(decode_multi(name, data, self.codecs)), self.options)
            except DecodeError:
                pass
            else:
                error = self.lifetime_error(meta, int(now))
                if error is not None:
                    return error
        return ExpiredTimestampError(int(expires_at), int(now))

    def _forget(self, session_id: str) -> Plan[None]:
        """Delete the record of a session past its absolute timeout (S-9.22)."""
        yield from step.delete(session_id)

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
        private = session.__pydantic_private__
        loaded = private.get("_record") if private is not None else None
        if session.options.max_age < 0:
            had_cookie = bool(session.id) or bool(request.cookie_values(name))
            # A logout through an ID retired by regenerate_id ends the new session too.
            if isinstance(loaded, _Moved) and (yield from step.delete(loaded.moved_to)):
                self.emit("deleted", name, loaded.moved_to)
            if session.id:
                if (yield from step.delete(session.id)):
                    self.emit("deleted", name, session.id)
                yield from users.leave(self, session)
                session.id = ""
            session.clear_regenerate_request()
            session.mark_unmodified()
            if had_cookie:
                response.set_cookie(Cookie.for_session(name, "", session.options, now))
            return
        if isinstance(loaded, _Moved):
            # Loaded through an ID regenerate_id retired (S-10.22): it only reads.
            raise SessionInterruptedError(name)
        payload = write_meta(session, self.options, self.lifetimes, int(now))
        data = encode_multi(name, payload, self.codecs)
        expires_at, ttl = self._expiry(session, now)
        yield from users.before_write(self, session, expires_at, ttl)
        if session.id and not session.regenerate_requested:
            if self.merges and isinstance(loaded, str):
                data = yield from self._merge_plan(session, loaded, payload, data, expires_at, ttl)
            elif not (yield from step.update(session.id, data, expires_at, ttl)):
                raise SessionInterruptedError(name)
            session_id = session.id
        elif session.id and self.regenerate_grace and self.merges:
            session_id = yield from self._regenerate_with_grace(
                session, loaded, data, expires_at, ttl, now
            )
            self.emit("regenerated", name, session_id, previous_id=session.id)
        else:
            if session.id and not (yield from step.delete(session.id)):
                raise SessionInterruptedError(name)  # logged out (or regenerated) elsewhere
            session_id = yield from self._create_plan(data, expires_at, ttl)
            if session.id:
                self.emit("regenerated", name, session_id, previous_id=session.id)
            else:
                self.emit("created", name, session_id)
        yield from users.after_write(self, session, session.id, session_id, expires_at, ttl)
        cookie_value = encode_multi(name, session_id, self.codecs)
        if session.id != session_id:
            # The ID is the store's own, already checked: written without
            # pydantic's per-assignment validation (this runs on every save).
            session.__dict__["id"] = session_id
            session.__pydantic_fields_set__.add("id")
        self.saved(session, int(now), data)
        response.set_cookie(Cookie.for_session(name, cookie_value, session.options, now))

    def touch_plan(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool
    ) -> Plan[bool]:
        """Re-stamp the record of a session a request only read, never its values (S-9.23).

        The new record (same values, new last use and deadline) replaces the
        stored one only if that is still the text this request loaded
        (``swap``): a request that saved a change meanwhile has re-stamped it
        already, and its change must not be undone by this stale copy. A
        record that is gone stays gone (no resurrection). The ID cookie is
        re-issued so the browser's lifetime and its signature's age follow.
        """
        private = session.__pydantic_private__
        loaded = private.get("_record") if private is not None else None
        if not (session.id and isinstance(loaded, str) and self.touch_due(session, force=force)):
            return False
        check_session_id(session.id)
        now = self.clock()
        data = encode_multi(
            session.name, write_meta(session, self.options, self.lifetimes, int(now)), self.codecs
        )
        expires_at, ttl = self._expiry(session, now)
        yield from users.before_write(self, session, expires_at, ttl)
        if not (yield from step.swap(session.id, loaded, data, expires_at, ttl)):
            return False
        self.stamp(session, int(now), data)
        cookie_value = encode_multi(session.name, session.id, self.codecs)
        response.set_cookie(Cookie.for_session(session.name, cookie_value, session.options, now))
        return True

    def _merge_plan(
        self,
        session: Session,
        loaded: str,
        payload: dict[SessionKey, SessionValue],
        data: str,
        expires_at: float | None,
        ttl: int | None,
    ) -> Plan[str]:
        """Write this request's changes onto the record as it is now; the text written (S-10.20).

        The common case is one compare-and-set: nobody saved since the load,
        so the whole payload replaces the record. Otherwise the current
        record is read, this request's set and deleted keys are applied to
        it, and the result is swapped in only if the record is *still* that
        one, again at most :data:`MERGE_ATTEMPTS` times. A record that is gone,
        expired or retired by ``regenerate_id`` stays so (S-10.5): no
        resurrection. After the save, ``session.values`` holds the merged values.
        """
        name, session_id = session.name, session.id
        expected = loaded
        for _ in range(MERGE_ATTEMPTS):
            if (yield from step.swap(session_id, expected, data, expires_at, ttl)):
                if expected is not loaded:
                    merged = values_of(decode_multi(name, data, self.codecs))
                    session.__dict__["user_id"] = read_meta(merged, self.options).user_id
                    dict.clear(session.values)
                    dict.update(session.values, merged)
                return data
            record = yield from step.read(session_id)
            if record is None:
                raise SessionInterruptedError(name)  # logged out elsewhere: stays out
            expected, current_expires = record
            if current_expires is not None and self.clock() > current_expires:
                raise SessionInterruptedError(name)
            try:
                current = values_of(decode_multi(name, expected, self.codecs))
            except DecodeError as exc:
                raise StoreError(
                    f"session {name!r} was changed by another writer into a record this "
                    f"store cannot read ({type(exc).__name__}); nothing was written",
                    action="merge a session",
                ) from exc
            if MOVED_TO_KEY in current:
                raise SessionInterruptedError(name)  # regenerated elsewhere: read-only now
            keep_user = not users.user_changed(session)
            merged_payload = merge_payload(current, payload, session.values, keep_user=keep_user)
            data = encode_multi(name, merged_payload, self.codecs)
        raise StoreError(
            f"session {name!r} was changed by other requests {MERGE_ATTEMPTS} times while this "
            "save merged into it; nothing was written. Retry the request",
            action="merge a session",
        )

    def _regenerate_with_grace(
        self,
        session: Session,
        loaded: object,
        data: str,
        expires_at: float | None,
        ttl: int | None,
        now: float,
    ) -> Plan[str]:
        """Move the session to a new ID, leaving a read-only forward at the old one (S-10.22).

        The new record is created first (its ID is known to this request
        alone, so nobody can reach it yet), then the old record is *claimed*
        by a compare-and-set that turns it into a forwarding record with a
        deadline ``regenerate_grace`` seconds away. A claim that finds the
        record gone (logout) or already forwarded (another request
        regenerated it) removes the new record again and raises
        :class:`SessionInterruptedError`, exactly like the claim-by-delete
        of S-10.5: a logout is never undone, and of two regenerating
        requests one wins.
        """
        name, old_id = session.name, session.id
        new_id = yield from self._create_plan(data, expires_at, ttl)
        grace = self.regenerate_grace
        forward = encode_multi(
            name, {MOVED_TO_KEY: new_id, MOVED_UNTIL_KEY: int(now) + grace}, self.codecs
        )
        expected = loaded if isinstance(loaded, str) else None
        for _ in range(MERGE_ATTEMPTS):
            if expected is not None and (
                yield from step.swap(old_id, expected, forward, now + grace, grace)
            ):
                return new_id
            record = yield from step.read(old_id)
            gone = record is None
            if record is not None:
                try:
                    gone = MOVED_TO_KEY in values_of(decode_multi(name, record[0], self.codecs))
                except DecodeError:
                    gone = True
            if gone:
                yield from step.delete(new_id)
                raise SessionInterruptedError(name)
            assert record is not None
            expected = record[0]
        yield from step.delete(new_id)
        raise StoreError(
            f"session {name!r} kept changing while regenerate_id claimed it; nothing was kept",
            action="regenerate a session ID",
        )

    def _create_plan(self, data: str, expires_at: float | None, ttl: int | None) -> Plan[str]:
        for _ in range(_CREATE_ATTEMPTS):
            session_id = new_session_id()
            if (yield from step.create(session_id, data, expires_at, ttl)):
                return session_id
        raise StoreError(
            f"no unique session ID in {_CREATE_ATTEMPTS} attempts", action="create a session"
        )

    def _expiry(self, session: Session, now: float) -> tuple[float | None, int | None]:
        """The record's deadline and its TTL in whole seconds (at least 1), or no expiry."""
        expires_at = self.deadline(session, now)
        if expires_at is None:
            return None, None
        return expires_at, max(1, math.ceil(expires_at - now))
