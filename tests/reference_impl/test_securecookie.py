"""SecureCookie: wire format, the order of decode checks, keys, settings and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import warnings
from typing import Any
from unittest import mock

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl._codec import primitives as _primitives
from reference_impl._codec.primitives import AesCtr, HmacSha256
from reference_impl.securecookie import (
    DEFAULT_MAX_AGE,
    SecureCookie,
    codecs_from_pairs,
    decode_multi,
    encode_multi,
    generate_random_key,
)
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec.errors import (
    Base64DecodeError,
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
    TimestampTooNewError,
    ValueTooLongError,
)
from spec.protocols import Codec
from tests.reference_impl._vectors import T0, b64url, clock_at, fixed_iv, forge

HASH = bytes(range(32))
BLOCK = bytes(range(100, 132))
NOP = NopSerializer()


def codec(block_key: bytes | None = None, now: float = T0, **options: Any) -> SecureCookie:
    return SecureCookie(HASH, block_key, clock=clock_at(now), **options)


def unwrap(cookie: str) -> tuple[bytes, bytes, bytes]:
    """Split a cookie into (timestamp, base64 payload, MAC) with the stdlib."""
    stamp, payload, mac = base64.urlsafe_b64decode(cookie).split(b"|", 2)
    return stamp, payload, mac


# --------------------------------------------------------------------------
# Wire format


def test_codec_satisfies_the_protocol() -> None:
    """Ensure SecureCookie is a ``Codec`` (S-8)."""
    assert isinstance(codec(), Codec)


def test_signed_cookie_layout() -> None:
    """Ensure b64url(ts|b64url(payload)|HMAC(name|ts|b64payload)), padded at both levels (S-1.1)."""
    cookie = codec(now=T0 + 0.9).encode("session", {"a": 1})
    stamp, payload, mac = unwrap(cookie)
    assert stamp == b"1700000000"  # whole seconds, truncated
    assert base64.urlsafe_b64decode(payload) == b'{"a":1}\n'
    expected = hmac.new(HASH, b"session|" + stamp + b"|" + payload, hashlib.sha256).digest()
    assert mac == expected
    assert len(cookie) % 4 == 0 and len(payload) % 4 == 0
    assert set(cookie) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@pytest.mark.parametrize("size", [16, 24, 32])
def test_encrypted_payload_is_iv_then_aes_ctr(size: int) -> None:
    """Ensure payload = iv || AES-CTR(block_key, iv, serialized) for AES-128/192/256 (S-1.2)."""
    block_key, iv = os.urandom(size), os.urandom(16)
    sealer = codec(block_key, serializer=NOP)
    sealer._iv_source = fixed_iv(iv)
    plaintext = b"gob or json bytes, long enough to span several AES blocks" * 3
    payload = base64.urlsafe_b64decode(unwrap(sealer.encode("s", plaintext))[1])
    reference = Cipher(algorithms.AES(block_key), modes.CTR(iv)).encryptor().update(plaintext)
    assert payload == iv + reference
    assert sealer.decode("s", sealer.encode("s", plaintext)) == plaintext


def test_every_encode_draws_a_fresh_iv() -> None:
    """Ensure a new 16-byte IV from os.urandom for each encode (S-1.2)."""
    sealer = codec(BLOCK)
    assert sealer._iv_source is os.urandom
    drawn: list[bytes] = []

    def recording(size: int) -> bytes:
        drawn.append(os.urandom(size))
        return drawn[-1]

    sealer._iv_source = recording
    first, second = sealer.encode("s", {"a": 1}), sealer.encode("s", {"a": 1})
    assert len(drawn) == 2 and all(len(iv) == 16 for iv in drawn) and drawn[0] != drawn[1]
    assert first != second
    assert [base64.urlsafe_b64decode(unwrap(c)[1])[:16] for c in (first, second)] == drawn


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    iv=st.binary(min_size=16, max_size=16)
    | st.binary(min_size=8, max_size=8).map(lambda low: b"\xff" * 8 + low)
    | st.just(b"\xff" * 16)
    | st.just(b"\x00" * 8 + b"\xff" * 8),
    data=st.binary(max_size=700),
)
def test_aes_ctr_matches_cryptography(key: bytes, iv: bytes, data: bytes) -> None:
    """Ensure the reused CTR context equals a fresh modes.CTR, with wrap-around (S-1.2)."""
    expected = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)
    assert AesCtr(key).apply(iv, data) == expected


_IVS = st.binary(min_size=16, max_size=16) | st.just(b"\xff" * 16)


@settings(max_examples=60, deadline=None)
@given(messages=st.lists(st.tuples(_IVS, st.binary(max_size=300)), min_size=2, max_size=8))
def test_aes_ctr_reuse_never_carries_keystream_over(messages: list[tuple[bytes, bytes]]) -> None:
    """Ensure each message on one reused context starts at its own IV (S-1.2)."""
    key = bytes(range(32))
    cipher = AesCtr(key)
    for iv, data in messages:
        fresh = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor().update(data)
        assert cipher.apply(iv, data) == fresh


def test_aes_ctr_is_safe_across_threads() -> None:
    """Ensure concurrent use of one codec never shares a cipher context (S-1.2)."""
    sealer = codec(BLOCK, serializer=NOP, max_length=0)
    payloads = [os.urandom(200_000) for _ in range(4)]
    failures: list[BaseException] = []

    def work(payload: bytes) -> None:
        try:
            for _ in range(15):
                assert sealer.decode("s", sealer.encode("s", payload)) == payload
        except BaseException as exc:  # collected and re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=1, max_size=200), prefix=st.binary(max_size=40), msg=st.binary())
def test_hmac_matches_the_stdlib(key: bytes, prefix: bytes, msg: bytes) -> None:
    """Ensure the precomputed-pad HMAC equals hmac.digest for keys around the block size (S-1.1)."""
    mac = HmacSha256(key)
    assert mac.prefixed(prefix).digest(msg) == hmac.digest(key, prefix + msg, "sha256")
    assert mac.digest(msg) == hmac.digest(key, msg, "sha256")


def test_macs_are_compared_with_compare_digest() -> None:
    """Ensure the MAC check goes through hmac.compare_digest, once per decode (S-1.3)."""
    cookie = codec().encode("session", {"a": 1})
    with mock.patch.object(_primitives.hmac, "compare_digest", wraps=hmac.compare_digest) as spy:
        assert codec().decode("session", cookie) == {"a": 1}
        with pytest.raises(MacInvalidError):
            codec().decode("other", cookie)
    assert spy.call_count == 2
    assert all(len(a) == len(b) == 32 for (a, b), _ in spy.call_args_list)


def test_the_cookie_name_is_signed() -> None:
    """Ensure a value signed for one cookie name is rejected under another (S-1.1)."""
    cookie = codec().encode("prefs", {"admin": False})
    for name in ("session", "pref", "prefs ", "Prefs", ""):
        with pytest.raises(MacInvalidError, match=r"^securecookie: the value is not valid$"):
            codec().decode(name, cookie)
    assert codec().decode("prefs", cookie) == {"admin": False}
    assert codec().decode("日本", codec().encode("日本", 1)) == 1


def test_crlf_is_skipped_like_go() -> None:
    """Ensure CR/LF inside the outer base64 is ignored, as Go's decoder ignores it (S-1.5)."""
    cookie = codec().encode("s", {"a": 1})
    assert codec().decode("s", cookie[:10] + "\r\n" + cookie[10:] + "\n") == {"a": 1}


