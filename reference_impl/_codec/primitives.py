"""Go's byte-level conventions for the codec: base64, HMAC-SHA256, AES-CTR, number texts.

Private to ``reference_impl``. Each helper is the fast way to do one job (see
"Where the time goes" in ``docs/performance.md``, measured with
``bench/codec.py``) and is checked in the tests against the slow,
obvious way or against Go 1.19 itself: ``cryptography``'s own CTR mode,
:func:`hmac.digest`, Go's base64 error offsets, Go's float64 JSON text.
Base64 runs through pydantic-core's Rust codec where that provably gives
Go's answer, and through :mod:`binascii` (the reference) everywhere else.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import threading
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from pydantic_core import SchemaSerializer, SchemaValidator, ValidationError, core_schema

from spec.errors import Base64DecodeError

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "IV_SIZE",
    "AesCtr",
    "HmacSha256",
    "b64url_decode",
    "b64url_encode",
    "b64url_text",
    "go_float",
    "int_text",
    "macs_equal",
    "parse_int64",
]

#: AES block size, and so the IV length gorilla prepends to the ciphertext.
IV_SIZE = 16

_TO_URL = bytes.maketrans(b"+/", b"-_")
# '-' and '_' become the standard alphabet that binascii reads. A literal '+'
# or '/' is not URL-safe base64, so it becomes '!', which binascii rejects.
_FROM_URL = bytes.maketrans(b"-_+/", b"+/!!")
_URL_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NEWLINES = frozenset(b"\r\n")
_PAD = ord("=")


def _stdlib_encode(data: bytes) -> str:
    """The reference encoder: binascii, then the URL-safe alphabet."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL).decode("ascii")


def _stdlib_decode(data: bytes) -> bytes:
    """The reference decoder: Go's verdict for any input, with Go's error offset."""
    if not len(data) & 3 and not data.endswith(b"==="):
        try:  # whole 4-character groups, 0-2 trailing '=', nothing else
            return binascii.a2b_base64(data.translate(_FROM_URL), strict_mode=True)
        except binascii.Error:
            pass
    offset = _go_error_offset(data)
    if offset is not None:
        raise Base64DecodeError(offset)
    # Go accepts it: the only obstacles were CR/LF, which it skips.
    return binascii.a2b_base64(data.replace(b"\r", b"").replace(b"\n", b"").translate(_FROM_URL))


# pydantic-core (a required dependency) carries a Rust base64 codec that is 2.5
# to 4 times faster than binascii plus the alphabet translation CPython 3.11
# needs. Encoding is deterministic, so it is used only if it writes exactly
# what binascii writes (padded, URL-safe alphabet) for every length class;
# decoding is guarded per call (see b64url_decode). Otherwise: binascii.
_BYTES = core_schema.bytes_schema()
_rust_encode: Any = SchemaSerializer(
    _BYTES, core_schema.CoreConfig(ser_json_bytes="base64")
).to_python  # called with mode="json": returns the text
_rust_decode: Any = SchemaValidator(
    _BYTES, core_schema.CoreConfig(val_json_bytes="base64")
).validate_strings


def _rust_codec_agrees() -> bool:
    sample = bytes(range(256)) * 2 + bytes(range(255, -1, -1))
    try:
        for size in (0, 1, 2, 3, 4, 5, 62, 63, 64, 767, 768):
            text = _stdlib_encode(sample[:size])
            if _rust_encode(sample[:size], mode="json") != text:
                return False
            if _rust_decode(text) != sample[:size]:
                return False
    except Exception:  # any surprise means "do not use it"
        return False
    return True


if not _rust_codec_agrees():  # pragma: no cover - a pydantic-core that changed its base64
    _rust_encode = _rust_decode = None


def b64url_text(data: bytes) -> str:
    """Padded URL-safe base64 (RFC 4648 §5) as text, the form gorilla writes at both levels."""
    if _rust_encode is None:  # pragma: no cover - see _rust_codec_agrees
        return _stdlib_encode(data)
    text: str = _rust_encode(data, mode="json")
    return text


