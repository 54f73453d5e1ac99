"""The sans-I/O core every store kind builds on: keys, default options, loading a session.

A *core* makes every decision of a store and performs no I/O: it exposes
exactly two plans (``reference_impl._store.plan``), :meth:`StoreCore.load_plan`
and :meth:`StoreCore.save_plan`, which yield the backend steps they need.
The drivers (``reference_impl._store.drivers``) run those plans, blocking or
awaited, so sync and async stores make the same decisions in the same order.
The cookie core (``_store.cookie``) yields no steps at all; the server-side
core (``_store.server_side``) yields reads, creates, updates and deletes.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from typing import Any, Self, TypeAlias, cast

from reference_impl._store.meta import Lifetimes, Meta, read_meta
from reference_impl._store.plan import Plan
from reference_impl.securecookie import SecureCookie, codecs_from_pairs
from reference_impl.serializers import JSONSerializer
from spec import (
    AsyncStore,
    Clock,
    Options,
    Request,
    ResponseWriter,
    Session,
    SessionKey,
    SessionValue,
    Store,
)
from spec._tokens import TOKEN
from spec.errors import (
    AbsoluteTimeoutError,
    ConfigurationError,
    DecodeError,
    DeserializeError,
    ExpiredTimestampError,
    IdleTimeoutError,
    InvalidCookieNameError,
    MacInvalidError,
    MultiDecodeError,
    NoCodecsError,
    SessionNotFoundError,
)
from spec.events import EventKind, SessionEvent, SessionListener, notify
from spec.protocols import Serializer

__all__ = [
    "MAX_SAME_NAME_COOKIES",
    "Loaded",
    "StoreCore",
    "log_rejection",
    "most_specific",
    "values_of",
]

#: What loading one cookie gives: the session ID, the values, the record text.
Loaded: TypeAlias = tuple[str, dict[SessionKey, SessionValue], str | None]

#: Forged or corrupt input is reported here (never with the cookie value or a key).
security_log = logging.getLogger("sessionspec.security")

#: How many cookies with the session's name one request may make a store try
#: (S-9.5). A browser sends several only for a few overlapping paths or
#: domains; an attacker can send thousands, each costing a MAC check, maybe a
#: backend read, and a log line. The rest are skipped, with one summary line.
MAX_SAME_NAME_COOKIES = 8

# Errors that are part of a session's normal life (it expired, or was logged
# out elsewhere), as opposed to input that was never ours or was altered:
# these are logged at DEBUG, everything else at WARNING.
_BENIGN = (ExpiredTimestampError, SessionNotFoundError)


def most_specific(error: DecodeError) -> DecodeError:
    """Pick the error worth reporting from a multi-key failure.

    With key rotation every key is tried; all but the one that signed the
    cookie fail with ``MacInvalidError``. The error of the key whose MAC
    matched (an expired timestamp, say) is the real reason, so it wins; if no
    key matched, the first error is returned.
    """
    if isinstance(error, MultiDecodeError) and error.errors:
        for inner in error.errors:
            if not isinstance(inner, MacInvalidError):
                return inner
        return error.errors[0]
    return error


#: A tuple, as ``isinstance(key, str | int)`` builds a union object per key.
_KEY_TYPES = (str, int)


def values_of(decoded: object) -> dict[SessionKey, SessionValue]:
    """Check that a decoded payload is a session-values mapping (str/int keys).

    An authentic payload of the wrong shape (another application's cookie
    signed with the same key, say) is a decode failure, not a crash.
    """
    if not isinstance(decoded, dict):
        raise DeserializeError(f"session values must be a mapping, got {type(decoded).__name__}")
    for key in decoded:
        if type(key) is str:  # nearly every key: no isinstance at all
            continue
        if not isinstance(key, _KEY_TYPES) or isinstance(key, bool):
            raise DeserializeError(f"session keys must be str or int, got {type(key).__name__}")
    return decoded


def log_rejection(store: object, name: str, error: DecodeError) -> None:
    """Log a rejected cookie or record: WARNING if forged or corrupt, DEBUG if merely stale.

    ``store`` is the store (its class names it) or the name itself.
    """
    level = logging.DEBUG if isinstance(error, _BENIGN) else logging.WARNING
    label = store if isinstance(store, str) else type(store).__name__
    security_log.log(
        level,
        "rejected session %r in %s: %s: %s",
        name,
        label,
        type(error).__name__,
        error,
    )


class StoreCore:
    """What a store decides, without any I/O: keys, default options, the two plans.

    ``key_pairs`` are gorilla's ``hash, block, hash, block, ...``: the first
    pair signs (and encrypts) everything new, every pair is tried when
    decoding, so keys rotate by prepending a new pair and dropping the oldest
    one once its cookies have expired.

    A kind of store subclasses it with :meth:`_load_one` (one cookie value
    to ``(session ID, values)``) and :meth:`save_plan`.
    """

    def __init__(
        self,
        key_pairs: Sequence[bytes],
        options: Options | None,
        serializer: Serializer | None,
        clock: Clock | None,
    ) -> None:
        if not key_pairs:
            raise NoCodecsError()
        self.options = options if options is not None else Options()
        self.clock: Clock = clock if clock is not None else time.time
        self.serializer: Serializer = serializer if serializer is not None else JSONSerializer()
        #: The name rejections are logged under (the driver puts its class name here).
        self.label = type(self).__name__
        #: Idle and absolute timeouts (S-9.22, S-9.23); the drivers set them.
        self.lifetimes = Lifetimes()
        #: Who hears about created, regenerated, expired, deleted and purged sessions (S-9.26).
        self.listeners: list[SessionListener] = []
        # A browser-session default (max_age 0) must not switch server-side
        # expiry off, so the codecs keep the 30-day default in that case.
        codec_max_age = self.options.max_age if self.options.max_age > 0 else Options().max_age
        self.codecs: list[SecureCookie] = codecs_from_pairs(
            *key_pairs, serializer=self.serializer, clock=self.clock, max_age=codec_max_age
        )

    def load_plan(self, request: Request, name: str, owner: Store | AsyncStore) -> Plan[Session]:
        """Load session ``name`` from the first of its cookies that loads, else a fresh one.

        The cookies with that name are tried in header order (a browser may
        send several, from different paths or domains), but no more than
        :data:`MAX_SAME_NAME_COOKIES` of them: the work (decodes, backend
        reads, log lines) one request can cause stays bounded however many
        it sends (S-9.5). Skipped cookies get one WARNING line in all.
        A cookie that does not load never raises: the session is fresh and
        ``load_error`` says why (the most specific error, logged). Only a
        backend failure raises (``StoreError``): an outage must not pass for
        "no session". The session is bound to ``owner`` (the store the
        application called) and starts unmodified.
        """
        if TOKEN.fullmatch(name) is None:
            raise InvalidCookieNameError(name)
        first_error: DecodeError | None = None
        raws = request.cookie_values(name)
        if len(raws) > MAX_SAME_NAME_COOKIES:
            security_log.warning(
                "%d cookies named %r in %s; tried the first %d",
                len(raws),
                name,
                self.label,
                MAX_SAME_NAME_COOKIES,
            )
            raws = raws[:MAX_SAME_NAME_COOKIES]
        lifetimes = self.lifetimes
        for raw in raws:
            try:
                session_id, values, record = yield from self._load_one(name, raw)
                meta = read_meta(values, self.options)
                if lifetimes.absolute_timeout or lifetimes.idle_timeout:
                    yield from self._check_lifetime(session_id, meta)
            except DecodeError as exc:
                error = most_specific(exc)
                log_rejection(self.label, name, error)
                if isinstance(error, ExpiredTimestampError) and self.listeners:
                    self.emit("expired", name, error=error)
                first_error = first_error or error
                continue
            session = self._session(
                name, owner, session_id, values, meta.options, False, None, meta.created_at
            )
            private = session.__pydantic_private__
            assert private is not None
            if meta.user_id is not None:  # S-10.11
                session.__dict__["user_id"] = private["_stored_user"] = meta.user_id
            if meta.used_at is not None:
                private["_used_at"] = meta.used_at
            if record is not None:
                private["_record"] = record
            return session
        return self._session(name, owner, "", {}, self.options, True, first_error)

    def _check_lifetime(self, session_id: str, meta: Meta) -> Plan[None]:
        """Refuse a session past the absolute or idle timeout (S-9.22, S-9.23).

        A session past its absolute timeout is also forgotten by the store
        (its record deleted), so nothing can bring it back. A session stored
        before a limit was switched on has no ``created_at``/``used_at`` and
        starts its clock at its next save.
        """
        error = self.lifetime_error(meta, int(self.clock()))
        if isinstance(error, AbsoluteTimeoutError):
            yield from self._forget(session_id)
        if error is not None:
            raise error

    def lifetime_error(self, meta: Meta, now: int) -> ExpiredTimestampError | None:
        """The timeout ``meta`` is past at ``now`` (absolute first), or ``None``."""
        absolute, idle = self.lifetimes.absolute_timeout, self.lifetimes.idle_timeout
        if absolute and meta.created_at is not None and now > meta.created_at + absolute:
            return AbsoluteTimeoutError(meta.created_at, now, absolute)
        if idle and meta.used_at is not None and now > meta.used_at + idle:
            return IdleTimeoutError(meta.used_at, now, idle)
        return None

    def _forget(self, session_id: str) -> Plan[None]:
        """Drop what the store keeps for a session it refused for good (nothing here)."""
        return
        yield  # a plan with no backend step

    def _load_one(self, name: str, raw: str) -> Plan[Loaded]:
        """Turn one cookie value into ``(session ID, values, record text)``, or raise.

        Raises ``DecodeError``; the record text is ``None`` where there is
        no record (the cookie store).
        """
        raise NotImplementedError

    def save_plan(self, request: Request, response: ResponseWriter, session: Session) -> Plan[None]:
        """Persist ``session`` and set its cookie, as a plan."""
        raise NotImplementedError

    def touch_plan(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool
    ) -> Plan[bool]:
        """Record that a request used ``session`` without changing it (S-9.23).

        Only a loaded, unmodified session is touched, and only when due: a
        tenth of the idle window after its last recorded use, or at once with
        ``force`` (``save_every_request``). Returns whether it was touched.
        """
        raise NotImplementedError

    def emit(
        self,
        kind: EventKind,
        name: str = "",
        session_id: str = "",
        *,
        previous_id: str = "",
        error: DecodeError | None = None,
        count: int = 0,
    ) -> None:
        """Tell the listeners what just happened (S-9.26); a failing listener is only logged."""
        if self.listeners:
            event = SessionEvent(
                kind, self.label, self.clock(), name, session_id, previous_id, error, count
            )
            notify(self.listeners, event)

    def touch_due(self, session: Session, *, force: bool) -> bool:
        """Whether a touch of ``session`` would do anything now."""
        if session.is_new or session.modified or session.options.max_age < 0:
            return False
        if force:
            return True
        idle = self.lifetimes.idle_timeout
        if not idle:
            return False
        private = session.__pydantic_private__
        used_at = private.get("_used_at") if private is not None else None
        return used_at is None or self.clock() - used_at >= max(1, idle // 10)

    def deadline(self, session: Session, now: float) -> float | None:
        """When the session's record expires: its lifetime, capped by both timeouts."""
        candidates: list[float] = []
        store_limit = self.codecs[0].max_age
        lifetime = session.options.max_age if session.options.max_age > 0 else store_limit
        if store_limit:
            lifetime = min(lifetime, store_limit)
        if lifetime:
            candidates.append(now + lifetime)
        if self.lifetimes.idle_timeout:
            candidates.append(now + self.lifetimes.idle_timeout)
        if self.lifetimes.absolute_timeout:
            created = session.created_at if session.created_at is not None else now
            candidates.append(created + self.lifetimes.absolute_timeout)
        return min(candidates) if candidates else None

    def stamp(self, session: Session, now: int, record: str | None) -> None:
        """After a save or touch: note creation, last use and the stored text."""
        if session.created_at is None and self.lifetimes.keeps_created:
            session.created_at = now
        private = session.__pydantic_private__
        assert private is not None
        private["_used_at"] = now
        private["_record"] = record
        private["_stored_user"] = session.__dict__["user_id"]

    def saved(self, session: Session, now: int, record: str | None) -> None:
        """After a save: :meth:`stamp`, the ID change done, nothing left unsaved."""
        self.stamp(session, now, record)
        session.clear_regenerate_request()
        session.mark_unmodified()

    def _session(
        self,
        name: str,
        owner: Store | AsyncStore,
        session_id: str,
        values: dict[SessionKey, SessionValue],
        options: Options,
        is_new: bool = True,
        load_error: DecodeError | None = None,
        created_at: int | None = None,
    ) -> Session:
        """A session of this store: the one place sessions are made and bound.

        Every field is already checked (the name by :meth:`load_plan`, the
        values by :func:`values_of`, the options when they were built), so
        the session is assembled without validating them again on every
        request. It starts unmodified (S-9.20). ``options`` are the store's,
        or the session's own as stored with it (S-9.21).
        """
        checked = cast("dict[SessionKey, Any]", values)  # values_of checked the shape
        return Session.trusted(
            name, session_id, checked, options, is_new, load_error, owner, created_at
        )

    def max_age(self, seconds: int) -> None:
        """Set the default cookie lifetime and every codec's expiry (gorilla's ``MaxAge``).

        ``0`` makes browser-session cookies *and* switches server-side expiry
        off, as in gorilla; that is logged because a stolen cookie then stays
        valid until the keys change. Negative values are refused: gorilla
        would reject every cookie.
        """
        if seconds < 0:
            raise ConfigurationError(f"max_age must be >= 0; got {seconds}")
        if seconds == 0:
            security_log.warning("max_age(0): cookies will never expire server-side")
        self.options = self.options.replace(max_age=seconds)
        for codec in self.codecs:
            codec.max_age = seconds

    def max_length(self, length: int) -> None:
        """Set every codec's maximum encoded length (``0`` disables the check)."""
        if length < 0:
            raise ConfigurationError(f"max_length must be >= 0; got {length}")
        for codec in self.codecs:
            codec.max_length = length

    def with_keys(self, *key_pairs: bytes) -> Self:
        """A copy of this core using other keys, with the same options and limits."""
        if not key_pairs:
            raise NoCodecsError()
        clone = copy.copy(self)
        current = self.codecs[0]
        clone.codecs = codecs_from_pairs(
            *key_pairs,
            serializer=self.serializer,
            clock=self.clock,
            max_age=current.max_age,
            max_length=current.max_length,
        )
        return clone
