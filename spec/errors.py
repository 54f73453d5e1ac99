"""Every failure sessionspec reports, grouped by who has to act on it.

The groups, all under :class:`SessionError`:

* :class:`ConfigurationError`: the program is set up wrongly (bad key, bad
  cookie name). Raised at construction, never deferred to the first request,
  so a misconfigured service fails to start instead of rejecting every user.
* :class:`EncodeError`: a value could not be turned into a cookie.
* :class:`DecodeError`: an incoming cookie (or stored record) must be
  rejected. Stores never raise these from ``get``/``new``; they put them on
  ``Session.load_error`` and hand out a fresh session.
* :class:`StoreError`: the backend failed (disk, network). An outage must
  never pass for "no session", so these always propagate.

Message texts are API: they keep gorilla/securecookie 1.1.2 and
gorilla/sessions 1.4.0 wording (``securecookie: the value is not valid``) so
that people grepping logs for Go's messages find ours too. The constants below
are those texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "MSG_BASE64",
    "MSG_DECRYPT",
    "MSG_EXPIRED",
    "MSG_HASH_KEY_NOT_SET",
    "MSG_INVALID_TIMESTAMP",
    "MSG_MAC_INVALID",
    "MSG_NO_CODECS",
    "MSG_TOO_NEW",
    "AbsoluteTimeoutError",
    "Base64DecodeError",
    "BlockKeyError",
    "ConfigurationError",
    "CookieTooLongError",
    "DecodeError",
    "DecryptionError",
    "DeserializeError",
    "EncodeError",
    "ExpiredTimestampError",
    "HashKeyNotSetError",
    "IdleTimeoutError",
    "InvalidCookieNameError",
    "InvalidSessionIDError",
    "InvalidTimestampError",
    "MacInvalidError",
    "MissingDependencyError",
    "MissingStoreError",
    "MultiDecodeError",
    "NoCodecsError",
    "SaveAllError",
    "SchemaError",
    "SecurityWarning",
    "SerializeError",
    "SessionError",
    "SessionInterruptedError",
    "SessionNotFoundError",
    "StoreError",
    "TimestampTooNewError",
    "ValueTooLongError",
]

MSG_HASH_KEY_NOT_SET = "securecookie: hash key is not set"
MSG_NO_CODECS = "securecookie: no codecs provided"
MSG_BASE64 = "securecookie: base64 decode failed"
MSG_MAC_INVALID = "securecookie: the value is not valid"
MSG_INVALID_TIMESTAMP = "securecookie: invalid timestamp"
MSG_TOO_NEW = "securecookie: timestamp is too new"
MSG_EXPIRED = "securecookie: expired timestamp"
MSG_DECRYPT = "securecookie: the value could not be decrypted"
_MSG_CAUSED_BY = "securecookie: error - caused by: securecookie: error - caused by: "


class SessionError(Exception):
    """Base class of every error this library raises on purpose."""


# --------------------------------------------------------------------------
# Configuration: raised at construction time.


class ConfigurationError(SessionError, ValueError):
    """The library was configured wrongly; fix the code or the settings.

    ``errors`` lists the individual problems when there are several (one
    mapping per field, with ``loc``, ``msg`` and ``type`` keys, as pydantic
    reports them, minus the input value); it is empty otherwise. The input is
    left out on purpose, so that a secret passed in the wrong place never
    reaches a log through an error.
    """

    def __init__(self, message: str, *, errors: Sequence[Mapping[str, object]] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[Mapping[str, object], ...] = tuple(errors)


class MissingDependencyError(ConfigurationError, ModuleNotFoundError):
    """An optional module was imported without the extra that provides its packages.

    Also a :class:`ModuleNotFoundError` (``name`` is the missing module), so
    the usual ``except ImportError`` around an optional import keeps working;
    the message says which ``pip install 'sessionspec[extra]'`` fixes it.
    """

    def __init__(self, module: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the package {module!r}, which is not installed: "
            f"pip install 'sessionspec[{extra}]'"
        )
        self.name = module
        self.extra = extra


class HashKeyNotSetError(ConfigurationError):
    """The HMAC key is empty.

    gorilla 1.1.1 accepted an empty key (an unset environment variable then
    meant an HMAC with no secret at all); we always refuse it.
    """

    def __init__(self) -> None:
        super().__init__(MSG_HASH_KEY_NOT_SET)


class BlockKeyError(ConfigurationError):
    """The AES key is not 16, 24 or 32 bytes long.

    ``args[0]`` is gorilla's text (API, S-7.1); ``str()`` appends what to do.
    ``looks_hex`` says the key is made of hex digits, the usual mistake of
    passing a hex string as bytes (twice the intended length).
    """

    def __init__(self, size: int, *, looks_hex: bool = False) -> None:
        self.size = size
        self.looks_hex = looks_hex
        super().__init__(f"securecookie: error - caused by: crypto/aes: invalid key size {size}")

    def __str__(self) -> str:
        if self.looks_hex:
            hint = (
                f"a block key must be 16, 24 or 32 bytes; these {self.size} are hex digits, "
                "so this is probably a hex string: pass bytes.fromhex(key) instead"
            )
        else:
            hint = (
                "a block key must be 16, 24 or 32 random bytes; "
                "for a key kept as hex text, pass bytes.fromhex(text)"
            )
        return f"{self.args[0]} ({hint})"


class NoCodecsError(ConfigurationError):
    """A multi-codec operation was given no codecs (no keys were configured)."""

    def __init__(self) -> None:
        super().__init__(MSG_NO_CODECS)


class InvalidCookieNameError(ConfigurationError):
    """A session name is not an RFC 7230 token, so no browser could send it back."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"sessions: invalid character in cookie name: {name}")


