"""GobSerializer.deserialize on hostile input: DeserializeError and nothing else.

A stream that got past the MAC can still be hostile (a leaked key, a
compromised Go service, a session file edited on disk), so the decoder is
fuzzed with random bytes and with mutations of Go's own streams: bit flips,
truncations, insertions, deletions and inflated length prefixes. Crafted
streams then check the two resource promises: no length or count makes the
decoder allocate more than about the input's size, and no nesting makes it
recurse without bound.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_impl.gob import GobSerializer
from spec.errors import DecodeError, DeserializeError
from tests.reference_impl.test_gob import GOLDEN

GOB = GobSerializer()
FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "gorilla"


def _seeds() -> list[bytes]:
    """Go's streams: Appendix A plus every gob payload recorded in the vectors."""
    seeds = [bytes.fromhex(text) for text in GOLDEN.values()]
    for path in sorted(VECTOR_DIR.glob("[0-9][0-9][0-9]-*.json")):
        for call in json.loads(path.read_text(encoding="utf-8"))["calls"]:
            serialized = call["response"].get("parts", {}).get("serialized_hex")
            if serialized and not serialized.startswith("7b"):  # JSON payloads aside
                seeds.append(bytes.fromhex(serialized))
    return list(dict.fromkeys(seeds))


SEEDS = _seeds()
BIG_UINTS = [
    bytes.fromhex(h)
    for h in (
        "f8ffffffffffffffff",
        "f87fffffffffffffff",
        "fc7fffffff",
        "fd010000",
        "fe7fff",
        "ff80",
        "7f",
    )
]


def decodes_or_rejects(data: bytes) -> object:
    """Decode ``data``; only :class:`DeserializeError` may escape (it is returned)."""
    try:
        return GOB.deserialize(data)
    except DeserializeError as exc:
        caught = exc
    assert isinstance(caught, DecodeError)
    assert caught.detail, "errors must say what was wrong"
    return caught


def test_seeds_are_valid() -> None:
    """Ensure that every seed decodes, so the mutations start from real Go streams."""
    assert len(SEEDS) > 20
    for seed in SEEDS:
        assert not isinstance(decodes_or_rejects(seed), DeserializeError)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    """Ensure that arbitrary bytes decode or raise DeserializeError, nothing else."""
    decodes_or_rejects(data)


@FUZZ
@given(st.binary(max_size=300).map(lambda tail: bytes.fromhex(GOLDEN["flash"][:30]) + tail))
def test_random_bytes_after_a_valid_definition(data: bytes) -> None:
    """Ensure that random values after a real type definition are handled (deeper paths)."""
    decodes_or_rejects(data)


