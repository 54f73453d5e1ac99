"""Machinery every reference store shares: codecs, default options, cookie decoding.

:class:`StoreCore` holds the load logic as a plan (``reference_impl._store.plan``)
that sync stores (:class:`CodecStoreBase`) and async stores
(``reference_impl.aio``) both run, so it is written once.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Generic, Self, TypeVar

from reference_impl._store.plan import Op, Plan, run_plan
from reference_impl.securecookie import SecureCookie, codecs_from_pairs, decode_multi
from reference_impl.serializers import JSONSerializer
from spec import Clock, Options, Registry, Request, ResponseWriter, Session, SessionKey
from spec.errors import (
    ConfigurationError,
    DecodeError,
    DeserializeError,
    ExpiredTimestampError,
    MacInvalidError,
    MultiDecodeError,
    NoCodecsError,
    SessionNotFoundError,
)
from spec.protocols import Serializer

__all__ = [
    "MAX_SAME_NAME_COOKIES",
    "TEST_KEYS",
    "CodecStoreBase",
    "ConformanceFactory",
    "StoreCore",
    "log_rejection",
    "most_specific",
    "values_of",
]

_S = TypeVar("_S")

#: Fixed, public keys used only by the conformance factories. Never use in production.
TEST_KEYS = (b"sessionspec-conformance-hash-key", b"sessionspec-conformance-blockkey")

#: Forged or corrupt input is reported here (never with the cookie value or a key).
security_log = logging.getLogger("sessionspec.security")

#: How many cookies with the session's name one request may make a store try
#: (S-9.5). A browser sends several only for a few overlapping paths or
#: domains; an attacker can send thousands, each costing a MAC check, maybe a
#: backend read, and a log line. The rest are skipped, with one summary line.
MAX_SAME_NAME_COOKIES = 8

# Errors that say "this input was never ours or was altered", as opposed to
# the normal life cycle of a session (expired, logged out elsewhere).
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


def values_of(decoded: object) -> dict[SessionKey, object]:
    """Check that a decoded payload is a session-values mapping (str/int keys).

    An authentic payload of the wrong shape (another application's cookie
    signed with the same key, say) is a decode failure, not a crash.
    """
    if not isinstance(decoded, dict):
        raise DeserializeError(f"session values must be a mapping, got {type(decoded).__name__}")
    for key in decoded:
        if not isinstance(key, str | int) or isinstance(key, bool):
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
    """What a store decides, without any I/O: keys, default options, the load/save plans.

    ``key_pairs`` are gorilla's ``hash, block, hash, block, ...``: the first
    pair signs (and encrypts) everything new, every pair is tried when
    decoding, so keys rotate by prepending a new pair and dropping the oldest
    one once its cookies have expired.

    Sync stores (:class:`CodecStoreBase`) and async ones
    (``reference_impl.aio``) both run these plans; they differ only in how a
    backend step is performed.
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
        #: The name rejections are logged under (an async wrapper puts its own here).
        self.label = type(self).__name__
        # A browser-session default (max_age 0) must not switch server-side
        # expiry off, so the codecs keep the 30-day default in that case.
        codec_max_age = self.options.max_age if self.options.max_age > 0 else Options().max_age
        self.codecs: list[SecureCookie] = codecs_from_pairs(
            *key_pairs, serializer=self.serializer, clock=self.clock, max_age=codec_max_age
        )

    def new_plan(self, request: Request, name: str) -> Plan[Session]:
        """Load session ``name`` from the first of its cookies that loads, else a fresh one.

        The cookies with that name are tried in header order (a browser may
        send several, from different paths or domains), but no more than
        :data:`MAX_SAME_NAME_COOKIES` of them: the work (decodes, backend
        reads, log lines) one request can cause stays bounded however many
        it sends (S-9.5). Skipped cookies get one WARNING line in all.
        A cookie that does not load never raises: the session is fresh and
        ``load_error`` says why (the most specific error, logged). Only a
        backend failure raises (``StoreError``): an outage must not pass for
        "no session".
        """
        session = self._new_session(name)
        first_error: DecodeError | None = None
        raws = request.cookie_values(name)
        for raw in raws[:MAX_SAME_NAME_COOKIES]:
            try:
                session_id, values = yield from self.load_plan(name, raw)
            except DecodeError as exc:
                error = most_specific(exc)
                log_rejection(self.label, name, error)
                first_error = first_error or error
                continue
            session.values = values
            session.id = session_id
            session.is_new = False
            session.mark_unmodified()
            return session
        if len(raws) > MAX_SAME_NAME_COOKIES:
            security_log.warning(
                "%d cookies named %r in %s; tried the first %d",
                len(raws),
                name,
                self.label,
                MAX_SAME_NAME_COOKIES,
            )
        session.load_error = first_error
        return session

    def load_plan(self, name: str, raw: str) -> Plan[tuple[str, dict[SessionKey, object]]]:
        """Turn one cookie value into ``(session ID, values)``, or raise ``DecodeError``.

        By default a plan with no backend step around :meth:`_load`, for
        stores that keep everything in the cookie.
        """
        return self._load(name, raw)
        yield  # a generator with no steps

    def _load(self, name: str, raw: str) -> tuple[str, dict[SessionKey, object]]:
        """Turn one cookie value into ``(session ID, values)``, or raise ``DecodeError``."""
        raise NotImplementedError

    def save_plan(self, request: Request, response: ResponseWriter, session: Session) -> Plan[None]:
        """Persist ``session`` and set its cookie, as a plan."""
        raise NotImplementedError

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
        """Return a store sharing this one's backend and options but using other keys.

        Lets a running service rotate keys without losing server-side
        sessions: ``store = store.with_keys(NEW_HASH, NEW_BLOCK, OLD_HASH, OLD_BLOCK)``.
        """
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

    def _new_session(self, name: str) -> Session:
        return Session(name=name, options=self.options)

    def _decode(self, name: str, value: str) -> object:
        return decode_multi(name, value, self.codecs)


