"""The optional orjson accelerator writes and reads exactly what the pure path does (issue 19).

``sessionspec[fast]`` installs orjson; without it the JSON engine uses
pydantic-core and its own emitter. Cookies must be byte-identical either way
(Go reads them, S-1.10), and a cookie written by one must read the same with
the other, so every value here goes through both paths and the results,
bytes or error messages, are compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl._codec import json as engine
from spec.errors import DeserializeError, SerializeError

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**64), 2**64)
    | st.text()
    | st.sampled_from(["<&>", "\u2028\u2029", "\x00\x08\x0c\x1f\x7f", "$bytes", "$map", "é😀"])
    | st.floats(allow_nan=False)
    | st.binary(max_size=8)
)
_KEYS = st.text(max_size=6) | st.sampled_from(["$bytes", "$map", "a", "_flash"])
VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_KEYS, inner, max_size=4)
        | st.dictionaries(st.integers(-5, 5), inner, max_size=3)
    ),
    max_leaves=20,
)


def _pure() -> Iterator[None]:
    saved = engine._orjson
    engine._orjson = None
    try:
        yield
    finally:
        engine._orjson = saved


def _outcome(call: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", call(*args)  # type: ignore[operator]
    except (SerializeError, DeserializeError) as exc:
        return type(exc).__name__, str(exc)


def _both(call: object, *args: object) -> tuple[tuple[str, object], tuple[str, object]]:
    fast = _outcome(call, *args)
    for _ in _pure():
        pure = _outcome(call, *args)
    return fast, pure


def _same(a: object, b: object) -> bool:
    """Equal, with NaN-free floats compared by value and type (1 != 1.0 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)  # type: ignore[arg-type]
    return a == b


def test_orjson_is_used_when_installed() -> None:
    """The accelerator is on in this environment, so the comparisons below compare two paths."""
    assert engine._orjson is orjson


@settings(max_examples=600, deadline=None)
@given(VALUES)
def test_dumps_is_byte_identical_with_and_without_orjson(value: object) -> None:
    """S-1.10: the same bytes (or the same error) for any value, orjson or not."""
    fast, pure = _both(engine.dumps, value)
    assert fast == pure


@settings(max_examples=600, deadline=None)
@given(VALUES)
def test_loads_reads_the_same_values_with_and_without_orjson(value: object) -> None:
    """S-1.10: what we write reads back identically on both paths."""
    status, data = _outcome(engine.dumps, value)
    if status != "ok":
        return
    fast, pure = _both(engine.loads, data)
    assert fast[0] == pure[0]
    assert _same(fast[1], pure[1]) if fast[0] == "ok" else fast == pure


@pytest.mark.parametrize(
    "text",
    [
        b"123456789012345678901234567890",
        b"18446744073709551616",
        b"-9223372036854775809",
        b"[9223372036854775807, -9223372036854775808]",
        b"1e400",
        b"-1e400",
        b'{"a":1,"a":2}',
        b'"\\ud800"',
        b'"\\ud83d\\ude00"',
        b"-0.0",
        b"1E2",
        b" [1] \n",
        b'"\x7f"',
        b"0.1e-400",
        b"NaN",
        b"[1,]",
        b'{"$bytes":"AAE="}',
        b"\xff",
        b'"' + b"9" * 30 + b'"',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_loads_edge_cases_agree(text: bytes) -> None:
    """Big ints stay exact ints, out-of-range floats and bad text fail alike, tags untag."""
    fast, pure = _both(engine.loads, text)
    assert fast[0] == pure[0]
    assert _same(fast[1], pure[1]) if fast[0] == "ok" else fast == pure


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text() | st.floats(),
        lambda i: st.lists(i) | st.dictionaries(st.text(), i),
        max_leaves=15,
    )
)
def test_loads_agrees_on_any_json_text(value: object) -> None:
    """Text another writer produced (Python's json, with its escapes and spacing) reads alike."""
    text = json.dumps(value, allow_nan=True).encode()
    fast, pure = _both(engine.loads, text)
    assert fast[0] == pure[0]
    assert _same(fast[1], pure[1]) if fast[0] == "ok" else fast == pure