def mutate(draw: st.DrawFn, stream: bytes, most: int) -> bytes:
    """``stream`` with 1 to ``most`` drawn flips, cuts, insertions, deletions or inflations."""
    data = bytearray(stream)
    for _ in range(draw(st.integers(1, most))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "inflate", "byte"]))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[at:]
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif how == "inflate":
            data[at : at + 1] = draw(st.sampled_from(BIG_UINTS))
        else:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A Go stream with 1-4 mutations applied."""
    return mutate(draw, draw(st.sampled_from(SEEDS)), 4)


@FUZZ
@given(mutated())
def test_mutated_go_streams(data: bytes) -> None:
    """Ensure that flips, truncations, insertions and inflations never escape as other errors."""
    decodes_or_rejects(data)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_length_prefix_inflated(seed: int) -> None:
    """Ensure that replacing any single byte by a huge uint is rejected or harmless."""
    data = SEEDS[seed]
    for at in range(len(data)):
        for big in BIG_UINTS[:4]:
            decodes_or_rejects(data[:at] + big + data[at + 1 :])


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_truncation(seed: int) -> None:
    """Ensure that every prefix of a Go stream fails cleanly (or is complete)."""
    data = SEEDS[seed]
    for end in range(len(data)):
        decodes_or_rejects(data[:end])


# --------------------------------------------------------------------------
# Resources


# A tiny gob writer of our own (independent of the encoder under test).


def u(number: int) -> bytes:
    """A gob uint."""
    if number < 128:
        return bytes([number])
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return bytes([256 - len(raw)]) + raw


def i(number: int) -> bytes:
    """A gob int."""
    return u(number << 1 if number >= 0 else (~number << 1) | 1)


def text(value: str) -> bytes:
    """A gob string."""
    return u(len(value)) + value.encode()


def framed(body: bytes) -> bytes:
    """One message: length + body."""
    return u(len(body)) + body


def common(name: str, type_id: int) -> bytes:
    """CommonType{Name, Id}."""
    return (b"\x01" + text(name) + b"\x01" if name else b"\x02") + i(type_id) + b"\x00"


def slice_def(type_id: int, elem: int) -> bytes:
    """A definition message for a slice type."""
    return framed(i(-type_id) + b"\x02\x01" + common("", type_id) + b"\x01" + i(elem) + b"\x00\x00")


def map_def(type_id: int, key: int, elem: int) -> bytes:
    """A definition message for a map type."""
    return framed(
        i(-type_id)
        + b"\x04\x01"
        + common("", type_id)
        + b"\x01"
        + i(key)
        + b"\x01"
        + i(elem)
        + b"\x00\x00"
    )


def array_def(type_id: int, elem: int, length: int) -> bytes:
    """A definition message for an array type."""
    return framed(
        i(-type_id)
        + b"\x01\x01"
        + common("", type_id)
        + b"\x01"
        + i(elem)
        + b"\x01"
        + i(length)
        + b"\x00\x00"
    )


def struct_def(type_id: int, fields: list[tuple[str, int]], count: int | None = None) -> bytes:
    """A definition message for a struct type named T."""
    listed = b"".join(b"\x01" + text(name) + b"\x01" + i(kind) + b"\x00" for name, kind in fields)
    body = b"\x01" + u(len(fields) if count is None else count) + listed
    return framed(i(-type_id) + b"\x03\x01" + common("T", type_id) + body + b"\x00\x00")


def iface(name: str, type_id: int) -> bytes:
    """The head of an interface value: name, type id, (ignored) byte count."""
    return text(name) + i(type_id) + u(0)


SESSION = map_def(65, 8, 8)
KEY_X = iface("string", 6) + b"\x00" + text("x")
CRAFTED: dict[str, bytes] = {
    "message length 2**63": u(2**63 - 1) + b"\x00",
    "message length 8 GiB": u(1 << 33) + bytes(10),
    "slice count 2**62": slice_def(65, 8) + framed(i(65) + u(0) + u(2**62)),
    "map count 2**60": SESSION + framed(i(65) + u(0) + u(2**60)),
    "string length 2**40": SESSION + framed(i(65) + u(0) + u(1) + iface("string", 6)
                                            + u(0) + u(2**40)),
    "bytes length 2**32": SESSION + framed(i(65) + u(0) + u(1) + KEY_X + iface("[]uint8", 5)
                                           + u(0) + u(2**32)),
    "type name length 2**31": SESSION + framed(i(65) + u(0) + u(1) + u(2**31)),
    "type name of 1025 bytes": SESSION + framed(i(65) + u(0) + u(1) + text("a" * 1025)),
    "struct with 2**50 fields": struct_def(65, [], count=2**50),
    "array of length 2**60": array_def(65, 2, 2**60) + framed(i(65) + u(0) + u(2**60)),
    "uint of 9 bytes": SESSION + framed(i(65) + u(0) + b"\xf7" + bytes(9)),
    "duplicate type": SESSION + SESSION,
    "type id below 64": framed(i(-10) + b"\x04\x01" + common("", 10) + b"\x00\x00"),
    "recursive slice": slice_def(65, 65) + framed(i(65) + u(0) + u(0)),
    "mutually recursive slices": slice_def(65, 66) + slice_def(66, 65)
    + framed(i(65) + u(0) + u(0)),
    "recursive struct": struct_def(65, [("A", 65)]) + framed(i(65) + b"\x00"),
    "type chain deeper than the limit": b"".join(slice_def(65 + n, 66 + n) for n in range(100))
    + slice_def(165, 6) + framed(i(65) + u(0) + u(0)),
    "unknown type id": framed(i(70) + u(0)),
    "interface at the top": framed(i(8) + u(0)),
    "non-zero singleton delta": SESSION + framed(i(65) + u(5)),
    "struct field out of range": struct_def(65, [("A", 6)]) + framed(i(65) + u(5) + text("x")),
    "interface of interface type": SESSION + framed(i(65) + u(0) + u(1) + iface("x", 8)),
    "name and wire type disagree": SESSION + framed(i(65) + u(0) + u(1) + iface("string", 2)
                                                    + u(0) + u(0)),
    "map with slice keys": slice_def(66, 6) + map_def(65, 66, 6) + framed(i(65) + u(0) + u(0)),
    "extra data after a definition": framed(i(-65) + b"\x04\x01" + common("", 65) + b"\x01\x10"
                                            + b"\x01\x10\x00\x00" + b"\x05"),
}  # fmt: skip


#: Why each crafted stream must fail (a part of the error text).
REASONS = {
    "message length 2**63": "invalid message length",
    "message length 8 GiB": "invalid message length",
    "slice count 2**62": "cannot fit", "map count 2**60": "cannot fit",
    "string length 2**40": "too long for buffer", "bytes length 2**32": "too long for buffer",
    "type name length 2**31": "invalid type name length",
    "type name of 1025 bytes": "name too long",
    "struct with 2**50 fields": "cannot fit", "array of length 2**60": "cannot fit",
    "uint of 9 bytes": "out of range", "duplicate type": "duplicate type",
    "type id below 64": "duplicate type", "recursive slice": "recursive",
    "mutually recursive slices": "recursive", "recursive struct": "recursive",
    "type chain deeper than the limit": "too deeply nested", "unknown type id": "unknown type id",
    "interface at the top": "cannot start with an interface",
    "non-zero singleton delta": "non-zero delta", "struct field out of range": "out of bounds",
    "interface of interface type": "interface value of interface type",
    "name and wire type disagree": "string value sent as a int",
    "map with slice keys": "invalid map key type", "extra data after a definition": "extra data",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_streams_fail_fast_without_allocating(name: str) -> None:
    """Ensure that huge counts, lengths and bad definitions fail, for that reason, before any
    large allocation."""
    data = CRAFTED[name]
    tracemalloc.start()
    try:
        outcome = decodes_or_rejects(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(outcome, DeserializeError), name
    assert REASONS[name] in outcome.detail, outcome.detail
    assert peak < 64 * 1024 + 64 * len(data), (name, peak)


def nested_interfaces(depth: int) -> bytes:
    """A []interface{} holding a []interface{} holding ... ``depth`` levels deep."""
    level = iface("[]interface {}", 65) + u(0) + u(1)  # singleton marker, one element
    return slice_def(65, 8) + framed(i(65) + u(0) + u(1) + level * depth + u(0))


def test_nesting_is_limited_not_recursed_without_bound() -> None:
    """Ensure that deep nesting is read up to the limit and refused beyond (no RecursionError)."""
    shallow = GOB.deserialize(nested_interfaces(10))
    for _ in range(11):
        assert isinstance(shallow, list) and len(shallow) == 1
        shallow = shallow[0]
    assert shallow is None
    for depth in (100, 10_000, 200_000):
        outcome = decodes_or_rejects(nested_interfaces(depth))
        assert isinstance(outcome, DeserializeError)
        assert "nested too deeply" in outcome.detail


def test_amplification_is_linear() -> None:
    """Ensure that many empty structs of a wide type cost their size, not fields x structs."""
    wide = struct_def(65, [(f"F{n}", 6) for n in range(200)])
    count = 20_000
    stream = wide + slice_def(66, 65) + framed(i(66) + u(0) + u(count) + b"\x00" * count)
    tracemalloc.start()
    try:
        decoded = GOB.deserialize(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(decoded, list) and len(decoded) == count
    assert decoded[0]["F7"] == ""
    assert peak < 300 * len(stream), peak


@FUZZ
@given(mutated())
def test_decode_never_allocates_far_beyond_the_input(data: bytes) -> None:
    """Ensure that a mutated stream's decode stays within a small multiple of its size."""
    tracemalloc.start()
    try:
        decodes_or_rejects(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024 + 200 * len(data), peak


def test_error_texts_match_go_where_go_has_one() -> None:
    """Ensure that the errors Go's vectors show read the same here."""
    cases: dict[str, Callable[[], bytes]] = {
        "EOF": lambda: b"",
        "unexpected EOF": lambda: b"\xfe\xff",
        "gob: encoded unsigned integer out of range": lambda: b"\x02\xf0\x00",
        "gob: duplicate type received": lambda: SESSION + SESSION,
    }
    for text, make in cases.items():
        outcome = decodes_or_rejects(make())
        assert isinstance(outcome, DeserializeError) and outcome.detail == text, text
