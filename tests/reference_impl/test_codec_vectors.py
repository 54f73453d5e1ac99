"""The codec against the golden vectors Go's gorilla/securecookie 1.1.1 produced.

Vectors live in ``tests/vectors/gorilla`` (see its README). Coverage:

* ``json`` round trips: full check, cookie bytes and decoded values;
* ``gob`` round trips and decodes: at the signing layer. The vectors record the
  exact gob bytes Go signed (``parts.serialized_hex``); a :class:`NopSerializer`
  over those bytes must give Go's cookie byte for byte, proving the base64,
  HMAC and AES-CTR layers independently of any gob implementation (the gob
  values themselves are checked in ``test_gob_vectors.py``);
* ``decode_error`` vectors that fail before deserialization: same error type and
  message; those that fail inside gob are checked up to the serializer;
* ``encode_error`` vectors: same error (raised at construction where ours
  differs from Go by design).

:data:`NOT_COVERED` lists what is left out and why; a test checks that every
vector file is accounted for.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from reference_impl.securecookie import SecureCookie, codecs_from_pairs, decode_multi
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec.errors import (
    Base64DecodeError,
    BlockKeyError,
    CookieTooLongError,
    DecodeError,
    DecryptionError,
    ExpiredTimestampError,
    HashKeyNotSetError,
    InvalidTimestampError,
    MacInvalidError,
    MultiDecodeError,
    TimestampTooNewError,
    ValueTooLongError,
)
from tests.reference_impl._vectors import (
    T0,
    clock_at,
    codec_for,
    fixed_iv,
    go_json_input,
    key,
    load_vectors,
    same_types,
)

VECTORS = load_vectors()
BY_ID = {vector["id"]: vector for vector in VECTORS}

#: Go's error text (1.1.1) → our error type. The "too long" pair is special:
#: we keep 1.1.2's wording, which appends ": N" (see the dedicated tests).
GO_ERRORS: list[tuple[str, type[Exception]]] = [
    (r"securecookie: the value is not valid", MacInvalidError),
    (r"securecookie: expired timestamp", ExpiredTimestampError),
    (r"securecookie: timestamp is too new", TimestampTooNewError),
    (r"securecookie: invalid timestamp", InvalidTimestampError),
    (r"securecookie: the value could not be decrypted", DecryptionError),
    (r"securecookie: base64 decode failed - caused by: illegal base64 data at input byte \d+",
     Base64DecodeError),
    (r"securecookie: hash key is not set", HashKeyNotSetError),
    (r"securecookie: error - caused by: crypto/aes: invalid key size \d+", BlockKeyError),
    (r"securecookie: the value is too long", CookieTooLongError),
]  # fmt: skip

#: Vectors not checked here, with the reason.
NOT_COVERED = {
    "rt-gob-hash-sha512": "HashFunc(sha512.New) is an optional gorilla feature; SHA-256 only",
    **{
        vector["id"]: "session/store behaviour, not the codec (covered by the store tests)"
        for vector in VECTORS
        if vector["kind"] in ("session", "session_load", "fs")
    },
}
#: decode_error vectors whose failure is inside gob: checked up to the serializer only.
GOB_FAILURES = ("neg-wrong-block-key", "neg-json-cookie-as-gob", "neg-forged-garbage-gob")


def go_error_type(message: str) -> type[Exception]:
    """Our error type for one of Go's messages (every message used must be in the table)."""
    for pattern, error_type in GO_ERRORS:
        if re.fullmatch(pattern, message):
            return error_type
    raise AssertionError(f"no mapping for Go error {message!r}")


