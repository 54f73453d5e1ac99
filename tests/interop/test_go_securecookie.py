"""Our securecookie codec against the real Go gorilla/securecookie, both ways.

Every test talks to the Go oracle (see ``tests/interop/README.md``) and to
``reference_impl.securecookie``: cookies made on one side must be read on the
other, cookies that one side rejects must be rejected by the other too, with
the same message, and where the output is deterministic (no encryption, same
clock) the cookie text must be identical.

Values sent to Go are restricted to what both sides read the same way: null,
booleans, strings, finite floats (integral ones below 2**53), integers within
+-2**53, lists and
string-keyed objects. Go decodes every number to float64, so values are
compared after turning every number into a float.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reference_impl.securecookie import (
    MIN_HASH_KEY_SIZE,
    SecureCookie,
    codecs_from_pairs,
    decode_multi,
    encode_multi,
)
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec.errors import (
    MSG_DECRYPT,
    MSG_EXPIRED,
    MSG_MAC_INVALID,
    MSG_TOO_NEW,
    Base64DecodeError,
    DecodeError,
    DecryptionError,
    ExpiredTimestampError,
    MacInvalidError,
    MultiDecodeError,
    SecurityWarning,
    TimestampTooNewError,
)
from tests.interop.goracle import GoOracle

# Each example costs one or two pipe round trips to the oracle.
INTEROP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

T0 = 1_700_000_000
MAX_AGE = 86400 * 30
SERIALIZERS = ("json", "nop")

# --------------------------------------------------------------------------
# Strategies

hash_keys = st.binary(min_size=1, max_size=64)
block_keys = st.sampled_from([None, 16, 24, 32]).flatmap(
    lambda size: st.none() if size is None else st.binary(min_size=size, max_size=size)
)
aes_keys = st.sampled_from([16, 24, 32]).flatmap(
    lambda size: st.binary(min_size=size, max_size=size)
)
cookie_names = st.from_regex(r"[A-Za-z0-9_.-]{1,16}", fullmatch=True)

json_scalars = (
    st.none()
    | st.booleans()
    | st.text(max_size=12)
    # Integral floats from 2**53 up are written with an exponent (Go writes
    # the digits, which would read back as an unequal int); Go reads both.
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not (f.is_integer() and abs(f) >= 2**53)
    )
    | st.integers(min_value=-(2**53), max_value=2**53)
)
# "$bytes" and "$map" are the JSON serializer's tag names: a user dict using one
# as its only key is escaped (written as a pair list), which Go reads literally.
json_keys = st.text(max_size=8).filter(lambda k: k not in ("$bytes", "$map"))
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)
    ),
    max_leaves=10,
)
# What a session holds: a string-keyed object at the top.
session_values = st.dictionaries(json_keys, json_values, max_size=5)
# Any JSON value at the top (Go decodes into interface{}).
top_values = session_values | json_values

# --------------------------------------------------------------------------
# Helpers


def key_hex(key: bytes | None) -> str:
    """Hex for the oracle; the empty string means "no key" (Go's nil)."""
    return "" if key is None else key.hex()


def different_hmac_keys(first: bytes, second: bytes) -> bool:
    """Whether two keys (at most 64 bytes) give different HMAC-SHA256 results.

    HMAC pads a key shorter than the 64-byte block with zeros, so ``b"k"`` and
    ``b"k\\0"`` are the same key, in Go and in Python alike.
    """
    return first.rstrip(b"\0") != second.rstrip(b"\0")


def fixed_clock(now: int) -> Callable[[], float]:
    """A clock for our codec that always reads ``now``."""
    return lambda: float(now)


def py_codec(
    hash_key: bytes,
    block_key: bytes | None,
    serializer: str,
    *,
    now: int | None = None,
    max_age: int = MAX_AGE,
    min_age: int = 0,
) -> SecureCookie:
    """Our codec, set up like the oracle's for the same arguments.

    ``now`` pins its clock; without it the codec reads the real time, as the
    oracle does when a request has no ``timestamp``.
    """
    options: dict[str, Any] = {"max_age": max_age, "min_age": min_age}
    if now is not None:
        options["clock"] = fixed_clock(now)
    # Go accepts any hash key; we do too, with a SecurityWarning under 32 bytes (S-1.6).
    short = len(hash_key) < MIN_HASH_KEY_SIZE
    with pytest.warns(SecurityWarning) if short else contextlib.nullcontext():
        return SecureCookie(
            hash_key,
            block_key,
            serializer=JSONSerializer() if serializer == "json" else NopSerializer(),
            **options,
        )


def py_pairs(*keys: bytes | None) -> list[SecureCookie]:
    """Our codecs for (hash, block) key pairs, expecting the warning for short hash keys."""
    short = any(key is not None and len(key) < MIN_HASH_KEY_SIZE for key in keys[::2])
    with pytest.warns(SecurityWarning) if short else contextlib.nullcontext():
        return codecs_from_pairs(*keys)


def go_keys(hash_key: bytes, block_key: bytes | None) -> dict[str, str]:
    """The oracle's key fields for one hash/block key pair."""
    return {"hash_key_hex": key_hex(hash_key), "block_key_hex": key_hex(block_key)}


def go_value(serializer: str, value: object) -> dict[str, Any]:
    """The request fields carrying ``value`` for the given serializer."""
    if serializer == "nop":
        assert isinstance(value, bytes)
        return {"value_b64": base64.b64encode(value).decode()}
    return {"value": value, "dst": "any"}


def go_result(serializer: str, reply: dict[str, Any]) -> object:
    """The decoded value in a successful oracle reply."""
    assert reply["ok"] is True, reply
    if serializer == "nop":
        return base64.b64decode(reply["value_b64"])
    return reply["value"]


def go_encode(
    oracle: GoOracle,
    hash_key: bytes,
    block_key: bytes | None,
    serializer: str,
    name: str,
    value: object,
    **extra: Any,
) -> str:
    """Have Go encode ``value``; return the cookie (the call must succeed)."""
    reply = oracle.call(
        {
            "op": "encode",
            **go_keys(hash_key, block_key),
            "name": name,
            "serializer": serializer,
            **go_value(serializer, value),
            **extra,
        }
    )
    assert reply["ok"] is True, reply
    cookie = reply["cookie"]
    assert isinstance(cookie, str)
    return cookie


def go_decode(
    oracle: GoOracle,
    hash_key: bytes,
    block_key: bytes | None,
    serializer: str,
    name: str,
    cookie: str,
    **extra: Any,
) -> dict[str, Any]:
    """Have Go decode ``cookie``; return the oracle's whole reply."""
    return oracle.call(
        {
            "op": "decode",
            **go_keys(hash_key, block_key),
            "name": name,
            "serializer": serializer,
            "cookie": cookie,
            "dst": "any",
            **extra,
        }
    )


def normalise(value: object) -> object:
    """Turn every number into a float (Go reads JSON numbers as float64)."""
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    raise TypeError(f"not a JSON value: {value!r}")


def same_value(serializer: str, got: object, sent: object) -> bool:
    """Whether a decoded value equals the one that was encoded."""
    if serializer == "nop":
        return isinstance(got, bytes) and got == sent
    return normalise(got) == normalise(sent)


def payload_strategy(serializer: str, block_key: bytes | None) -> st.SearchStrategy[Any]:
    """Values both sides can carry with ``serializer``."""
    if serializer == "nop":
        # An empty plaintext encrypts to a bare IV, which can never be decoded
        # (tested on its own below).
        return st.binary(min_size=0 if block_key is None else 1, max_size=200)
    return top_values


_STRICT_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def strict_b64url(text: str) -> bytes | None:
    """Decode padded URL-safe base64 as strictly as Go does, or return ``None``."""
    if len(text) % 4 or not _STRICT_B64URL.fullmatch(text):
        return None
    try:
        return base64.urlsafe_b64decode(text)
    except ValueError:
        return None


def assert_both_reject(
    oracle: GoOracle,
    codec: SecureCookie,
    hash_key: bytes,
    block_key: bytes | None,
    serializer: str,
    name: str,
    cookie: str,
) -> tuple[str, DecodeError]:
    """Check that Go and our codec both refuse ``cookie``, with the same message."""
    reply = go_decode(oracle, hash_key, block_key, serializer, name, cookie)
    assert reply["ok"] is False, f"Go accepted {cookie!r}: {reply}"
    assert reply["is_decode"] is True, reply
    with pytest.raises(DecodeError) as caught:
        codec.decode(name, cookie)
    assert str(caught.value) == reply["error"], (cookie, reply)
    return reply["error"], caught.value


# --------------------------------------------------------------------------
# The oracle itself


def test_oracle_reproduces_reference_vectors(go_oracle: GoOracle) -> None:
    """The pinned clock works: Go's output equals the vectors in gorilla-behaviour.md §1.9."""
    hash_key = b"0123456789abcdef0123456789abcdef"
    json_cookie = (
        "MTcwMDAwMDAwMHxleUpoSWpvaVhIVXdNRE5qWWx4MU1EQXpaVngxTURBeU5pSXNJbTRpT2pGOUNnPT18"
        "OlivJXYl0jn5PMBRZc3hkGVA1Aduxyddbk2hjZyDwSg="
    )
    nop_cookie = "MTcwMDAwMDAwMHxjbUYzfBf631lLD4IJDDESaNqhOpmGRx6ZvvxPnnboxAUPnYYo"
    value = {"a": "<b>&", "n": 1}
    assert go_encode(go_oracle, hash_key, None, "json", "session", value, timestamp=T0) == (
        json_cookie
    )
    assert go_encode(go_oracle, hash_key, None, "nop", "session", b"raw", timestamp=T0) == (
        nop_cookie
    )
    reply = go_decode(go_oracle, hash_key, None, "json", "session", json_cookie, timestamp=T0)
    assert go_result("json", reply) == {"a": "<b>&", "n": 1.0}
    late = go_decode(
        go_oracle, hash_key, None, "nop", "session", nop_cookie, timestamp=T0 + MAX_AGE + 1
    )
    assert late == {
        "ok": False,
        "error": MSG_EXPIRED,
        "error_go_type": "securecookie.cookieError",
        "is_decode": True,
        "is_usage": False,
        "is_internal": False,
    }


# --------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("serializer", SERIALIZERS)
@INTEROP
@given(data=st.data(), hash_key=hash_keys, block_key=block_keys, name=cookie_names)
def test_python_encodes_go_decodes(
    go_oracle: GoOracle,
    serializer: str,
    data: st.DataObject,
    hash_key: bytes,
    block_key: bytes | None,
    name: str,
) -> None:
    value = data.draw(payload_strategy(serializer, block_key), label="value")
    cookie = py_codec(hash_key, block_key, serializer).encode(name, value)
    reply = go_decode(go_oracle, hash_key, block_key, serializer, name, cookie)
    assert same_value(serializer, go_result(serializer, reply), value), (value, reply)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@INTEROP
@given(data=st.data(), hash_key=hash_keys, block_key=block_keys, name=cookie_names)
def test_go_encodes_python_decodes(
    go_oracle: GoOracle,
    serializer: str,
    data: st.DataObject,
    hash_key: bytes,
    block_key: bytes | None,
    name: str,
) -> None:
    value = data.draw(payload_strategy(serializer, block_key), label="value")
    cookie = go_encode(go_oracle, hash_key, block_key, serializer, name, value)
    decoded = py_codec(hash_key, block_key, serializer).decode(name, cookie)
    assert same_value(serializer, decoded, value), (value, decoded)


@pytest.mark.parametrize("key_size", [16, 24, 32])
@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_every_aes_size_both_ways(go_oracle: GoOracle, serializer: str, key_size: int) -> None:
    """AES-128/192/256 each round-trip in both directions (not left to chance)."""
    hash_key = bytes(range(32))
    block_key = bytes(range(100, 100 + key_size))
    value: object = b"\x00secret\xff" if serializer == "nop" else {"user": "ann", "n": [1, 2.5]}
    py_cookie = py_codec(hash_key, block_key, serializer).encode("sid", value)
    reply = go_decode(go_oracle, hash_key, block_key, serializer, "sid", py_cookie)
    assert same_value(serializer, go_result(serializer, reply), value)
    go_cookie = go_encode(go_oracle, hash_key, block_key, serializer, "sid", value)
    decoded = py_codec(hash_key, block_key, serializer).decode("sid", go_cookie)
    assert same_value(serializer, decoded, value)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@INTEROP
@given(data=st.data(), hash_key=hash_keys, name=cookie_names)
def test_unencrypted_cookies_are_byte_identical(
    go_oracle: GoOracle,
    serializer: str,
    data: st.DataObject,
    hash_key: bytes,
    name: str,
) -> None:
    """Without encryption nothing is random: same clock, same value, same cookie text."""
    value = data.draw(payload_strategy(serializer, None), label="value")
    ours = py_codec(hash_key, None, serializer, now=T0).encode(name, value)
    theirs = go_encode(go_oracle, hash_key, None, serializer, name, value, timestamp=T0)
    assert ours == theirs


def test_empty_encrypted_payload_is_undecodable_on_both_sides(go_oracle: GoOracle) -> None:
    """An empty plaintext under AES is just an IV: both sides encode it, neither decodes it."""
    hash_key, block_key = b"h" * 32, b"b" * 16
    codec = py_codec(hash_key, block_key, "nop")
    for cookie in (
        go_encode(go_oracle, hash_key, block_key, "nop", "n", b""),
        codec.encode("n", b""),
    ):
        message, error = assert_both_reject(
            go_oracle, codec, hash_key, block_key, "nop", "n", cookie
        )
        assert message == MSG_DECRYPT
        assert isinstance(error, DecryptionError)


# --------------------------------------------------------------------------
# Tampering


ENCODERS = ("python", "go")
# The URL-safe alphabet, padding, and characters Go rejects (standard-alphabet
# '+' and '/', and a plain non-base64 character).
REPLACEMENTS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/."


def encode_with(
    oracle: GoOracle,
    encoder: str,
    hash_key: bytes,
    block_key: bytes | None,
    serializer: str,
    name: str,
    value: object,
) -> str:
    """A cookie for ``value`` made by Go or by our codec."""
    if encoder == "go":
        return go_encode(oracle, hash_key, block_key, serializer, name, value)
    return py_codec(hash_key, block_key, serializer).encode(name, value)


@pytest.mark.parametrize("encoder", ENCODERS)
@INTEROP
@given(
    data=st.data(),
    hash_key=hash_keys,
    block_key=block_keys,
    name=cookie_names,
    value=session_values,
)
def test_flipped_character_is_rejected_by_both(
    go_oracle: GoOracle,
    encoder: str,
    data: st.DataObject,
    hash_key: bytes,
    block_key: bytes | None,
    name: str,
    value: dict[str, Any],
) -> None:
    cookie = encode_with(go_oracle, encoder, hash_key, block_key, "json", name, value)
    index = data.draw(st.integers(0, len(cookie) - 1), label="index")
    char = data.draw(st.sampled_from(REPLACEMENTS).filter(lambda c: c != cookie[index]))
    tampered = cookie[:index] + char + cookie[index + 1 :]
    # Go's decoder ignores the unused low bits of the last base64 character,
    # so a flip there leaves the bytes (and the cookie) intact: not tampering.
    assume(strict_b64url(tampered) != strict_b64url(cookie))
    message, error = assert_both_reject(
        go_oracle,
        py_codec(hash_key, block_key, "json"),
        hash_key,
        block_key,
        "json",
        name,
        tampered,
    )
    if message == MSG_MAC_INVALID:
        assert isinstance(error, MacInvalidError)
    else:
        assert message.startswith("securecookie: base64 decode failed - caused by: ")
        assert isinstance(error, Base64DecodeError)


@pytest.mark.parametrize("encoder", ENCODERS)
@INTEROP
@given(data=st.data(), hash_key=hash_keys, block_key=block_keys, name=cookie_names)
def test_dropped_character_is_rejected_by_both(
    go_oracle: GoOracle,
    encoder: str,
    data: st.DataObject,
    hash_key: bytes,
    block_key: bytes | None,
    name: str,
) -> None:
    cookie = encode_with(go_oracle, encoder, hash_key, block_key, "json", name, {"k": "v"})
    index = data.draw(st.integers(0, len(cookie) - 1), label="index")
    tampered = cookie[:index] + cookie[index + 1 :]
    message, error = assert_both_reject(
        go_oracle,
        py_codec(hash_key, block_key, "json"),
        hash_key,
        block_key,
        "json",
        name,
        tampered,
    )
    assert message.startswith("securecookie: base64 decode failed - caused by: ")
    assert isinstance(error, Base64DecodeError)


@pytest.mark.parametrize("encoder", ENCODERS)
@INTEROP
@given(data=st.data(), hash_key=hash_keys, block_key=block_keys, name=cookie_names)
def test_wrong_name_or_hash_key_is_rejected_by_both(
    go_oracle: GoOracle,
    encoder: str,
    data: st.DataObject,
    hash_key: bytes,
    block_key: bytes | None,
    name: str,
) -> None:
    other_key = data.draw(
        hash_keys.filter(lambda key: different_hmac_keys(key, hash_key)), label="other_key"
    )
    other_name = data.draw(cookie_names.filter(lambda n: n != name), label="other_name")
    cookie = encode_with(go_oracle, encoder, hash_key, block_key, "json", name, {"uid": 7})
    for key, cookie_name in ((hash_key, other_name), (other_key, name)):
        message, error = assert_both_reject(
            go_oracle,
            py_codec(key, block_key, "json"),
            key,
            block_key,
            "json",
            cookie_name,
            cookie,
        )
        assert message == MSG_MAC_INVALID
        assert isinstance(error, MacInvalidError)


# --------------------------------------------------------------------------
# Clock: both sides draw the age limits at the same place


@pytest.mark.parametrize(
    ("now", "max_age", "min_age", "expected"),
    [
        (T0 + MAX_AGE, MAX_AGE, 0, None),  # exactly max_age old: accepted
        (T0 + MAX_AGE + 1, MAX_AGE, 0, MSG_EXPIRED),
        (T0 - 3600, MAX_AGE, 0, None),  # from the future: accepted without min_age
        (T0 + 10**9, 0, 0, None),  # max_age 0: no expiry
        (T0 + 60, MAX_AGE, 60, None),  # exactly min_age old: accepted
        (T0 + 59, MAX_AGE, 60, MSG_TOO_NEW),
    ],
)
def test_age_limits_agree(
    go_oracle: GoOracle, now: int, max_age: int, min_age: int, expected: str | None
) -> None:
    hash_key, block_key = b"k" * 32, b"b" * 32
    cookie = go_encode(go_oracle, hash_key, block_key, "json", "s", {"a": 1}, timestamp=T0)
    reply = go_decode(
        go_oracle,
        hash_key,
        block_key,
        "json",
        "s",
        cookie,
        timestamp=now,
        max_age=max_age,
        min_age=min_age,
    )
    codec = py_codec(hash_key, block_key, "json", now=now, max_age=max_age, min_age=min_age)
    if expected is None:
        assert go_result("json", reply) == {"a": 1.0}
        assert normalise(codec.decode("s", cookie)) == {"a": 1.0}
    else:
        assert reply["ok"] is False
        assert reply["error"] == expected
        error_type = ExpiredTimestampError if expected == MSG_EXPIRED else TimestampTooNewError
        with pytest.raises(error_type, match=f"^{re.escape(expected)}$"):
            codec.decode("s", cookie)


# --------------------------------------------------------------------------
# Key rotation


@INTEROP
@given(
    new_hash=hash_keys,
    old_hash=hash_keys,
    new_block=block_keys,
    old_block=block_keys,
    name=cookie_names,
    value=session_values,
)
def test_rotation_python_new_key_go_decode_multi(
    go_oracle: GoOracle,
    new_hash: bytes,
    old_hash: bytes,
    new_block: bytes | None,
    old_block: bytes | None,
    name: str,
    value: dict[str, Any],
) -> None:
    """A cookie we sign with the new key pair is read by Go with [new, old]."""
    assume(different_hmac_keys(new_hash, old_hash))
    codecs = py_pairs(new_hash, new_block, old_hash, old_block)
    cookie = encode_multi(name, value, codecs)
    reply = go_oracle.call(
        {
            "op": "decode",
            "key_pairs": [go_keys(new_hash, new_block), go_keys(old_hash, old_block)],
            "name": name,
            "serializer": "json",
            "cookie": cookie,
        }
    )
    assert normalise(go_result("json", reply)) == normalise(value)
    # Signed with the new pair: the old pair alone must not verify it.
    old_only = go_decode(go_oracle, old_hash, old_block, "json", name, cookie)
    assert old_only["ok"] is False
    assert old_only["error"] == MSG_MAC_INVALID


@INTEROP
@given(
    new_hash=hash_keys,
    old_hash=hash_keys,
    new_block=block_keys,
    old_block=block_keys,
    name=cookie_names,
    value=session_values,
)
def test_rotation_go_old_key_python_decode_multi(
    go_oracle: GoOracle,
    new_hash: bytes,
    old_hash: bytes,
    new_block: bytes | None,
    old_block: bytes | None,
    name: str,
    value: dict[str, Any],
) -> None:
    """A cookie Go signed with the old key pair is read by us with [new, old]."""
    assume(different_hmac_keys(new_hash, old_hash))
    cookie = go_encode(go_oracle, old_hash, old_block, "json", name, value)
    codecs = py_pairs(new_hash, new_block, old_hash, old_block)
    assert normalise(decode_multi(name, cookie, codecs)) == normalise(value)
    with pytest.raises(MultiDecodeError) as caught:
        decode_multi(name, cookie, codecs[:1])
    reply = go_oracle.call(
        {
            "op": "decode",
            "key_pairs": [go_keys(new_hash, new_block)],
            "name": name,
            "serializer": "json",
            "cookie": cookie,
        }
    )
    assert reply["ok"] is False
    assert reply["errors"] == [MSG_MAC_INVALID]
    assert str(caught.value) == reply["error"]


def test_rotation_all_keys_wrong_gives_same_multi_error(go_oracle: GoOracle) -> None:
    """No pair verifies: Go's MultiError text and ours agree ("(and 1 other error)")."""
    cookie = go_encode(go_oracle, b"x" * 32, None, "json", "sid", {"a": "b"})
    pairs = [(b"n" * 32, b"N" * 16), (b"o" * 32, None)]
    reply = go_oracle.call(
        {
            "op": "decode",
            "key_pairs": [go_keys(h, b) for h, b in pairs],
            "name": "sid",
            "serializer": "json",
            "cookie": cookie,
        }
    )
    assert reply["ok"] is False
    assert reply["error"] == f"{MSG_MAC_INVALID} (and 1 other error)"
    codecs = py_pairs(*(key for pair in pairs for key in pair))
    with pytest.raises(MultiDecodeError) as caught:
        decode_multi("sid", cookie, codecs)
    assert str(caught.value) == reply["error"]
    assert [str(e) for e in caught.value.errors] == reply["errors"]
