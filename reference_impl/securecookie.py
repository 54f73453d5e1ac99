"""gorilla/securecookie's codec: cookie values that are signed, and optionally encrypted.

The wire format is gorilla's, so Go services and this library read each
other's cookies::

    b64url( ts "|" b64url( [iv] payload ) "|" HMAC-SHA256(hash_key, name "|" ts "|" b64url(...)) )

with padded URL-safe base64 at both levels, ``ts`` the decimal Unix time in
seconds, ``payload`` the serializer's bytes, AES-CTR encrypted under a fresh
16-byte IV when a block key is set (encrypt-then-MAC).

Where this port differs from Go (see ``docs/spec.md`` S-1): bad keys fail at
construction instead of on every later call; :func:`encode_multi` never falls
back to an older key; the "too long" errors keep a category.
"""

from __future__ import annotations

import logging
import os
import string
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TypedDict, Unpack

from reference_impl._codec.primitives import (
    IV_SIZE,
    AesCtr,
    HmacSha256,
    b64url_decode,
    b64url_encode,
    b64url_text,
    macs_equal,
    parse_int64,
)
from reference_impl.serializers import JSONSerializer
from spec.errors import (
    BlockKeyError,
    ConfigurationError,
    CookieTooLongError,
    DecodeError,
    DecryptionError,
    DeserializeError,
    ExpiredTimestampError,
    HashKeyNotSetError,
    InvalidTimestampError,
    MacInvalidError,
    MultiDecodeError,
    NoCodecsError,
    SecurityWarning,
    SerializeError,
    SessionError,
    TimestampTooNewError,
    ValueTooLongError,
)
from spec.options import DEFAULT_MAX_AGE as _OPTIONS_DEFAULT_MAX_AGE
from spec.protocols import Clock, Codec, Serializer

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_LENGTH",
    "MIN_HASH_KEY_SIZE",
    "CodecOptions",
    "SecureCookie",
    "codecs_from_pairs",
    "decode_multi",
    "encode_multi",
    "generate_random_key",
]

#: gorilla's default expiry: 30 days (``spec.options.DEFAULT_MAX_AGE``, defined once there).
DEFAULT_MAX_AGE = _OPTIONS_DEFAULT_MAX_AGE
#: gorilla's default limit on the encoded value; browsers drop cookies over about 4096 bytes.
DEFAULT_MAX_LENGTH = 4096
#: Hash keys shorter than this draw a :class:`~spec.errors.SecurityWarning`.
MIN_HASH_KEY_SIZE = 32
_AES_KEY_SIZES = (16, 24, 32)
_HEX_DIGITS = frozenset(string.hexdigits.encode())
_security_log = logging.getLogger("sessionspec.security")
_NAME_CACHE_SIZE = 64
_DEFAULT_SERIALIZER = JSONSerializer()


class CodecOptions(TypedDict, total=False):
    """The keyword settings :func:`codecs_from_pairs` passes to every codec."""

    serializer: Serializer
    max_age: int
    min_age: int
    max_length: int
    clock: Clock