class MissingStoreError(ConfigurationError):
    """``Session.save`` was called on a session that no store produced."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f'sessions: missing store for session "{name}"')


class SecurityWarning(UserWarning):
    """A setting works but is weak (a short hash key, a short Flask ``secret_key``).

    A warning rather than an error: Go services sharing the cookie may
    already use such keys, and refusing them would break the interoperation.
    The same message is logged on the ``sessionspec.security`` logger, which
    production logs keep even where warnings are not shown.
    """


# --------------------------------------------------------------------------
# Encoding.


class EncodeError(SessionError):
    """A value could not be encoded into a cookie or record."""


class SerializeError(EncodeError, TypeError):
    """The serializer cannot represent a value.

    ``path`` locates the offending value inside the session values (for
    example ``values['cart'][2]``) and ``type_name`` names its Python type,
    so the mistake can be fixed without a debugger.
    """

    def __init__(self, detail: str, *, path: str = "", type_name: str = "") -> None:
        self.detail = detail
        self.path = path
        self.type_name = type_name
        super().__init__(_MSG_CAUSED_BY + detail)


class _TooLong(SessionError):
    """What the two "too long" errors share, so they read alike.

    ``args[0]`` is gorilla/securecookie 1.1.2's text (``securecookie: the
    value is too long: N``), which people grep logs for; ``str()`` adds the
    limit, which says what to change.
    """

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"securecookie: the value is too long: {length}")

    def __str__(self) -> str:
        return f"{self.args[0]} (limit {self.limit})"


class ValueTooLongError(_TooLong, EncodeError):
    """The encoded value is longer than the codec's ``max_length``.

    Browsers silently drop cookies over about 4096 bytes, which would log the
    user out with no error anywhere; refusing to emit such a cookie makes the
    problem visible where it can be fixed.
    """


# --------------------------------------------------------------------------
# Decoding: a cookie or stored record is rejected.


class DecodeError(SessionError):
    """An incoming cookie or stored record cannot be trusted or read."""


class CookieTooLongError(_TooLong, DecodeError):
    """The incoming value is longer than ``max_length``; rejected before any work."""


class Base64DecodeError(DecodeError):
    """The value is not strict, padded, URL-safe base64 (as Go's decoder demands)."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        super().__init__(f"{MSG_BASE64} - caused by: illegal base64 data at input byte {offset}")


class MacInvalidError(DecodeError):
    """The signature does not match: tampered, wrong key, or wrong cookie name.

    The three causes are deliberately indistinguishable: telling an attacker
    which part was wrong would help them.
    """

    def __init__(self) -> None:
        super().__init__(MSG_MAC_INVALID)


class InvalidTimestampError(DecodeError):
    """The signed timestamp is not a 64-bit integer."""

    def __init__(self) -> None:
        super().__init__(MSG_INVALID_TIMESTAMP)


class TimestampTooNewError(DecodeError):
    """The value is younger than the codec's ``min_age``."""

    def __init__(self, timestamp: int, now: int) -> None:
        self.timestamp = timestamp
        self.now = now
        super().__init__(MSG_TOO_NEW)


class ExpiredTimestampError(DecodeError):
    """The value is older than the codec's ``max_age``."""

    def __init__(self, timestamp: int, now: int) -> None:
        self.timestamp = timestamp
        self.now = now
        super().__init__(MSG_EXPIRED)


class AbsoluteTimeoutError(ExpiredTimestampError):
    """The session is older than the store's ``absolute_timeout`` since it was created.

    However active it is, a session ends this long after login, so a stolen
    cookie that an attacker keeps busy cannot live for ever (OWASP's
    absolute timeout). ``timestamp`` is the creation time.
    """

    def __init__(self, created_at: int, now: int, limit: int) -> None:
        super().__init__(created_at, now)
        self.limit = limit
        self.args = (
            f"sessions: the session was created {now - created_at}s ago, past the store's "
            f"absolute_timeout of {limit}s; sign in again",
        )


class IdleTimeoutError(ExpiredTimestampError):
    """No request used the session for longer than the store's ``idle_timeout``.

    ``timestamp`` is the last use the store recorded (at most a tenth of the
    window old when the session was last active, see ``touch``).
    """

    def __init__(self, used_at: int, now: int, limit: int) -> None:
        super().__init__(used_at, now)
        self.limit = limit
        self.args = (
            f"sessions: the session was last used {now - used_at}s ago, past the store's "
            f"idle_timeout of {limit}s; sign in again",
        )


class DecryptionError(DecodeError):
    """The encrypted payload is too short to hold an IV and any data."""

    def __init__(self) -> None:
        super().__init__(MSG_DECRYPT)


class DeserializeError(DecodeError):
    """The payload was authentic but the serializer could not read it."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(_MSG_CAUSED_BY + detail)


class SchemaError(DecodeError):
    """Stored session values do not fit a :class:`~spec.TypedSession`'s model.

    The store read the session fine; its values are from an older (or
    newer) schema, or another service wrote them. The typed session hands
    out the model's defaults instead, so a user with a stale cookie gets a
    fresh session rather than a 500, and a crafted payload never reaches the
    application as a half-valid object. ``errors`` holds pydantic's
    validation errors (location and message, never the input values, which
    may be secrets).
    """

    def __init__(self, name: str, model: str, errors: Sequence[Mapping[str, object]]) -> None:
        self.name = name
        self.model = model
        self.errors = tuple(errors)
        where = "; ".join(_schema_problem(error) for error in self.errors[:3])
        super().__init__(
            f"sessions: the values of session {name!r} do not fit {model} ({where}); "
            "the model's defaults were used: give TypedSession a migrate= function to "
            "convert old sessions, or keep them discarded"
        )


def _schema_problem(error: Mapping[str, object]) -> str:
    """``cart.items.0: Input should be a valid integer`` from one pydantic error."""
    loc = error.get("loc")
    path = ".".join(str(part) for part in loc) if isinstance(loc, tuple | list) and loc else ""
    return f"{path or '<values>'}: {error.get('msg', 'invalid')}"


class SessionNotFoundError(DecodeError):
    """A server-side store has no live record for the ID in the cookie."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f'sessions: no stored session for "{name}"')


class InvalidSessionIDError(DecodeError):
    """A session ID does not have the shape the store issues.

    IDs are checked before any path, key or query is built from them, so a
    forged ID can never reach the filesystem or the database (GO-2024-2730).
    """

    def __init__(self) -> None:
        super().__init__("sessions: invalid session id")


def _render_multi(errors: Sequence[BaseException]) -> str:
    """Render a list of errors the way gorilla's MultiError does."""
    if not errors:
        return "(0 errors)"
    first = str(errors[0])
    if len(errors) == 1:
        return first
    if len(errors) == 2:
        return f"{first} (and 1 other error)"
    return f"{first} (and {len(errors) - 1} other errors)"


class MultiDecodeError(DecodeError):
    """No key could decode the value; ``errors`` holds each codec's error in order."""

    def __init__(self, errors: Sequence[DecodeError]) -> None:
        self.errors: tuple[DecodeError, ...] = tuple(errors)
        super().__init__(_render_multi(self.errors))


# --------------------------------------------------------------------------
# Stores.


class StoreError(SessionError):
    """The storage backend failed (disk, network, database).

    Always raised, never turned into a fresh session: an outage that looked
    like "no session" would silently log everyone out or, worse, let a write
    overwrite data the store could not read.

    ``backend`` names the kind of storage (``"redis"``, ``"sql"``,
    ``"filesystem"``) and ``action`` what was attempted (``"read a session"``),
    so a handler or a metric can group outages without parsing text; either
    is ``None`` when not known. The message always reads
    ``<backend>: cannot <action>: <cause>``, leaving out the parts that are
    ``None``. The cause is the driver's one-line text, never a session ID or
    a statement's parameters: those reach logs.
    """

    def __init__(
        self, cause: str, *, backend: str | None = None, action: str | None = None
    ) -> None:
        self.backend = backend
        self.action = action
        self.cause = cause
        parts = [backend] if backend else []
        if action:
            parts.append(f"cannot {action}")
        super().__init__(": ".join([*parts, cause]))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling (multiprocessing, a task queue) keeps the typed attributes.
        return (_rebuild_store_error, (type(self), self.cause, self.backend, self.action))


def _rebuild_store_error(
    cls: type[StoreError], cause: str, backend: str | None, action: str | None
) -> StoreError:
    return cls(cause, backend=backend, action=action)


class SessionInterruptedError(SessionError):
    """The session's record was deleted while this request held it.

    Typically a logout in another tab. Saving would resurrect the session, so
    the save is refused and no cookie is written.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f'sessions: session "{name}" was deleted by another request; not saved')


class SaveAllError(SessionError):
    """Some sessions of a request failed to save; the others were saved.

    ``failures`` pairs each failed session's name with its error.
    """

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        self.failures: tuple[tuple[str, BaseException], ...] = tuple(failures)
        lines = [f'sessions: error saving session "{n}" -- {e}' for n, e in self.failures]
        super().__init__(_render_multi([SessionError(line) for line in lines]))
        self.messages = lines
