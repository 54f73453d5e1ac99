"""Hostile input: whatever an attacker sends, decode raises a DecodeError or returns the original.

A mutated cookie may still decode in exactly two harmless ways Go allows too:
CR/LF is skipped, and the unused low bits of the last base64 character are
ignored. Then it carries the very same bytes, so the same value; the
properties below check that this is the *only* way a mutation can succeed.
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reference_impl import securecookie
from reference_impl._codec import primitives
from reference_impl._codec.primitives import b64url_decode, b64url_text
from reference_impl.securecookie import SecureCookie
from spec.errors import (
    Base64DecodeError,
    CookieTooLongError,
    DecodeError,
    InvalidTimestampError,
    MacInvalidError,
    SecurityWarning,
)
from tests.reference_impl._vectors import T0, clock_at, fixed_iv, forge

HOSTILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HASH = b"h" * 32
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Produced by Go 1.19.8: base64.URLEncoding.Decode, the decoded bytes or the
# N of "illegal base64 data at input byte N".
GO_BASE64: list[tuple[bytes, bytes | int]] = [
    (b"", b""), (b"QUJD", b"ABC"), (b"QUI=", b"AB"), (b"QQ==", b"A"), (b"QUJ", 0), (b"QQ", 0),
    (b"Q", 0), (b"QUJDQQ", 4), (b"QUJDQ", 4), (b"QQ=", 3), (b"QQ=A", 2), (b"QQ===", 4),
    (b"QUJD====", 4), (b"QUJD=", 4), (b"=QUJ", 0), (b"Q=JD", 1), (b"QUJD+", 4), (b"QU/D", 2),
    (b"QU D", 2), (b"QUJD\n", b"ABC"), (b"QU\r\nJD", b"ABC"), (b"\nQUJD", b"ABC"),
    (b"QQ=\n=", b"A"), (b"QQ=\nA", 3), (b"QQ==\n\nA", 6), (b"QUI=\r\n", b"AB"),
    (b"QUJD*QUJD", 4), (b"QUJDQUJD\xff", 8), (b"QUJDQUJDQUJDQUJ.", 15), (b"QR==", b"A"),
    (b"QUK=", b"AB"), (b"-_-_", b"\xfb\xff\xbf"), (b"QUJDQUJD=", 8), (b"QUJDQU=D", 6),
    (b"QQ==QQ==", 4),
]  # fmt: skip

leaves = st.integers() | st.text(max_size=20) | st.booleans()
values = st.dictionaries(st.text(max_size=6), leaves, min_size=1, max_size=4)
block_keys = st.none() | st.sampled_from([16, 24, 32]).map(lambda n: b"b" * n)


def codec(block_key: bytes | None = None, **options: Any) -> SecureCookie:
    """A codec with a pinned clock and IV, so Hypothesis sees the same cookie every run."""
    made = SecureCookie(HASH, block_key, clock=clock_at(T0), **options)
    made._iv_source = fixed_iv(bytes(range(16)))
    return made


def canonical(cookie: str) -> bytes | None:
    """What Go decodes ``cookie`` to, computed independently: drop CR/LF, strict padded base64."""
    text = cookie.replace("\r", "").replace("\n", "")
    if len(text) % 4 or not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        return None
    return base64.urlsafe_b64decode(text)


def assert_rejected_or_same(
    reader: SecureCookie, name: str, cookie: str, tampered: str, value: Any
) -> None:
    """The property: a DecodeError, or exactly the original bytes and so the original value."""
    try:
        decoded = reader.decode(name, tampered)
    except DecodeError:
        return
    assert decoded == value
    assert canonical(tampered) == canonical(cookie) is not None


# --------------------------------------------------------------------------
# Base64 exactly as Go


@pytest.mark.parametrize(("text", "expected"), GO_BASE64)
def test_base64_matches_go_byte_for_byte(text: bytes, expected: bytes | int) -> None:
    """Ensure decoding and every error offset are Go's, quirks included (S-1.5)."""
    if isinstance(expected, bytes):
        assert b64url_decode(text) == expected
    else:
        with pytest.raises(Base64DecodeError) as caught:
            b64url_decode(text)
        assert caught.value.offset == expected
        assert str(caught.value).endswith(
            f"base64 decode failed - caused by: illegal base64 data at input byte {expected}"
        )


def test_python_lenient_base64_is_not_used() -> None:
    """Ensure junk that base64.urlsafe_b64decode silently drops is rejected here (S-1.5)."""
    assert base64.urlsafe_b64decode(b"QU*JD") == b"ABC"  # what we must not do
    with pytest.raises(Base64DecodeError, match=r"input byte 2$"):
        b64url_decode(b"QU*JD")


