"""The precompiled codec of flat sessions against the general gob encoder and decoder.

``reference_impl.gob._flat`` writes and reads a session map of scalars
without the general machinery. It must never change a byte or a value: it
either gives exactly what the general path gives (which the vectors and
the Go interop tests pin to Go), or gives up (``None``) and leaves the
input to the general path, errors included.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reference_impl.gob import (
    Complex64,
    Float32,
    GobSerializer,
    GoList,
    GoTime,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    _flat,
)
from reference_impl.gob._decode import GobDecodeError, decode, decode_general
from reference_impl.gob._encode import GobEncodeError, encode, encode_general
from reference_impl.gob._typedefs import write_uint
from tests.reference_impl.test_gob import GOLDEN
from tests.reference_impl.test_gob_hostile import BIG_UINTS, SEEDS, mutate

FLAT = {
    "user_id": 42,
    "username": "alice",
    "csrf": "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
    "admin": True,
    "lang": "en",
    "visits": 17,
}
FIRST_IDS = st.sampled_from([65, 66, 100, 127, 128, 1000, 70_000, (1 << 31) - 1])
FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalar_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**65)  # past both ends: the general path decides
    | st.integers(-200, 200)
    | st.text(max_size=3)
    | st.text(min_size=120, max_size=300)  # one- and two-byte lengths
    | st.text(alphabet=st.sampled_from(["\ud800", "\udc80", "\udcff", "a", "é"]), max_size=6)
    | st.binary(max_size=140)
    | st.floats()
    | st.builds(Float32, st.floats(width=32))
    | st.builds(Int8, st.integers(-128, 127))
    | st.builds(Int16, st.integers(-(2**15), 2**15 - 1))
    | st.builds(Int32, st.integers(-(2**31), 2**31 - 1))
    | st.builds(Int64, st.integers(-(2**63), 2**63 - 1))
    | st.builds(Uint, st.integers(0, 2**64 - 1))
    | st.builds(Uint8, st.integers(0, 255))
    | st.builds(Uint16, st.integers(0, 2**16 - 1))
    | st.builds(Uint32, st.integers(0, 2**32 - 1))
    | st.builds(Uint64, st.integers(0, 2**64 - 1))
    | st.builds(Uintptr, st.integers(0, 2**64 - 1))
)
#: Values the fast path leaves to the general one.
other_values = (
    st.builds(Complex64, st.complex_numbers(width=64, allow_nan=False))
    | st.complex_numbers(allow_nan=False)
    | st.builds(GoTime, st.integers(-(2**40), 2**40), st.integers(0, 999_999_999), st.none())
    | st.lists(st.integers(), max_size=2)
    | st.lists(st.text(max_size=2), max_size=2).map(lambda x: GoList("[]string", x))
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
    | st.just(())
    | st.just(bytearray(b"x"))
)
keys = st.text(max_size=8) | st.integers(-(2**64), 2**64) | scalar_values


def shape(value: object) -> object:
    """A value with every type spelled out and NaN comparable, for exact comparisons."""
    if isinstance(value, dict):
        return [(shape(k), shape(v)) for k, v in value.items()]
    if isinstance(value, float) and math.isnan(value):
        return (type(value), "nan")
    return (type(value), value)


def general_encoding(value: object, first_type_id: int) -> bytes | type[GobEncodeError]:
    try:
        return encode_general(value, first_type_id)
    except GobEncodeError:
        return GobEncodeError


def general_decoding(data: bytes) -> object:
    try:
        return shape(decode_general(data))
    except GobDecodeError:
        return GobDecodeError


def check_decoding(data: bytes) -> object:
    """Ensure that the fast decoder gives up or reads what the general decoder reads."""
    fast = _flat.decode_flat(data)
    if fast is not None:
        assert shape(fast) == general_decoding(data)
    return fast


# --------------------------------------------------------------------------
# Encoding


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, scalar_values, max_size=6), FIRST_IDS)
def test_flat_encoding_is_the_general_encoding(session: dict[Any, Any], first: int) -> None:
    """Ensure that a session of scalars is written byte for byte as the general encoder does."""
    fast = _flat.encode_flat(session, first)
    general = general_encoding(session, first)
    if fast is not None:
        assert fast == general
    assert encode(session, first) == general if general is not GobEncodeError else True


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), scalar_values, max_size=4),
    st.text(max_size=4),
    other_values,
)
def test_other_values_take_the_general_path(
    session: dict[Any, Any], key: str, other: object
) -> None:
    """Ensure that one value the fast path does not handle hands the whole map over."""
    session[key] = other
    assert _flat.encode_flat(session, 65) is None


def test_the_fast_path_takes_typical_sessions() -> None:
    """Ensure that plain sessions do not fall back (else the speed-up is lost, not the bytes)."""
    sessions = [
        {},
        FLAT,
        {1: "a", None: None, "f": 1.5, "b": b"\x00" * 200, "i": Int64(-5), "u": Uint64(2**64 - 1)},
        {"long": "x" * 5000, "big": 2**62, "neg": -(2**63), "t": False},
    ]
    for session in sessions:
        stream = _flat.encode_flat(session, 65)
        assert stream is not None and stream == encode_general(session, 65)
        back = _flat.decode_flat(stream)
        assert back is not None and shape(back) == shape(decode_general(stream))


def test_refusals_are_still_the_general_ones() -> None:
    """Ensure that what Go cannot receive raises the general path's errors, path included."""
    gob = GobSerializer()
    for session, path in (
        ({"n": 2**64}, "values['n']"),
        ({"s": "\ud800"}, "values['s']"),
        ({b"k": 1}, "values[b'k']"),
        ({"ok": 1, "bad": object()}, "values['bad']"),
    ):
        with pytest.raises(Exception, match=r"at values") as caught:
            gob.serialize(session)
        assert getattr(caught.value, "path", None) == path