def b64url_encode(data: bytes) -> bytes:
    """:func:`b64url_text` as ASCII bytes."""
    return b64url_text(data).encode("ascii")


def b64url_decode(data: bytes | str) -> bytes:
    """Decode padded URL-safe base64 exactly as strictly as Go's ``URLEncoding``.

    Python's ``base64.urlsafe_b64decode`` silently drops characters outside the
    alphabet, so two different cookie texts would decode to the same bytes and
    junk could ride along unnoticed. Here anything Go rejects is rejected, with
    Go's own byte offset (``illegal base64 data at input byte N``, counted in
    UTF-8 bytes for text); CR and LF are skipped, as Go skips them.

    The fast path is pydantic-core's decoder (Rust ``base64`` crate), which
    is laxer than Go in exactly two documented ways, both closed before it
    runs: it retries with the standard alphabet when it meets ``+`` or ``/``
    (refused here: neither may appear), and it accepts missing padding (the
    length must be a multiple of 4, so no group can lack its padding). It
    rejects every other byte outside the alphabet, misplaced or extra
    ``=``, and nonzero unused trailing bits (which Go accepts: those go to
    the slow path, as does every other refusal, to get Go's answer and
    offset). As a last guard the output length must be the one the input
    length implies, so no character can have been skipped.

    Raises:
        Base64DecodeError: ``data`` is not valid padded URL-safe base64.
    """
    if isinstance(data, str):  # text: the fast path takes ASCII only (no surrogates)
        text = data
        if not data.isascii():
            data = data.encode("utf-8", "surrogatepass")
            text = ""
    else:  # every byte maps to one character, so lengths and verdicts carry over
        text = data.decode("latin-1")
    size = len(data)
    if text and not size & 3 and "+" not in text and "/" not in text and _rust_decode:
        try:
            decoded: bytes = _rust_decode(text)
        except ValidationError:
            pass
        else:
            if len(decoded) == size // 4 * 3 - text.endswith("=") - text.endswith("=="):
                return decoded
    return _stdlib_decode(data.encode("ascii") if isinstance(data, str) else data)