# --------------------------------------------------------------------------
# Order of the decode checks (S-1.3)

GOOD_TS = str(T0).encode()
PAYLOAD = base64.urlsafe_b64encode(b'{"a":1}\n')


@pytest.mark.parametrize(
    ("cookie", "error", "options"),
    [
        ("*" * 4097, CookieTooLongError, {}),  # length before base64
        ("MTcw*", Base64DecodeError, {}),
        (b64url(b"1700000000|AAAA"), MacInvalidError, {}),  # two parts
        (b64url(b"17e8|AAAA|" + b"\0" * 32), MacInvalidError, {}),  # MAC before timestamp
        (forge(HASH, "s", b"17e8", b"!!"), InvalidTimestampError, {}),  # before inner base64
        (forge(HASH, "s", str(T0 - 10**7).encode(), b"!!"), ExpiredTimestampError, {}),
        (forge(HASH, "s", str(T0 - 50).encode(), b"AA"), TimestampTooNewError,
         {"min_age": 100, "max_age": 10}),  # min_age first
        (forge(HASH, "s", GOOD_TS, b"!!"), Base64DecodeError, {}),
        (forge(HASH, "s", GOOD_TS, PAYLOAD), DecryptionError, {"block_key": BLOCK}),
        (forge(HASH, "s", GOOD_TS, b64url(b"x" * 17).encode()), DeserializeError,
         {"block_key": BLOCK}),
        (forge(HASH, "s", GOOD_TS, base64.urlsafe_b64encode(b"{")), DeserializeError, {}),
    ],
)  # fmt: skip
def test_decode_checks_run_in_gorillas_order(
    cookie: str, error: type[DecodeError], options: dict[str, Any]
) -> None:
    """Ensure the first failing check (in gorilla's order) decides the error (S-1.3)."""
    with pytest.raises(error) as caught:
        codec(**options).decode("s", cookie)
    assert type(caught.value) is error