def _stdlib_outcome(text: bytes) -> bytes | int:
    try:
        return primitives._stdlib_decode(text)
    except Base64DecodeError as exc:
        return exc.offset


def _outcome(text: bytes | str) -> bytes | int:
    try:
        return b64url_decode(text)
    except Base64DecodeError as exc:
        return exc.offset


# Text near valid base64: the alphabet, both padding and the characters the
# Rust decoder treats specially ('+', '/'), CR/LF, junk and non-ASCII bytes.
_NEAR_BASE64 = st.lists(
    st.sampled_from([*ALPHABET.encode(), *b'==+/\r\n *"\\', 0xC3, 0xA9, 0xFF]), max_size=24
).map(bytes)


@HOSTILE
@given(_NEAR_BASE64 | st.binary(max_size=12).map(lambda raw: base64.urlsafe_b64encode(raw)))
def test_fast_base64_decoder_agrees_with_the_go_port(text: bytes) -> None:
    """Ensure the Rust fast path accepts exactly what Go accepts, with the same bytes (S-1.5)."""
    assert _outcome(text) == _stdlib_outcome(text)
    expected = canonical(text.decode("latin-1"))
    if expected is not None:
        assert _outcome(text) == expected


@pytest.mark.parametrize(
    "text", [b"QQ", b"QUI", b"+/+/", b"-_+/", b"QQ==QQ==", b"QR==", b"Q===", b"QU\nJD", b"QU==\n"]
)
def test_fast_base64_decoder_laxness_is_closed(text: bytes) -> None:
    """Ensure what the Rust decoder accepts and Go does not (no padding, '+' '/') is refused."""
    assert _outcome(text) == _stdlib_outcome(text)


@pytest.mark.parametrize("text", ["QUJD", "-_-_QUI=", "QU\u00e9D", "QUJD\udc80", "QU\nJD", ""])
def test_text_input_decodes_as_its_utf8_bytes(text: str) -> None:
    """Ensure a str decodes, or fails at the same byte offset, as its UTF-8 bytes do (S-1.5)."""
    assert _outcome(text) == _outcome(text.encode("utf-8", "surrogatepass"))


def test_fast_base64_paths_are_used_and_write_what_binascii_writes() -> None:
    """Ensure the fast codec is active here and writes padded URL-safe base64, as Go does."""
    assert primitives._rust_decode is not None
    for size in range(70):
        raw = bytes(range(256))[size : size * 3]
        assert b64url_text(raw) == base64.urlsafe_b64encode(raw).decode("ascii")
    with mock.patch.object(primitives, "_stdlib_decode", side_effect=AssertionError):
        assert b64url_decode(b"-_-_QUI=") == b"\xfb\xff\xbfAB"  # no fallback needed
        with pytest.raises(AssertionError):  # the patch is live for what needs Go's rules
            b64url_decode(b"QR==")


# --------------------------------------------------------------------------
# Mutations of a valid cookie


@HOSTILE
@given(value=values, block_key=block_keys, data=st.data())
def test_bit_flips(value: dict[str, Any], block_key: bytes | None, data: st.DataObject) -> None:
    """Ensure flipping any bit of any character never yields another value (S-1.3, S-1.5)."""
    cookie = codec(block_key).encode("s", value)
    index = data.draw(st.integers(0, len(cookie) - 1), label="index")
    bit = data.draw(st.integers(0, 7), label="bit")
    tampered = cookie[:index] + chr(ord(cookie[index]) ^ (1 << bit)) + cookie[index + 1 :]
    assert_rejected_or_same(codec(block_key), "s", cookie, tampered, value)


@HOSTILE
@given(value=values, block_key=block_keys, data=st.data())
def test_truncations_and_extensions(
    value: dict[str, Any], block_key: bytes | None, data: st.DataObject
) -> None:
    """Ensure cutting or extending a cookie is always rejected (or a CR/LF no-op) (S-1.3)."""
    cookie = codec(block_key).encode("s", value)
    cut = data.draw(st.integers(0, len(cookie) - 1), label="cut")
    with pytest.raises(DecodeError):
        codec(block_key).decode("s", cookie[:cut])
    extra = data.draw(st.text(ALPHABET + "=+/.*\r\n é", min_size=1, max_size=12), label="extra")
    assert_rejected_or_same(codec(block_key), "s", cookie, cookie + extra, value)
    assert_rejected_or_same(codec(block_key), "s", cookie, extra + cookie, value)


@HOSTILE
@given(value=values, block_key=block_keys, padding=st.sampled_from(["", "=", "==", "==="]))
def test_repadding(value: dict[str, Any], block_key: bytes | None, padding: str) -> None:
    """Ensure stripped, added or moved padding is rejected (Go requires exact padding) (S-1.5)."""
    cookie = codec(block_key).encode("s", value)
    stripped = cookie.rstrip("=")
    assume(stripped + padding != cookie)
    with pytest.raises(Base64DecodeError):
        codec(block_key).decode("s", stripped + padding)
    if stripped != cookie:
        with pytest.raises(Base64DecodeError):
            codec(block_key).decode("s", "=" + stripped)