def test_key_frame_cache_is_bounded() -> None:
    """Ensure that a program writing ever new keys cannot grow the key cache without bound."""
    for n in range(_flat._KEY_FRAMES_LIMIT + 50):
        session = {f"key-{n}": n, "k" * (_flat._KEY_MAX_CHARS + 1) + str(n): 1}
        assert encode(session) == encode_general(session)
    assert len(_flat._KEY_FRAMES) <= _flat._KEY_FRAMES_LIMIT
    assert all(len(key) <= _flat._KEY_MAX_CHARS for key in _flat._KEY_FRAMES)


# --------------------------------------------------------------------------
# Decoding


def test_go_streams_read_as_before() -> None:
    """Ensure that every Go-written seed reads the same, and Go's flat one takes the fast path."""
    for seed in SEEDS:
        check_decoding(seed)
    mixed = bytes.fromhex(GOLDEN["mixed"])  # Go: uint64, int, bool, float64, strings
    assert check_decoding(mixed) is not None


@given(st.dictionaries(keys, scalar_values, max_size=6), FIRST_IDS)
@settings(max_examples=300, deadline=None)
def test_flat_decoding_is_the_general_decoding(session: dict[Any, Any], first: int) -> None:
    """Ensure that sessions of scalars read back the same through either path."""
    try:
        stream = encode_general(session, first)
    except GobEncodeError:
        stream = b""  # a value gob cannot write (an int past 64 bits): nothing to read
    assume(stream)
    check_decoding(stream)
    assert shape(decode(stream)) == shape(decode_general(stream))


@st.composite
def mutated_flat(draw: st.DrawFn) -> bytes:
    """A flat session's stream with 1-3 mutations applied."""
    session = draw(st.dictionaries(st.text(max_size=4), scalar_values, max_size=4))
    try:
        data = bytearray(encode_general(session, draw(FIRST_IDS)))
    except GobEncodeError:
        data = bytearray(encode_general(FLAT))
    return mutate(draw, bytes(data), 3)


@FUZZ
@given(mutated_flat())
def test_mutated_flat_streams(data: bytes) -> None:
    """Ensure that on damaged input the fast decoder reads as the general one does, or gives up."""
    check_decoding(data)