def test_forged_cookie_with_a_valid_mac_decodes() -> None:
    """Ensure the forging helper is right, so the order tests above prove something (S-1.3)."""
    assert codec().decode("s", forge(HASH, "s", GOOD_TS, PAYLOAD)) == {"a": 1}
    assert codec(now=T0 + 5).decode("s", forge(HASH, "s", b"+" + GOOD_TS, PAYLOAD)) == {"a": 1}


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (b"1700000000", True), (b"+1700000000", True), (b"0" * 40 + b"1700000000", True),
        (b"9223372036854775807", True), (b"-9223372036854775808", True), (b"-5", True),
        (b"9223372036854775808", False), (b"-9223372036854775809", False), (b"", False),
        (b"+", False), (b"-", False), (b"17e8", False), (b" 1700000000", False),
        (b"1700000000 ", False), (b"1_700_000_000", False), (b"0x10", False), (b"++1", False),
        ("\u0661\u0667".encode(), False), (b"1" * 5000, False),
    ],
)  # fmt: skip
def test_timestamp_is_parsed_as_go_parseint(text: bytes, valid: bool) -> None:
    """Ensure the timestamp is a signed base-10 int64, exactly as strconv.ParseInt (S-1.3)."""
    lenient = codec(max_age=0, max_length=0, serializer=NOP)
    cookie = forge(HASH, "s", text, b"eA==")
    if valid:
        assert lenient.decode("s", cookie) == b"x"
    else:
        with pytest.raises(InvalidTimestampError, match=r"^securecookie: invalid timestamp$"):
            lenient.decode("s", cookie)


@pytest.mark.parametrize(
    ("age", "max_age", "min_age", "error"),
    [
        (3600, 3600, 0, None),  # exactly max_age old: accepted
        (3601, 3600, 0, ExpiredTimestampError),
        (-86400, 3600, 0, None),  # from the future: accepted without min_age
        (10**9, 0, 0, None),  # max_age 0: no expiry
        (60, 3600, 60, None),  # exactly min_age old: accepted
        (59, 3600, 60, TimestampTooNewError),
        (-1, 3600, 60, TimestampTooNewError),
        (0, -1, 0, ExpiredTimestampError),  # gorilla: negative max_age rejects (nearly) all
    ],
)
def test_age_limits_use_gorillas_boundaries(
    age: int, max_age: int, min_age: int, error: type[DecodeError] | None
) -> None:
    """Ensure expiry and min-age boundaries are gorilla's (S-1.4, S-1.9)."""
    cookie = codec(now=T0).encode("s", "v")
    reader = codec(now=T0 + age, max_age=max_age, min_age=min_age)
    if error is None:
        assert reader.decode("s", cookie) == "v"
    else:
        with pytest.raises(error) as caught:
            reader.decode("s", cookie)
        assert (caught.value.timestamp, caught.value.now) == (T0, T0 + age)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------
# Lengths


def test_decode_length_limit_is_strict_and_can_be_disabled() -> None:
    """Ensure len == max_length passes, one more fails, and 0 disables the check (S-1.3)."""
    cookie = codec().encode("s", {"k": "v" * 100})
    assert codec(max_length=len(cookie)).decode("s", cookie) == {"k": "v" * 100}
    with pytest.raises(CookieTooLongError) as caught:
        codec(max_length=len(cookie) - 1).decode("s", cookie)
    assert (caught.value.length, caught.value.limit) == (len(cookie), len(cookie) - 1)
    assert caught.value.args[0] == f"securecookie: the value is too long: {len(cookie)}"
    assert str(caught.value).endswith(f" (limit {len(cookie) - 1})")
    assert codec(max_length=0).decode("s", cookie) == {"k": "v" * 100}


def test_non_ascii_cookies_are_measured_and_located_in_utf8_bytes() -> None:
    """Ensure length and base64 offsets count UTF-8 bytes, as Go does (S-1.3, S-1.5)."""
    with pytest.raises(CookieTooLongError) as caught:
        codec(max_length=10).decode("s", "é" * 6)
    assert caught.value.length == 12
    with pytest.raises(Base64DecodeError, match=r"input byte 4$"):
        codec().decode("s", "QUJDé")