class SecureCookie:
    """Encodes values into cookie text and decodes them back, in gorilla's format.

    The MAC covers the cookie name, which is not transmitted, so a value
    signed for one cookie (say a low-privilege ``prefs``) is rejected when
    replayed under another (``session``). MACs are compared in constant time
    so response timing cannot reveal how much of a forged MAC was right. The
    MAC is checked before anything else is parsed, so tampered input never
    reaches the timestamp parser, the cipher or the deserializer. Base64 is
    decoded as strictly as Go does, so a cookie has exactly one valid
    spelling apart from the CR/LF Go skips and unused trailing bits.

    Args:
        hash_key: the HMAC-SHA256 key; required, ideally 32 or 64 random bytes.
        block_key: ``None`` for a signed-only cookie, or a 16/24/32-byte AES
            key to also encrypt it (AES-128/192/256 in CTR mode).
        serializer: how values become bytes; :class:`JSONSerializer` by default.
        max_age: seconds after which a cookie is expired; ``0`` disables the
            check. As in gorilla, any int is accepted (negative rejects
            nearly everything).
        min_age: seconds a cookie must have existed before it is accepted; ``0`` disables.
        max_length: longest encoded value accepted or produced; ``0`` disables.
        clock: returns the current Unix time in seconds; ``time.time`` by default.

    Raises:
        HashKeyNotSetError: ``hash_key`` is empty.
        BlockKeyError: ``block_key`` is given but not 16, 24 or 32 bytes long.

    Warns:
        SecurityWarning: ``hash_key`` is shorter than 32 bytes (also logged on
            ``sessionspec.security``). The MAC is only as strong as the key: a
            1-byte key is forged in 256 tries. Not an error, because a Go
            service sharing the cookie may already use such a key.
    """

    __slots__ = (
        "_cipher",
        "_clock",
        "_iv_source",
        "_mac",
        "_max_age",
        "_max_length",
        "_min_age",
        "_named",
        "_serializer",
    )

    def __init__(
        self,
        hash_key: bytes,
        block_key: bytes | None = None,
        *,
        serializer: Serializer = _DEFAULT_SERIALIZER,
        max_age: int = DEFAULT_MAX_AGE,
        min_age: int = 0,
        max_length: int = DEFAULT_MAX_LENGTH,
        clock: Clock = time.time,
    ) -> None:
        if not hash_key:
            raise HashKeyNotSetError()
        if not isinstance(hash_key, bytes):
            raise ConfigurationError(f"hash_key must be bytes; got {type(hash_key).__name__}")
        self._cipher: AesCtr | None = None
        if block_key is not None:
            if not isinstance(block_key, bytes):
                raise ConfigurationError(f"block_key must be bytes; got {type(block_key).__name__}")
            if len(block_key) not in _AES_KEY_SIZES:
                # Hex text of a key is twice as long and uses only 0-9a-f.
                size = len(block_key)
                looks_hex = size > 0 and size % 2 == 0 and _HEX_DIGITS.issuperset(block_key)
                raise BlockKeyError(size, looks_hex=looks_hex)
            self._cipher = AesCtr(block_key)
        if len(hash_key) < MIN_HASH_KEY_SIZE:
            warn_weak_key(
                f"the hash key is {_bytes(len(hash_key))} long, under {MIN_HASH_KEY_SIZE}",
                "use 32 or 64 random bytes, e.g. generate_random_key(32)",
                stacklevel=2,
            )
        self._mac = HmacSha256(hash_key)
        self._named: dict[str, HmacSha256] = {}
        self._serializer = serializer
        self._clock = clock
        #: Where IVs come from. Tests replace it to reproduce Go's vectors
        #: byte for byte; production code must leave it as ``os.urandom``.
        self._iv_source: Callable[[int], bytes] = os.urandom
        self.max_age = max_age
        self.min_age = min_age
        self.max_length = max_length

    # -- settings ----------------------------------------------------------

    @property
    def max_age(self) -> int:
        """Seconds after which a cookie is expired (``0``: never)."""
        return self._max_age

    @max_age.setter
    def max_age(self, seconds: int) -> None:
        self._max_age = _check_int("max_age", seconds)

    @property
    def min_age(self) -> int:
        """Seconds a cookie must have existed before it is accepted (``0``: no minimum)."""
        return self._min_age

    @min_age.setter
    def min_age(self, seconds: int) -> None:
        self._min_age = _check_int("min_age", seconds)

    @property
    def max_length(self) -> int:
        """Longest encoded value accepted or produced (``0``: unlimited)."""
        return self._max_length

    @max_length.setter
    def max_length(self, length: int) -> None:
        if _check_int("max_length", length) < 0:
            raise ConfigurationError(f"max_length must be >= 0; got {length}")
        self._max_length = length

    @property
    def serializer(self) -> Serializer:
        """The serializer this codec uses."""
        return self._serializer

    def __repr__(self) -> str:
        return (
            f"SecureCookie(encrypted={self._cipher is not None}, max_age={self._max_age}, "
            f"min_age={self._min_age}, max_length={self._max_length}, "
            f"serializer={self._serializer!r})"
        )

    # -- encoding ----------------------------------------------------------

    def _signer(self, name: str) -> HmacSha256:
        """The MAC for cookie ``name`` (it signs ``name "|" ...``); cached, as names are few."""
        signer = self._named.get(name)
        if signer is None:
            signer = self._mac.prefixed(name.encode("utf-8", "surrogatepass") + b"|")
            if len(self._named) < _NAME_CACHE_SIZE:
                self._named[name] = signer
        return signer

    def encode(self, name: str, value: object) -> str:
        """Serialize, encrypt (if keyed), sign and encode ``value`` for cookie ``name``.

        Raises:
            SerializeError: the serializer cannot represent ``value``.
            ValueTooLongError: the result is longer than ``max_length``.
        """
        try:
            payload = self._serializer.serialize(value)
        except SessionError:
            raise
        except Exception as exc:  # a custom serializer's own exception type
            detail = f"{type(exc).__name__}: {exc}"
            raise SerializeError(detail, type_name=type(value).__name__) from exc
        cipher = self._cipher
        if cipher is not None:
            # A fresh random IV for every cookie, never cached or reused: CTR
            # under a repeated (key, IV) pair reveals the XOR of two plaintexts.
            iv = self._iv_source(IV_SIZE)
            payload = iv + cipher.apply(iv, payload)
        signed = b"%d|%b" % (int(self._clock()), b64url_encode(payload))
        mac = (self._named.get(name) or self._signer(name)).digest(signed)
        out = b64url_text(signed + b"|" + mac)
        limit = self._max_length
        if limit and len(out) > limit:
            raise ValueTooLongError(len(out), limit)
        return out

    # -- decoding ----------------------------------------------------------

    def decode(self, name: str, value: str) -> object:
        """Check and decode cookie text ``value`` made for cookie ``name``.

        The checks run in gorilla's order, each raising its own
        :class:`~spec.errors.DecodeError`: length, base64, MAC, timestamp,
        age limits, inner base64, decryption, deserialization.
        """
        if value.isascii():
            raw = None
            length = len(value)
        else:  # cannot be valid, but Go counts and reports in bytes
            raw = value.encode("utf-8", "surrogatepass")
            length = len(raw)
        limit = self._max_length
        if limit and length > limit:
            raise CookieTooLongError(length, limit)
        inner = b64url_decode(value if raw is None else raw)
        # Go's SplitN(inner, "|", 3): the MAC is binary and may itself hold '|'.
        first = inner.find(b"|")
        second = inner.find(b"|", first + 1) if first >= 0 else -1
        if second < 0:
            raise MacInvalidError()
        signer = self._named.get(name) or self._signer(name)
        if not macs_equal(signer.digest(inner[:second]), inner[second + 1 :]):
            raise MacInvalidError()
        stamp = inner[:first]
        # The usual case first: 18 digits or fewer cannot overflow an int64.
        timestamp = int(stamp) if stamp.isdigit() and len(stamp) < 19 else parse_int64(stamp)
        if timestamp is None:
            raise InvalidTimestampError()
        min_age, max_age = self._min_age, self._max_age
        if min_age or max_age:
            now = int(self._clock())
            if min_age and timestamp > now - min_age:
                raise TimestampTooNewError(timestamp, now)
            if max_age and timestamp < now - max_age:
                raise ExpiredTimestampError(timestamp, now)
        payload = b64url_decode(inner[first + 1 : second])
        cipher = self._cipher
        if cipher is not None:
            if len(payload) <= IV_SIZE:
                raise DecryptionError()
            payload = cipher.apply(payload[:IV_SIZE], payload[IV_SIZE:])
        try:
            return self._serializer.deserialize(payload)
        except DecodeError:
            raise
        except Exception as exc:  # a custom serializer's own exception type
            raise DeserializeError(f"{type(exc).__name__}: {exc}") from exc


