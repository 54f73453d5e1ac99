"""Sessions know their user: the user index kept beside the records (S-10.11..S-10.13).

``session.user_id`` is written into the record (``_sessionspec.user_id``,
``reference_impl._store.meta``) and, on backends with a user index
(:class:`~reference_impl._store.backend.UserIndexBackend`), listed under the
user. These plans keep that index right around every write the server-side
core makes, and answer ``store.user_sessions(user_id)`` and
``store.revoke_user(user_id)``.

The index may list too much, never too little. An entry is written (or its
deadline pushed out) *before* the record it stands for is updated, and right
after a new record is created, before its cookie exists; so a live session
is always listed, and "log out everywhere" cannot miss one. Entries whose
record is gone or expired are filtered out by reading each listed record,
which also makes the answer independent of how exactly a backend prunes.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from typing import Protocol

from reference_impl._store import plan as step
from reference_impl._store.meta import Lifetimes
from reference_impl._store.plan import IndexUser, ListUser, Plan, Record, UnindexUser
from reference_impl.securecookie import SecureCookie
from spec import Session
from spec.errors import ConfigurationError, StoreError
from spec.events import EventKind
from spec.session import check_user_id

__all__ = [
    "UserIndexed",
    "after_write",
    "before_write",
    "leave",
    "revoke_plan",
    "user_changed",
    "user_sessions_plan",
]


class UserIndexed(Protocol):
    """What these plans need of a core: whether its backend indexes users, and its clock."""

    user_index: bool
    refresh_user_index: bool
    codecs: list[SecureCookie]
    lifetimes: Lifetimes

    def clock(self) -> float: ...

    def emit(
        self, kind: EventKind, name: str = "", session_id: str = "", *, previous_id: str = ""
    ) -> None: ...


def _stored_user(session: Session) -> str | None:
    """The user the store last wrote for ``session`` (on load or save)."""
    private = session.__pydantic_private__
    value = private.get("_stored_user") if private is not None else None
    return value if isinstance(value, str) else None


def user_changed(session: Session) -> bool:
    """Whether this request changed ``session.user_id`` since it was loaded or saved."""
    return session.user_id != _stored_user(session)


def before_write(
    core: UserIndexed, session: Session, expires_at: float | None, ttl: int | None
) -> Plan[None]:
    """Before an existing record is rewritten in place: list it under its user, until its
    new deadline, first (so the entry never expires before the record does)."""
    user = session.user_id
    if not (core.user_index and user and session.id) or session.regenerate_requested:
        return
    if core.refresh_user_index or user != _stored_user(session):
        yield IndexUser(session.id, user, expires_at, ttl)


def after_write(
    core: UserIndexed,
    session: Session,
    old_id: str,
    new_id: str,
    expires_at: float | None,
    ttl: int | None,
) -> Plan[None]:
    """After a save wrote ``new_id``: list a new record, and leave the user it moved from.

    A new record (a first save, or ``regenerate_id``) is listed before its
    cookie is set; if that fails the record is deleted again, since a
    session that "log out everywhere" cannot see must not be handed out.
    """
    if not core.user_index:
        return
    stored, user = _stored_user(session), session.user_id
    if new_id != old_id:
        if user:
            try:
                yield IndexUser(new_id, user, expires_at, ttl)
            except StoreError:
                with contextlib.suppress(StoreError):
                    yield from step.delete(new_id)
                raise
        if old_id and stored:
            yield UnindexUser(old_id, stored)
        return
    if user and user != stored:
        # Listed before the write already, unless a merge found the record
        # moved to another user meanwhile (session.user_id now says so).
        yield IndexUser(old_id, user, expires_at, ttl)
    if stored and stored != user:
        yield UnindexUser(old_id, stored)


def leave(core: UserIndexed, session: Session) -> Plan[None]:
    """After ``session``'s record was deleted: take it off its user's list."""
    stored = _stored_user(session)
    if core.user_index and stored and session.id:
        yield UnindexUser(session.id, stored)


def _require_index(core: UserIndexed, user_id: str) -> None:
    check_user_id(user_id)
    if user_id is None:
        raise ConfigurationError("user_id must be a user ID string, not None")
    if not core.user_index:
        raise ConfigurationError(
            "this store's backend keeps no user index, so it cannot list or revoke a "
            "user's sessions: use a store that does (memory, filesystem, Redis, SQL) or add "
            "index_user, unindex_user and user_sessions to the backend (UserIndexBackend)"
        )


def user_sessions_plan(core: UserIndexed, user_id: str) -> Plan[list[str]]:
    """The IDs of ``user_id``'s live sessions: listed, present and not past their deadline."""
    _require_index(core, user_id)
    now = core.clock()
    listed = yield ListUser(user_id, now)
    live: list[str] = []
    for session_id in sorted(set(listed if isinstance(listed, list) else [])):
        record = yield from step.read(session_id)
        if record is not None and _alive(core, record, now):
            live.append(session_id)
    return live


def _alive(core: UserIndexed, record: Record, now: float) -> bool:
    """Whether a listed record is still live at ``now``: by its deadline, or else its age.

    A record with no deadline of its own (a gorilla-format session file) is
    as old as the save time inside its securecookie text; it is alive for
    the store's lifetime from then, as a load would decide. The time is read
    without the MAC (which needs the cookie name): a wrong one can only list
    a record the load would refuse anyway.
    """
    data, expires_at = record
    if expires_at is not None:
        return expires_at >= now
    limits = [n for n in (core.codecs[0].max_age, core.lifetimes.idle_timeout) if n]
    if not limits:
        return True
    try:
        saved = int(base64.urlsafe_b64decode(data.strip()).split(b"|", 1)[0])
    except (ValueError, binascii.Error):
        return True  # unreadable: list it (never too little); loading it will fail
    return saved + min(limits) >= now


def revoke_plan(core: UserIndexed, user_id: str, keep: str | Session | None) -> Plan[int]:
    """Delete every session listed under ``user_id`` except ``keep``; count the live ones ended.

    Each listed record is deleted whatever a read just before said (the
    read only decides whether it counts as a live session ended), then
    unlisted. A request still holding one of them afterwards loads a
    fresh session (the record is gone), and its save cannot bring it back:
    an update of a missing record fails (S-10.5). Each ended session is
    reported to the listeners as ``deleted``.
    """
    _require_index(core, user_id)
    keep_id = keep.id if isinstance(keep, Session) else keep
    if keep_id is not None and not isinstance(keep_id, str):
        raise ConfigurationError(f"keep must be a session, a session ID or None; got {keep!r}")
    now = core.clock()
    listed = yield ListUser(user_id, now)
    ended = 0
    for session_id in sorted(set(listed if isinstance(listed, list) else [])):
        if session_id == keep_id:
            continue
        record = yield from step.read(session_id)  # to count only live sessions as ended
        if (yield from step.delete(session_id)):
            ended += record is not None and _alive(core, record, now)
            core.emit("deleted", "", session_id)
        yield UnindexUser(session_id, user_id)
    return ended