def test_encode_length_limit() -> None:
    """Ensure an encoded value over max_length raises ValueTooLongError (1.1.2 wording) (S-1.7)."""
    size = len(codec().encode("s", "x" * 300))
    assert codec(max_length=size).encode("s", "x" * 300)
    with pytest.raises(ValueTooLongError) as caught:
        codec(max_length=size - 1).encode("s", "x" * 300)
    assert (caught.value.length, caught.value.limit) == (size, size - 1)
    assert caught.value.args[0] == f"securecookie: the value is too long: {size}"
    assert codec(max_length=0).encode("s", "x" * 10_000)


# --------------------------------------------------------------------------
# Keys and settings


@pytest.mark.parametrize("hash_key", [b"", None])
def test_missing_hash_key_is_refused(hash_key: bytes | None) -> None:
    """Ensure an empty hash key fails at construction (S-1.6)."""
    with pytest.raises(HashKeyNotSetError, match=r"^securecookie: hash key is not set$"):
        SecureCookie(hash_key)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, 15, 17, 20, 31, 33, 64])
def test_bad_block_key_is_refused(size: int) -> None:
    """Ensure a block key that is not 16, 24 or 32 bytes fails at construction; b"" too (S-1.6)."""
    with pytest.raises(BlockKeyError) as caught:
        SecureCookie(HASH, b"k" * size)
    assert caught.value.size == size
    expected = f"securecookie: error - caused by: crypto/aes: invalid key size {size}"
    assert caught.value.args[0] == expected  # gorilla's text first (S-7.1) ...
    assert str(caught.value).startswith(expected + " (")  # ... then what to do
    assert "16, 24 or 32" in str(caught.value)
    assert not caught.value.looks_hex


@pytest.mark.parametrize("size", [24, 32])
def test_hex_block_key_passed_as_bytes_gets_a_fromhex_hint(size: int) -> None:
    """Ensure a hex string passed as bytes (twice too long) is named as such (S-1.6).

    (The hex text of a 16-byte key is 32 bytes, a valid AES-256 key, so it cannot be caught.)
    """
    hex_text = os.urandom(size).hex().encode()
    with pytest.raises(BlockKeyError) as caught:
        SecureCookie(HASH, hex_text)
    assert caught.value.size == 2 * size
    assert caught.value.looks_hex
    message = str(caught.value)
    assert message.startswith(
        f"securecookie: error - caused by: crypto/aes: invalid key size {2 * size} ("
    )
    assert "16, 24 or 32 bytes" in message
    assert "bytes.fromhex" in message
    assert SecureCookie(HASH, bytes.fromhex(hex_text.decode())).encode("s", 1)


@pytest.mark.parametrize("size", [1, 16, 31])
def test_short_hash_key_warns_and_logs(size: int, caplog: pytest.LogCaptureFixture) -> None:
    """Ensure a hash key under 32 bytes works but warns, and is logged for production (S-1.6)."""
    key = os.urandom(size)
    with (
        caplog.at_level("WARNING", logger="sessionspec.security"),
        pytest.warns(SecurityWarning, match=f"hash key is {size} byte") as record,
    ):
        codec_ = SecureCookie(key)
    assert record[0].filename == __file__  # points at the caller, not at the library
    assert codec_.decode("s", codec_.encode("s", "v")) == "v"  # still usable (Go peers)
    logged = [r for r in caplog.records if r.name == "sessionspec.security"]
    assert len(logged) == 1
    assert logged[0].levelname == "WARNING"
    assert "generate_random_key(32)" in logged[0].getMessage()
    assert key.hex() not in logged[0].getMessage()