def ids(kind: str, serializer: str | None = None, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """Vector ids of ``kind`` (optionally only those whose encode call used ``serializer``)."""
    chosen = []
    for vector in VECTORS:
        used = vector["calls"][0]["request"].get("serializer", "gob")
        if vector["kind"] != kind or vector["id"] in NOT_COVERED or vector["id"] in exclude:
            continue
        if serializer is None or used == serializer:
            chosen.append(vector["id"])
    return chosen


def calls(vector_id: str) -> list[dict[str, Any]]:
    """The oracle calls recorded in a vector (the ground truth)."""
    recorded: list[dict[str, Any]] = BY_ID[vector_id]["calls"]
    return recorded


def rotation_codecs(request: dict[str, Any]) -> list[SecureCookie]:
    """``codecs_from_pairs`` for a ``key_pairs`` request, over raw bytes."""
    fields = ("hash_key_hex", "block_key_hex")
    keys = [key(pair[field]) for pair in request["key_pairs"] for field in fields]
    return codecs_from_pairs(*keys, serializer=NopSerializer(), clock=clock_at(request["now"]))


# --------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("vector_id", ids("roundtrip", "json"))
def test_json_roundtrip_vectors(vector_id: str) -> None:
    """Ensure that JSON vectors encode to Go's exact cookie and decode to Go's values (S-1.1)."""
    encode, decode = calls(vector_id)
    assert BY_ID[vector_id]["byte_exact"] is True
    codec = codec_for(encode["request"])
    value = go_json_input(encode["request"]["values"])
    serialized = JSONSerializer().serialize(value)
    assert serialized == bytes.fromhex(encode["response"]["parts"]["serialized_hex"])
    assert codec.encode(encode["request"]["name"], value) == encode["response"]["cookie"]
    request = decode["request"]
    decoded = codec_for(request).decode(request["name"], request["cookie"])
    assert same_types(decoded, decode["response"]["values"])


@pytest.mark.parametrize("vector_id", ids("roundtrip", "gob"))
def test_gob_roundtrip_vectors_at_the_signing_layer(vector_id: str) -> None:
    """Ensure that Go's gob bytes sign and encrypt to Go's exact cookie, and back (S-1.1, S-1.2)."""
    encode, decode = calls(vector_id)
    parts = encode["response"]["parts"]
    gob = bytes.fromhex(parts["serialized_hex"])
    codec = codec_for(encode["request"], "nop")
    assert codec.encode(encode["request"]["name"], gob) == encode["response"]["cookie"]
    reader = codec_for(decode["request"], "nop")
    assert reader.decode(decode["request"]["name"], decode["request"]["cookie"]) == gob


@pytest.mark.parametrize("vector_id", ids("decode"))
def test_decode_vectors_at_the_signing_layer(vector_id: str) -> None:
    """Ensure that age boundaries and key rotation accept what Go accepts (S-1.4, S-1.8)."""
    encode, decode = calls(vector_id)
    gob = bytes.fromhex(encode["response"]["parts"]["serialized_hex"])
    assert (
        codec_for(encode["request"], "nop").encode(encode["request"]["name"], gob)
        == encode["response"]["cookie"]
    )
    request = decode["request"]
    assert decode["response"]["ok"] is True
    if "key_pairs" in request:
        assert decode_multi(request["name"], request["cookie"], rotation_codecs(request)) == gob
    else:
        assert codec_for(request, "nop").decode(request["name"], request["cookie"]) == gob


# --------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("vector_id", ids("decode_error", exclude=GOB_FAILURES))
def test_decode_error_vectors(vector_id: str) -> None:
    """Ensure that cookies Go rejects before deserializing fail here the same way (S-1.3, S-7.1)."""
    request, response = calls(vector_id)[-1]["request"], calls(vector_id)[-1]["response"]
    assert response["ok"] is False and response["is_decode"] is True
    if "key_pairs" in request:
        with pytest.raises(MultiDecodeError) as multi:
            decode_multi(request["name"], request["cookie"], rotation_codecs(request))
        assert str(multi.value) == response["error"]
        assert [str(e) for e in multi.value.errors] == [e["error"] for e in response["errors"]]
        assert [type(e) for e in multi.value.errors] == [
            go_error_type(e["error"]) for e in response["errors"]
        ]
        return
    expected = go_error_type(response["error"])
    with pytest.raises(DecodeError) as caught:
        codec_for(request, "nop").decode(request["name"], request["cookie"])
    assert type(caught.value) is expected
    if expected is CookieTooLongError:  # 1.1.1 said "too long"; we keep 1.1.2's ": N"
        assert caught.value.args[0] == f"{response['error']}: {len(request['cookie'])}"
    else:
        assert str(caught.value) == response["error"]


@pytest.mark.parametrize("vector_id", GOB_FAILURES)
def test_gob_failure_vectors_pass_every_check_before_the_serializer(vector_id: str) -> None:
    """Ensure that these pass MAC, age and decryption checks: only gob rejects them (S-1.3)."""
    request = calls(vector_id)[-1]["request"]
    assert calls(vector_id)[-1]["response"]["error"].startswith(
        "securecookie: error - caused by: securecookie: error - caused by: "
    )
    payload = codec_for(request, "nop").decode(request["name"], request["cookie"])
    assert isinstance(payload, bytes) and payload
    if "construction" in BY_ID[vector_id]:
        b64 = BY_ID[vector_id]["construction"]["payload_b64"]
        assert payload == base64.urlsafe_b64decode(b64)
    else:  # made by a real encode: wrong block key gives other bytes, JSON gives JSON
        signed = bytes.fromhex(calls(vector_id)[0]["response"]["parts"]["serialized_hex"])
        assert (payload == signed) is (vector_id == "neg-json-cookie-as-gob")


def test_json_cookie_read_as_gob_is_plain_json_to_us() -> None:
    """Ensure that the JSON cookie Go's gob reader rejects is valid JSON to us (S-1.10)."""
    request = calls("neg-json-cookie-as-gob")[-1]["request"]
    decoded = codec_for(request, "json").decode(request["name"], request["cookie"])
    assert decoded == {"user": "alice"}


def test_oversize_decode_vector_uses_the_1_1_2_message() -> None:
    """Ensure that "too long" keeps 1.1.2's wording (": N"), not the vectors' 1.1.1 text (S-7.1)."""
    request, response = calls("neg-oversize")[-1]["request"], calls("neg-oversize")[-1]["response"]
    assert response["error"] == "securecookie: the value is too long"  # Go 1.1.1
    with pytest.raises(CookieTooLongError) as caught:
        codec_for(request, "nop").decode(request["name"], request["cookie"])
    assert caught.value.args[0] == f"securecookie: the value is too long: {len(request['cookie'])}"
    assert (caught.value.length, caught.value.limit) == (5868, 4096)


def test_oversize_encode_vector_uses_the_1_1_2_message() -> None:
    """Ensure that an oversize encode raises ValueTooLongError with 1.1.2's wording (S-1.7)."""
    request, response = calls("enc-err-oversize")[0]["request"], BY_ID["enc-err-oversize"]["expect"]
    assert response["error"] == "securecookie: the value is too long"  # Go 1.1.1, gob serializer
    codec = codec_for(request, "json")  # same 3200-character value; JSON is as long as gob
    with pytest.raises(ValueTooLongError) as caught:
        codec.encode(request["name"], request["values"])
    assert str(caught.value).startswith(f"{response['error']}: ")
    assert caught.value.length > caught.value.limit == 4096
    assert caught.value.args[0] == f"securecookie: the value is too long: {caught.value.length}"


@pytest.mark.parametrize(
    ("vector_id", "error_type"),
    [("enc-err-bad-block-key", BlockKeyError), ("enc-err-no-hash-key", HashKeyNotSetError)],
)
def test_key_error_vectors(vector_id: str, error_type: type[Exception]) -> None:
    """Ensure that Go's sticky key errors are raised at construction, with Go's text (S-1.6)."""
    request, response = calls(vector_id)[0]["request"], calls(vector_id)[0]["response"]
    assert go_error_type(response["error"]) is error_type
    with pytest.raises(error_type) as caught:
        SecureCookie(key(request["hash_key_hex"]) or b"", key(request["block_key_hex"]))
    assert caught.value.args[0] == response["error"]  # str() appends a hint (S-7.1)


def test_every_vector_is_accounted_for() -> None:
    """Ensure that each vector file is checked by a test above or listed with a reason."""
    checked = (
        set(ids("roundtrip"))
        | set(ids("decode"))
        | set(ids("decode_error"))
        | {"enc-err-oversize", "enc-err-bad-block-key", "enc-err-no-hash-key"}
    )
    assert set(GOB_FAILURES) <= checked
    assert checked.isdisjoint(NOT_COVERED)
    assert checked | set(NOT_COVERED) == set(BY_ID)
    assert len(BY_ID) == 68


# --------------------------------------------------------------------------
# gorilla-behaviour.md §1.9

HASH_KEY = b"0123456789abcdef0123456789abcdef"
AES_KEY = b"fedcba9876543210"
GOB_FOO_BAR = bytes.fromhex(
    "0eff81040102ff820001100110000020ff82000106737472696e670c050003666f6f06737472696e670c050003626172"
)
SECTION_1_9 = [
    (
        "gob-plain", "session", GOB_FOO_BAR, None,
        "MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQUlQLUNBQUVHYzNSeWFXNW5EQVVBQTJadmJ3WnpkSEpwYm1jTUJR"
        "QURZbUZ5fCVTCvmQitvBSmOSKuF24FRSXNb0qmo8_sNha-7VBeMj",
    ),
    (
        "gob-aes128", "session", GOB_FOO_BAR, AES_KEY,
        "MTcwMDAwMDAwMHxxcXFxcXFxcXFxcXFxcXFxcXFxcXFwcEhIV1p1dFRTa3BINUhxbTJ1elZobi1icnZ3ajhHR0s1X2E2"
        "M0VYT0ItenNvRlk3YXdPcjFyNDZRb3RHX0o3Zz09fH6l7UU2zjp8TW6mewuUykqTM6sfhU_4e2B2_bjBrtno",
    ),
    ("nop-raw", "session", b"raw", None,
     "MTcwMDAwMDAwMHxjbUYzfBf631lLD4IJDDESaNqhOpmGRx6ZvvxPnnboxAUPnYYo"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "name", "payload", "block_key", "cookie"), SECTION_1_9, ids=[c[0] for c in SECTION_1_9]
)
def test_section_1_9_vectors(
    case: str, name: str, payload: bytes, block_key: bytes | None, cookie: str
) -> None:
    """Ensure that the §1.9 cookies are reproduced byte for byte and read back (S-1.1, S-1.2)."""
    codec = SecureCookie(HASH_KEY, block_key, serializer=NopSerializer(), clock=clock_at(T0))
    codec._iv_source = fixed_iv(b"\xaa" * 16)
    assert codec.encode(name, payload) == cookie, case
    assert codec.decode(name, cookie) == payload


def test_section_1_9_json_vector() -> None:
    """Ensure that JSON output is Go's, HTML escapes and newline included (S-1.1, S-1.10)."""
    codec = SecureCookie(HASH_KEY, clock=clock_at(T0))
    value = {"a": "<b>&", "n": 1}
    assert JSONSerializer().serialize(value) == b'{"a":"\\u003cb\\u003e\\u0026","n":1}\n'
    cookie = codec.encode("session", value)
    assert cookie == (
        "MTcwMDAwMDAwMHxleUpoSWpvaVhIVXdNRE5qWWx4MU1EQXpaVngxTURBeU5pSXNJbTRpT2pGOUNnPT18"
        "OlivJXYl0jn5PMBRZc3hkGVA1Aduxyddbk2hjZyDwSg="
    )
    assert same_types(codec.decode("session", cookie), value)


def test_section_1_9_empty_encrypted_payload_cannot_be_decoded() -> None:
    """Ensure that an empty plaintext encrypts to Go's IV-only cookie, never decodable (S-1.3)."""
    codec = SecureCookie(HASH_KEY, AES_KEY, serializer=NopSerializer(), clock=clock_at(T0))
    codec._iv_source = fixed_iv(b"\xaa" * 16)
    cookie = codec.encode("n", b"")
    assert cookie == (
        "MTcwMDAwMDAwMHxxcXFxcXFxcXFxcXFxcXFxcXFxcXFnPT187fc_JFoRaYr9ep5vL4-UTeMdXEvc4MY9k1Ito5d3Q84="
    )
    with pytest.raises(DecryptionError, match=r"^securecookie: the value could not be decrypted$"):
        codec.decode("n", cookie)