class CodecStoreBase(StoreCore):
    """A sync :class:`~spec.Store` over :class:`StoreCore`: plans run with blocking calls.

    A store without backend I/O (``CookieStore``) implements :meth:`_load`
    and :meth:`save`; a server-side one supplies the plans and
    :meth:`_perform` (see ``reference_impl._store.server_side``).
    """

    def get(self, request: Request, name: str) -> Session:
        """Return session ``name`` for this request, loading it once (through the registry)."""
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        """Load session ``name`` (see :meth:`StoreCore.new_plan`), bypassing the cache."""
        return run_plan(self.new_plan(request, name), self._perform)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and set its cookie; each store implements it."""
        raise NotImplementedError

    def save_plan(self, request: Request, response: ResponseWriter, session: Session) -> Plan[None]:
        """A store without backend I/O saves in one synchronous, CPU-only step."""
        self.save(request, response, session)
        return
        yield  # a generator with no steps

    def _perform(self, op: Op) -> object:
        """Run one backend step; stores without a backend never yield one."""
        raise NotImplementedError(f"{type(self).__name__} has no backend for {op!r}")

    def _new_session(self, name: str) -> Session:
        session = super()._new_session(name)
        session.bind(self)
        return session


class ConformanceFactory(Generic[_S]):
    """A store factory for ``python -m conformance``: ``factory(clock, *key_pairs)``.

    Uses :data:`TEST_KEYS` unless keys are given, and carries the store's
    declared ``capabilities`` (field names of ``conformance.Capabilities``)
    and a short ``label`` for the report. The store may be sync or async
    (the suite runs an async one on its event-loop thread).
    """

    def __init__(
        self,
        label: str,
        build: Callable[[Clock, tuple[bytes, ...]], _S],
        capabilities: dict[str, object],
        break_backend: Callable[[_S], object] | None = None,
    ) -> None:
        self.label = label
        self.build = build
        self.capabilities = capabilities
        if break_backend is not None:
            #: Makes a store's backend fail, for the outage clause (S-10.4).
            self.break_backend = break_backend

    def __call__(self, clock: Clock, *key_pairs: bytes) -> _S:
        """A fresh store on ``clock``."""
        return self.build(clock, key_pairs or TEST_KEYS)