@pytest.mark.parametrize("size", [32, 64])
def test_hash_keys_of_32_bytes_or_more_do_not_warn(size: int) -> None:
    """Ensure the recommended key sizes are accepted silently (S-1.6)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SecureCookie(os.urandom(size))
        codecs_from_pairs(os.urandom(size), os.urandom(32))


@pytest.mark.parametrize(
    "key_args", [("secret",), (HASH, "0123456789abcdef"), (HASH, bytearray(16))]
)
def test_keys_must_be_bytes(key_args: tuple[Any, ...]) -> None:
    """Ensure text keys are refused rather than silently encoded (S-1.6)."""
    with pytest.raises(ConfigurationError, match="must be bytes"):
        SecureCookie(*key_args)


def test_settings_can_change_later() -> None:
    """Ensure max_age, min_age and max_length are validated attributes that take effect (S-1.9)."""
    reader = codec(now=T0 + 100)
    cookie = codec().encode("s", 1)
    assert reader.max_age == DEFAULT_MAX_AGE and reader.min_age == 0
    reader.max_age = 99
    with pytest.raises(ExpiredTimestampError):
        reader.decode("s", cookie)
    reader.max_age, reader.min_age = 0, 101
    with pytest.raises(TimestampTooNewError):
        reader.decode("s", cookie)
    reader.min_age, reader.max_length = 0, 10
    with pytest.raises(CookieTooLongError):
        reader.decode("s", cookie)
    bad_settings = [("max_length", -1), ("max_length", 1.5), ("max_age", True), ("min_age", "1")]
    for setting, bad in bad_settings:
        with pytest.raises(ConfigurationError, match=setting):
            setattr(reader, setting, bad)
    assert reader.max_length == 10
    assert isinstance(reader.serializer, JSONSerializer)


def test_repr_shows_settings_but_no_key() -> None:
    """Ensure a logged codec does not leak its keys (S-1.6)."""
    text = repr(codec(BLOCK))
    assert text.startswith("SecureCookie(encrypted=True, max_age=2592000")
    assert HASH.hex() not in text and BLOCK.hex() not in text and repr(HASH) not in text


def test_custom_serializer_errors_are_wrapped() -> None:
    """Ensure a serializer's own exceptions surface as SerializeError/DeserializeError (S-1.3)."""

    class Broken:
        def serialize(self, value: object) -> bytes:
            raise TypeError("cannot")

        def deserialize(self, data: bytes) -> object:
            raise KeyError(data)

    with pytest.raises(SerializeError, match="TypeError: cannot"):
        codec(serializer=Broken()).encode("s", 1)
    cookie = codec().encode("s", 1)
    with pytest.raises(DeserializeError, match="KeyError"):
        codec(serializer=Broken()).decode("s", cookie)


# --------------------------------------------------------------------------
# Several codecs


def test_codecs_from_pairs() -> None:
    """Ensure keys pair up as (hash, block), an odd last key has none, options reach all (S-1.8)."""
    old_hash = b"o" * 32
    codecs = codecs_from_pairs(HASH, BLOCK, old_hash, max_age=60, clock=clock_at(T0))
    assert len(codecs) == 2 and all(c.max_age == 60 for c in codecs)
    assert repr(codecs[0]).startswith("SecureCookie(encrypted=True")
    assert repr(codecs[1]).startswith("SecureCookie(encrypted=False")
    assert codecs[1].encode("s", 1) == SecureCookie(old_hash, clock=clock_at(T0)).encode("s", 1)
    assert codecs_from_pairs() == []
    with pytest.raises(HashKeyNotSetError):
        codecs_from_pairs(None, BLOCK)


def test_encode_multi_uses_only_the_first_codec() -> None:
    """Ensure encode_multi never falls back to an older key when the current one fails (S-1.8)."""
    current = codec(BLOCK, max_length=50)
    old = codec()
    with pytest.raises(ValueTooLongError):
        encode_multi("s", {"k": "v" * 40}, [current, old])
    cookie = encode_multi("s", 1, [codec(), old])
    assert old.decode("s", cookie) == 1
    with pytest.raises(NoCodecsError, match=r"^securecookie: no codecs provided$"):
        encode_multi("s", 1, [])


def test_decode_multi_tries_each_codec_in_order() -> None:
    """Ensure decode_multi accepts any key and reports every codec's error in order (S-1.8)."""
    new, old = codec(BLOCK), SecureCookie(b"o" * 32, clock=clock_at(T0))
    assert decode_multi("s", old.encode("s", "old"), [new, old]) == "old"
    short = codec(max_length=8)
    with pytest.raises(MultiDecodeError) as caught:
        decode_multi("s", old.encode("s", "x"), [new, short])
    assert [type(e) for e in caught.value.errors] == [MacInvalidError, CookieTooLongError]
    assert str(caught.value).endswith(" (and 1 other error)")
    with pytest.raises(MultiDecodeError) as single:
        decode_multi("s", "not a cookie", [new])
    assert str(single.value) == str(single.value.errors[0]) and len(single.value.errors) == 1
    with pytest.raises(NoCodecsError):
        decode_multi("s", "x", [])


def test_generate_random_key() -> None:
    """Ensure keys come from the CSPRNG in the requested length; bad lengths are refused (S-1.6)."""
    keys = {generate_random_key(32) for _ in range(8)}
    assert len(keys) == 8 and all(len(k) == 32 for k in keys)
    assert generate_random_key(0) == b""
    for bad in (-1, True, 1.0):
        with pytest.raises(ConfigurationError):
            generate_random_key(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        generate_random_key(-5)