def warn_weak_key(problem: str, advice: str, *, stacklevel: int = 1) -> None:
    """Issue a :class:`~spec.errors.SecurityWarning` and log it on ``sessionspec.security``.

    Both, because warnings are often hidden in production while the security
    log is kept. ``stacklevel`` counts from the caller of this function. The
    key itself never appears in the message.
    """
    message = f"weak key: {problem}; {advice}"
    warnings.warn(message, SecurityWarning, stacklevel=stacklevel + 1)
    _security_log.warning(message)


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"


def _check_int(setting: str, value: int) -> int:
    if type(value) is not int:
        raise ConfigurationError(f"{setting} must be an int; got {value!r}")
    return value


# --------------------------------------------------------------------------
# Several codecs: key rotation


def codecs_from_pairs(*keys: bytes | None, **options: Unpack[CodecOptions]) -> list[SecureCookie]:
    """One codec per (hash key, block key) pair; an odd last key gets no block key.

    List the current pair first, then older ones: :func:`encode_multi` signs
    with the first, :func:`decode_multi` accepts any. ``None`` as a block key
    means no encryption. ``options`` (serializer, max_age, min_age,
    max_length, clock) apply to every codec.
    """
    codecs: list[SecureCookie] = []
    for i in range(0, len(keys), 2):
        hash_key = keys[i]
        if hash_key is None:  # Go's nil hash key
            raise HashKeyNotSetError()
        block_key = keys[i + 1] if i + 1 < len(keys) else None
        codecs.append(SecureCookie(hash_key, block_key, **options))
    return codecs


def encode_multi(name: str, value: object, codecs: Sequence[Codec]) -> str:
    """Encode with the first codec only, raising its error.

    gorilla tries the codecs in order, so when the current key fails (say the
    value is too long once encrypted) it silently signs with an *old* key
    pair, which is the one being retired, possibly because it leaked. Here a
    failure is reported instead.

    Raises:
        NoCodecsError: ``codecs`` is empty.
    """
    if not codecs:
        raise NoCodecsError()
    return codecs[0].encode(name, value)


def decode_multi(name: str, value: str, codecs: Sequence[Codec]) -> object:
    """Decode with the first codec that accepts ``value`` (key rotation).

    Raises:
        NoCodecsError: ``codecs`` is empty.
        MultiDecodeError: every codec refused; ``errors`` holds their errors in order.
    """
    if not codecs:
        raise NoCodecsError()
    errors: list[DecodeError] = []
    for codec in codecs:
        try:
            return codec.decode(name, value)
        except DecodeError as exc:
            errors.append(exc)
    raise MultiDecodeError(errors)


def generate_random_key(length: int) -> bytes:
    """``length`` random bytes from the operating system's CSPRNG, for a hash or block key.

    Store the key: a key generated at every start-up invalidates every cookie
    on restart, gorilla's most reported "the value is not valid" puzzle.

    Raises:
        ConfigurationError: ``length`` is negative or not an int.
    """
    if _check_int("length", length) < 0:
        raise ConfigurationError(f"key length must be >= 0; got {length}")
    return os.urandom(length)