def _go_error_offset(src: bytes) -> int | None:
    """Where Go's ``decodeQuantum`` reports an error in ``src``, or ``None`` if it decodes.

    A line-for-line port of Go 1.19 ``encoding/base64`` for a padded encoding,
    run only once the fast path has failed. Its quirks are Go's: a missing
    pad is reported at the start of the unfinished group, and a wrong second
    pad one byte before the offending character.
    """
    size = len(src)
    si = 0
    while si < size:
        j = 0
        while j < 4:
            if si == size:
                return None if j == 0 else si - j
            char = src[si]
            si += 1
            if char in _URL_ALPHABET:
                j += 1
                continue
            if char in _NEWLINES:
                continue
            if char != _PAD or j < 2:
                return si - 1
            if j == 2:  # "==" expected; the first '=' is consumed
                while si < size and src[si] in _NEWLINES:
                    si += 1
                if si == size:
                    return size
                if src[si] != _PAD:
                    return si - 1
                si += 1
            while si < size and src[si] in _NEWLINES:
                si += 1
            return si if si < size else None
    return None


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_SHA256_BLOCK = 64


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the keyed inner and outer hash states built once.

    ``hmac.new(key).copy()`` per message does the same work behind a Python
    wrapper that costs more than the hashing; this is the construction of the
    stdlib's own pure-Python ``hmac`` fallback, keeping just the two
    ``hashlib`` states and copying them per message. :meth:`prefixed` also
    absorbs a fixed message prefix (``name "|"``) once. The tests compare it
    with :func:`hmac.digest` for keys of every length around the block size.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def prefixed(self, prefix: bytes) -> HmacSha256:
        """A MAC of ``prefix + message`` for each later ``message``."""
        other = HmacSha256.__new__(HmacSha256)
        other._inner = self._inner.copy()
        other._inner.update(prefix)
        other._outer = self._outer
        return other

    def digest(self, message: bytes) -> bytes:
        """The 32-byte MAC of ``message`` (after the prefix, if any)."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def macs_equal(expected: bytes, received: bytes) -> bool:
    """Compare two MACs in constant time. The only place a MAC is ever compared.

    ``==`` stops at the first differing byte, so its timing tells an attacker
    how many leading bytes of a forged MAC are right; they could then guess it
    one byte at a time. :func:`hmac.compare_digest` takes the same time
    whatever the contents.
    """
    return hmac.compare_digest(expected, received)


class AesCtr:
    """AES in CTR mode with the whole 16-byte IV as the initial counter (Go's ``cipher.NewCTR``).

    Building a ``Cipher(AES, CTR(iv))`` per message costs more than the rest
    of the cookie (the key schedule and an OpenSSL context each time), so each
    thread keeps one CTR context and points it at the next message's IV with
    ``reset_nonce`` (``cryptography`` 43 and later), which restarts the
    keystream at that counter block. A context must not be shared between
    threads: ``cryptography`` releases the GIL inside ``update``, and two
    messages interleaved on one context would each get part of the other's
    keystream. The tests compare this byte for byte with a fresh
    ``modes.CTR`` context per message, including counter wrap-around.
    """

    __slots__ = ("_algorithm", "_local")

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.AES(key)
        self._local = threading.local()

    def _context(self) -> CipherContext:
        context = Cipher(self._algorithm, modes.CTR(bytes(IV_SIZE))).encryptor()
        self._local.ctr = context
        return context

    def apply(self, iv: bytes, data: bytes) -> bytes:
        """Encrypt or decrypt ``data`` under counter block ``iv`` (16 bytes).

        The IV is the caller's: :class:`~reference_impl.securecookie.SecureCookie`
        draws a fresh random one for every cookie it encrypts, because CTR
        under a repeated (key, IV) pair leaks the XOR of the two plaintexts.
        Only the AES key schedule (this thread's context) is reused between
        calls; ``reset_nonce`` discards whatever keystream the last message
        left unused.
        """
        try:
            context: CipherContext = self._local.ctr
        except AttributeError:
            context = self._context()
        context.reset_nonce(iv)
        return context.update(data)


# --------------------------------------------------------------------------
# Numbers as Go writes and reads them

#: Go's int64 range, the one definition the codec and gob share.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT = int.__repr__


def parse_int64(text: bytes) -> int | None:
    """``text`` as Go's ``strconv.ParseInt(s, 10, 64)`` reads it, or ``None`` if Go refuses it.

    An optional sign, ASCII digits only (no spaces, underscores or other
    scripts' digits, which Python's ``int()`` would take), within int64.
    """
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    significant = digits.lstrip(b"0")
    if not digits.isdigit() or len(significant) > 19:
        return None
    number = int(significant or b"0")
    if text[:1] == b"-":
        number = -number
    return number if INT64_MIN <= number <= INT64_MAX else None


def go_float(number: float) -> str:
    """A finite float as Go's encoding/json writes a float64.

    Shortest round-trip digits (as Python's ``repr``), positional from 1e-6 up
    to 1e21, exponent form outside that with Go's ``e-7`` (not ``e-07``).

    Raises:
        ValueError: ``number`` is NaN or infinite (Go's encoder refuses them).
    """
    if not math.isfinite(number):
        raise ValueError(f"json: unsupported value: {number}")
    text = repr(number)
    size = abs(number)
    if size < 1e21 and (size >= 1e-6 or not size):
        if "e" in text:
            text = format(Decimal(text), "f")
        return text[:-2] if text.endswith(".0") else text
    mantissa, exponent = text.split("e")
    if exponent.startswith("-0"):
        exponent = "-" + exponent[2:]
    return f"{mantissa}e{exponent}"


def int_text(number: int) -> str:
    """Decimal text of any int, also beyond ``sys.get_int_max_str_digits()``."""
    try:
        return _INT(number)
    except ValueError:  # past the limit (640 at least): convert in slices of 600 digits
        sign, number = ("-", -number) if number < 0 else ("", number)
        chunks: list[int] = []
        while number:
            number, chunk = divmod(number, 10**600)
            chunks.append(chunk)
        return sign + _INT(chunks.pop()) + "".join(f"{c:0600d}" for c in reversed(chunks))