@FUZZ
@given(st.binary(max_size=200).map(lambda tail: encode_general({}, 65)[:15] + tail))
def test_random_values_after_the_session_definition(data: bytes) -> None:
    """Ensure that random value messages after a real definition never fool the fast decoder."""
    check_decoding(data)


def test_every_byte_of_a_flat_stream_inflated() -> None:
    """Ensure that replacing any byte by a long uint is read as in general, or given up."""
    data = encode_general(dict(FLAT, f=1.25, b=b"xy", i=Int64(-3), u=Uint64(9), n=None))
    for at in range(len(data)):
        for big in BIG_UINTS:
            check_decoding(data[:at] + big + data[at + 1 :])
        check_decoding(data[:at])


def test_repeated_keys_are_left_to_the_general_path() -> None:
    """Ensure that keys Python merges (or Go repeats) are never decided by the fast path."""
    one = encode_general({"a": 1, "b": 2})
    # The second key's name becomes "a" too: a repeated key, which Go lets win.
    repeated = one.replace(b"\x01b", b"\x01a")
    assert _flat.decode_flat(repeated) is None and decode(repeated) == {"a": 2}
    # Go's int 1 and int64 1 are two keys; in Python they are one.
    head, start = _flat.flat_heads(65)
    body = (
        start
        + b"\x02"
        + b"".join(_flat._any_frame(value) or b"" for value in (1, "int", Int64(1), "int64"))
    )
    merged = head + bytes([len(body)]) + body
    assert _flat.decode_flat(merged) is None
    with pytest.raises(GobDecodeError, match="differ in Go but are equal in Python"):
        decode(merged)


def test_definition_cache_is_bounded_and_only_learns_real_definitions() -> None:
    """Ensure that junk first messages never enter the definition cache."""
    before = dict(_flat._STARTS)
    for first in range(64, 64 + 2 * _flat._STARTS_LIMIT):
        stream = encode_general(FLAT, first)
        assert check_decoding(stream) is not None
        junk = bytearray(stream)
        junk[3] ^= 0x40
        assert _flat.decode_flat(bytes(junk)) is None
    assert len(_flat._STARTS) <= _flat._STARTS_LIMIT
    assert all(_flat._STARTS[key] == value for key, value in before.items())


@pytest.mark.parametrize("size", [*range(0, 4), *range(120, 132), 250, 255, 256, 257, 70_000])
def test_length_boundaries(size: int) -> None:
    """Ensure that strings and bytes around the one-byte length limits are written as in general."""
    session = {"k" * min(size, 300): "v" * size, "b": b"\xff" * size, "é" * (size // 2): size}
    for first in (65, 1000):
        stream = _flat.encode_flat(session, first)
        assert stream is not None and stream == encode_general(session, first)
        assert shape(check_decoding(stream)) == shape(session)


@pytest.mark.parametrize("extra", [1, 2, 5, 100])
@pytest.mark.parametrize("kind", ["string", "[]uint8"])
@pytest.mark.parametrize("length", [3, 200])
@pytest.mark.parametrize("cut", [True, False])
def test_a_value_running_past_its_message(extra: int, kind: str, length: int, cut: bool) -> None:
    """Ensure that a frame claiming more bytes than its message holds is not read.

    ``cut``: the frame of a longer value, cut short (its byte count agrees
    with its length); else only the length claims more.
    """
    raw = b"a" * length
    value = raw.decode() if kind == "string" else raw
    good = encode_general({"k": value})
    frame = _flat._any_frame(value)
    assert frame is not None and good.endswith(frame)
    if cut:
        longer = _flat._any_frame(value + value[:1] * extra)
        assert longer is not None
        claim = longer[:-extra]
    else:
        claim = _flat._frame(frame[: len(kind) + 2], write_uint(length + extra) + raw)
    # The message length is rewritten to cover the frame as it now stands.
    body = good[good.index(b"\xff\x82", 15) : -len(frame)] + claim
    stream = good[:15] + write_uint(len(body)) + body
    assert _flat.decode_flat(stream) is None
    with pytest.raises(GobDecodeError):
        decode(stream)
    # The same with bytes after the message: they are not part of the value either.
    assert _flat.decode_flat(stream + b"x" * extra) is None