@HOSTILE
@given(value=values, block_key=block_keys, data=st.data())
def test_alphabet_swaps(
    value: dict[str, Any], block_key: bytes | None, data: st.DataObject
) -> None:
    """Ensure the standard alphabet's '+' and '/' are never accepted for '-' and '_' (S-1.5)."""
    cookie = codec(block_key).encode("s", {**value, "pad": "\xff\xfe\xfb" * 8})
    positions = [i for i, char in enumerate(cookie) if char in "-_"]
    assume(positions)
    index = data.draw(st.sampled_from(positions), label="index")
    swapped = cookie[:index] + {"-": "+", "_": "/"}[cookie[index]] + cookie[index + 1 :]
    with pytest.raises(Base64DecodeError) as caught:
        codec(block_key).decode("s", swapped)
    assert caught.value.offset == index
    everything = cookie.replace("-", "+").replace("_", "/")
    with pytest.raises(Base64DecodeError):
        codec(block_key).decode("s", everything)


@HOSTILE
@given(
    value=values,
    block_key=block_keys,
    names=st.lists(st.text(max_size=8), min_size=2, max_size=2, unique=True),
    other_key=st.binary(min_size=1, max_size=64).filter(lambda k: k != HASH),
)
def test_other_name_or_key_never_decodes(
    value: dict[str, Any], block_key: bytes | None, names: list[str], other_key: bytes
) -> None:
    """Ensure a cookie made under another name or hash key is always rejected by the MAC (S-1.1)."""
    cookie = codec(block_key).encode(names[0], value)
    with pytest.raises(MacInvalidError):
        codec(block_key).decode(names[1], cookie)
    short = len(other_key) < 32  # any length must fail the MAC; short ones also warn (S-1.6)
    with pytest.warns(SecurityWarning) if short else contextlib.nullcontext():
        other = SecureCookie(other_key, block_key, clock=clock_at(T0))
    with pytest.raises(MacInvalidError):
        other.decode(names[0], cookie)
    if block_key is not None:  # right MAC key, wrong AES key: garbage that is not JSON
        with pytest.raises(DecodeError):
            codec(b"c" * len(block_key)).decode(names[0], cookie)


@HOSTILE
@given(garbage=st.text(max_size=300) | st.text(ALPHABET + "=|", max_size=300))
def test_arbitrary_text_only_raises_decode_errors(garbage: str) -> None:
    """Ensure any string at all gives a DecodeError and never another exception (S-1.3)."""
    with pytest.raises(DecodeError):
        codec().decode("s", garbage)


@HOSTILE
@given(
    stamp=st.binary(max_size=24) | st.integers().map(lambda n: str(n).encode()),
    payload=st.binary(max_size=80) | st.text(ALPHABET + "=", max_size=80).map(str.encode),
    block_key=block_keys,
)
def test_anything_behind_a_valid_mac_only_raises_decode_errors(
    stamp: bytes, payload: bytes, block_key: bytes | None
) -> None:
    """Ensure key holders' malformed parts still end in DecodeErrors, nothing else (S-1.3)."""
    assume(b"|" not in stamp and b"|" not in payload)  # a "|" would shift the split
    cookie = forge(HASH, "s", stamp, payload)
    go_valid = re.fullmatch(rb"[+-]?[0-9]+", stamp) and -(2**63) <= int(stamp) < 2**63
    if not go_valid:
        with pytest.raises(InvalidTimestampError):
            codec(block_key, max_age=0).decode("s", cookie)
        return
    with contextlib.suppress(DecodeError):  # later checks may refuse it, with a DecodeError
        codec(block_key, max_age=0).decode("s", cookie)


# --------------------------------------------------------------------------
# Length first


@pytest.mark.parametrize(
    "big", ["A" * 1_000_000, "é" * 600_000, "=" * 4097, ("QUJD" * 250_000)[:-1] + "*"]
)
def test_oversize_input_is_rejected_before_any_base64_work(big: str) -> None:
    """Ensure values up to 1 MB fail on length alone; base64 is never reached (S-1.3)."""
    with mock.patch.object(securecookie, "b64url_decode", side_effect=AssertionError) as spy:
        with pytest.raises(CookieTooLongError) as caught:
            codec().decode("s", big)
        assert spy.call_count == 0
        assert caught.value.length == len(big.encode()) and caught.value.limit == 4096
        with pytest.raises(AssertionError):  # the patch is live: without a limit it is reached
            codec(max_length=0).decode("s", big)
        assert spy.call_count == 1
