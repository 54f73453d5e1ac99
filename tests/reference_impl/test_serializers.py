"""JSONSerializer and NopSerializer: Go-identical bytes, exact round trips, clear refusals."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl._codec import json as _json
from reference_impl.serializers import JSONSerializer, NopSerializer
from spec.errors import DeserializeError, EncodeError, SerializeError
from spec.protocols import Serializer
from tests.reference_impl._vectors import same_types

JSON = JSONSerializer()
dumps, loads = JSON.serialize, JSON.deserialize

# Produced by Go 1.19.8: json.NewEncoder(&buf).Encode(v), trailing newline dropped.
GO_FLOATS = [
    (0.0, b"0"), (-0.0, b"-0"), (1.0, b"1"), (3.0, b"3"), (-17.0, b"-17"), (0.1, b"0.1"),
    (1e-06, b"0.000001"), (9.99e-07, b"9.99e-7"), (1e-07, b"1e-7"), (1.5e-05, b"0.000015"),
    (1e16, b"10000000000000000"), (1e20, b"100000000000000000000"), (1e21, b"1e+21"),
    (1.7976931348623157e308, b"1.7976931348623157e+308"), (5e-324, b"5e-324"),
    (-2.5e-08, b"-2.5e-8"), (123456789.125, b"123456789.125"),
    (9007199254740992.0, b"9007199254740992"), (1e100, b"1e+100"), (1e-100, b"1e-100"),
    (1.234e-06, b"0.000001234"), (1 / 3, b"0.3333333333333333"), (-1e-07, b"-1e-7"),
    (1.5e300, b"1.5e+300"),
]  # fmt: skip
# Integral floats from 2**53 whose Go text is not their exact value: (value, Go's text, ours).
INEXACT_GO_FLOATS = [
    (9.223372036854776e18, b"9223372036854776000", b"9.223372036854776e+18"),
    (7.686425253337783e19, b"76864252533377830000", b"7.686425253337783e+19"),
    (-6.671809789846406e16, b"-66718097898464060", b"-6.671809789846406e+16"),
]
GO_STRINGS = [
    ("\x00", b'"\\u0000"'),
    ("\x08\x0c", b'"\\u0008\\u000c"'),
    ("\x1f\x7f", b'"\\u001f\x7f"'),
    ("<a href='x'>&amp;</a>", b"\"\\u003ca href='x'\\u003e\\u0026amp;\\u003c/a\\u003e\""),
    ("\u2028\u2029", b'"\\u2028\\u2029"'),
    ("é日🎉", b'"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89"'),
    ('"\\', b'"\\"\\\\"'),
    ("\\b\\f", b'"\\\\b\\\\f"'),
    ("\ufeff\ufffd", b'"\xef\xbb\xbf\xef\xbf\xbd"'),
    ("\n\r\t", b'"\\n\\r\\t"'),
    ("/", b'"/"'),
]

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
plain_leaves = st.none() | st.booleans() | st.integers() | texts
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
plain_json = st.recursive(
    plain_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
any_supported = st.recursive(
    plain_leaves | finite_floats | st.binary(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(texts | st.integers(), inner, max_size=4)
        | st.dictionaries(st.sampled_from(["$bytes", "$map", "$oid"]), inner, max_size=1)
    ),
    max_leaves=20,
)


def go_reference(value: Any) -> bytes:
    """Go's encoder for plain values, written from Go's rules independently of ``_json``."""
    if isinstance(value, dict):
        items = (go_reference(k) + b":" + go_reference(value[k]) for k in sorted(value))
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(go_reference(item) for item in value) + b"]"
    if isinstance(value, str):
        out = []
        for char in value:
            if char in '"\\':
                out.append("\\" + char)
            elif char in "\n\r\t":
                out.append(json.dumps(char)[1:-1])
            elif ord(char) < 0x20 or char in "<>&\u2028\u2029":
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(char)
        return ('"' + "".join(out) + '"').encode()
    return json.dumps(value).encode()  # None, bool, int


def integral_floats_as_ints(value: Any) -> Any:
    """What decoding gives back: an integral float written as an integer comes back as that int."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        as_int = int(Decimal(repr(value)))  # Go's digits
        return as_int if as_int == value else value
    if isinstance(value, dict):
        return {k: integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_floats_as_ints(v) for v in value]
    return value


# --------------------------------------------------------------------------
# Go's bytes


def test_serializers_satisfy_the_protocol() -> None:
    """Ensure that both serializers are ``Serializer``s (S-8)."""
    assert isinstance(JSONSerializer(), Serializer)
    assert isinstance(NopSerializer(), Serializer)
    assert repr(JSONSerializer()) == "JSONSerializer()"


@pytest.mark.parametrize(("number", "go_text"), GO_FLOATS)
def test_floats_are_written_as_go_writes_them(number: float, go_text: bytes) -> None:
    """Ensure that floats use Go's shortest form and exponent layout (S-1.10)."""
    assert dumps(number) == go_text + b"\n"
    assert dumps([number]) == b"[" + go_text + b"]\n"


@pytest.mark.parametrize(("text", "go_text"), GO_STRINGS)
def test_strings_are_escaped_as_go_1_19_escapes_them(text: str, go_text: bytes) -> None:
    """Ensure that HTML, U+2028/9 and control characters are escaped as Go 1.19 does (S-1.10)."""
    assert dumps(text) == go_text + b"\n"
    assert dumps({text: [text]}) == b"{" + go_text + b":[" + go_text + b"]}\n"
    assert loads(go_text) == text


def test_layout_is_go_encoders() -> None:
    """Ensure sorted keys, no spaces and a trailing newline, exactly as json.Encoder (S-1.10)."""
    value = {"b": [1, True, None], "a": {"y": "z", "x": ""}, "é": 0, "Z": -5}
    assert dumps(value) == b'{"Z":-5,"a":{"x":"","y":"z"},"b":[1,true,null],"\xc3\xa9":0}\n'
    assert dumps({}) == b"{}\n" and dumps([]) == b"[]\n" and dumps("") == b'""\n'


@settings(max_examples=150, deadline=None)
@given(plain_json)
def test_plain_values_match_an_independent_go_model(value: Any) -> None:
    """Ensure that any plain value's bytes equal Go's encoder modelled from its rules (S-1.10)."""
    assert dumps(value) == go_reference(value) + b"\n"


@settings(max_examples=150, deadline=None)
@given(plain_json | any_supported)
def test_fast_and_general_writers_agree(value: Any) -> None:
    """Ensure that the pydantic-core fast path writes what the general emitter writes (S-1.10)."""
    fast = dumps(value)
    with mock.patch.object(_json, "_sorted_copy", side_effect=_json._NotPlain):
        general = dumps(value)
    assert fast == general


@settings(max_examples=150, deadline=None)
@given(plain_json | any_supported)
def test_fast_and_general_readers_agree(value: Any) -> None:
    """Ensure that the pydantic-core fast path reads what the stdlib scanner reads (S-1.10)."""
    data = dumps(value)
    fast = loads(data)
    with mock.patch.object(_json, "from_json", side_effect=ValueError):
        general = loads(data)
    assert same_types(fast, general)


# --------------------------------------------------------------------------
# Round trips and tags


@settings(max_examples=200, deadline=None)
@given(any_supported)
def test_round_trip_is_exact(value: Any) -> None:
    """Ensure None, bool, int, float, str, bytes, lists and dicts all come back (S-1.10)."""
    back = loads(dumps(value))
    assert same_types(back, integral_floats_as_ints(value))


@pytest.mark.parametrize(("number", "go_text", "ours"), INEXACT_GO_FLOATS)
def test_floats_whose_go_text_would_change_value_use_exponent_form(
    number: float, go_text: bytes, ours: bytes
) -> None:
    """Ensure no float is written as an integer that reads back as another number (S-1.10)."""
    assert int(go_text) != number  # Go's bytes would come back as a different value
    assert dumps(number) == ours + b"\n"
    assert float(ours) == number  # Go reads our text as the same float64
    assert same_types(loads(dumps(number)), number)


@settings(max_examples=300, deadline=None)
@given(finite_floats)
def test_every_float_comes_back_equal(number: float) -> None:
    """Ensure any finite float reads back ``==`` (an int only when that int is exact) (S-1.10)."""
    back = loads(dumps(number))
    assert back == number
    assert isinstance(back, float) or (number.is_integer() and abs(number) < 1e21)


def test_integral_floats_come_back_as_equal_ints() -> None:
    """Ensure Go's format limit is documented behaviour: 3.0 is written "3", read as 3 (S-1.10)."""
    values = [3.0, -0.0, 1e20, 2.0**53, 0.5, 1e21, 7.686425253337783e19]
    back = loads(dumps(values))
    assert same_types(back, [3, 0, 10**20, 2**53, 0.5, 1e21, 7.686425253337783e19])


def test_ints_up_to_the_digit_limit_round_trip() -> None:
    """Ensure ints of up to 4300 digits, past str()'s own limit if lowered, come back (S-1.10)."""
    assert _json.MAX_INT_DIGITS == 4300
    largest = 10**_json.MAX_INT_DIGITS - 1
    for number in (largest, -largest, -(7**5000), 10**4299):
        data = dumps({"n": number, "k": [number], "m": {number: 1}})
        assert loads(data) == {"k": [number], "m": {number: 1}, "n": number}
    limit = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(640)  # an application that lowered CPython's limit
        assert loads(dumps([largest])) == [largest]
        general = [-largest, b"x"]  # bytes: the general writer, slice by slice
        assert loads(dumps(general)) == general
    finally:
        sys.set_int_max_str_digits(limit)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=-(10**_json.MAX_INT_DIGITS) + 1, max_value=10**_json.MAX_INT_DIGITS - 1)
)
def test_every_int_under_the_limit_round_trips(number: int) -> None:
    """Ensure any int of at most MAX_INT_DIGITS digits is written and read back exactly (S-1.10)."""
    assert same_types(loads(dumps([number, {number: number}])), [number, {number: number}])


def test_the_spec_states_the_digit_limit() -> None:
    """Ensure S-1.10 names the limit the code enforces, so users can rely on the figure."""
    spec = (Path(__file__).parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
    clause = spec[spec.index("**S-1.10**") : spec.index("**S-1.11**")]
    assert f"{_json.MAX_INT_DIGITS} decimal digits" in " ".join(clause.split())
    assert f"more than {_json.MAX_INT_DIGITS} digits" in " ".join(clause.split())


@pytest.mark.parametrize(
    "make",
    [
        lambda: 10**_json.MAX_INT_DIGITS,
        lambda: -(10**_json.MAX_INT_DIGITS),
        lambda: 7**100_000,
    ],
)
@pytest.mark.parametrize("where", ["value", "list", "key"])
def test_ints_past_the_limit_are_refused_on_write(make: Callable[[], int], where: str) -> None:
    """Ensure what the reader would refuse is never written: SerializeError, path and type."""
    number = make()
    value = (
        {"n": number}
        if where == "value"
        else {"l": [1, number]}
        if where == "list"
        else {"m": {number: 1}}
    )
    path = {"value": "values['n']", "list": "values['l'][1]", "key": "values['m'] key"}[where]
    with pytest.raises(SerializeError) as caught:
        dumps(value)
    assert (caught.value.path, caught.value.type_name) == (path, "int")
    assert "more than 4300 digits" in caught.value.detail


@pytest.mark.parametrize(
    "text",
    [
        b"1" * (_json.MAX_INT_DIGITS + 1),
        b"-" + b"9" * (_json.MAX_INT_DIGITS + 1),
        b'{"n":[' + b"7" * 1_000_000 + b"]}",  # 21 s of quadratic conversion before the limit
        b'{"$map":[[' + b"5" * 1_000_000 + b',"x"]]}',
    ],
    ids=["limit+1", "negative", "million-digits", "million-digit-key"],
)
def test_ints_past_the_limit_are_refused_on_read(text: bytes) -> None:
    """Ensure a number longer than the limit is a DeserializeError, not 21 s of CPU (S-1.10).

    Only a peer holding the hash key can get such a payload past the MAC; the
    length is checked before any conversion, so the refusal is cheap.
    """
    with pytest.raises(DeserializeError, match="more than 4300 digits"):
        loads(text)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (b"\x00\x01\x02", b'{"$bytes":"AAEC"}'),
        ({42: 43}, b'{"$map":[[42,43]]}'),
        (
            {"b": 1, 2: "x", -5: None, "a": [b""]},
            b'{"$map":[[-5,null],[2,"x"],["a",[{"$bytes":""}]],["b",1]]}',
        ),
        ({"$bytes": "AAEC"}, b'{"$map":[["$bytes","AAEC"]]}'),
        ({"$map": []}, b'{"$map":[["$map",[]]]}'),
        ({"cart": {1: {"sku": "A1"}}}, b'{"cart":{"$map":[[1,{"sku":"A1"}]]}}'),
    ],
)  # fmt: skip
def test_tagging_scheme(value: object, wire: bytes) -> None:
    """Ensure bytes, int-keyed and tag-like dicts are tagged as documented (S-1.10)."""
    assert dumps(value) == wire + b"\n"
    assert same_types(loads(wire), value)


def test_tag_like_keys_of_go_data_stay_plain() -> None:
    """Ensure only well-formed tags are untagged; other one-key "$" objects stay dicts (S-1.10)."""
    assert dumps({"$oid": "x"}) == b'{"$oid":"x"}\n'  # Go's own bytes for this value
    for text in [
        b'{"$oid":"x"}',
        b'{"$bytes":"not base64!"}',
        b'{"$bytes":"AAF="}',  # not canonical base64 (non-zero unused bits)
        b'{"$bytes":5}',
        b'{"$map":[[true,1]]}',
        b'{"$map":[[1,2,3]]}',
        b'{"$map":{"a":1}}',
        b'{"$bytes":"AAEC","x":1}',
    ]:
        assert loads(text) == json.loads(text), text
    assert loads(b'{"\\u0024bytes":"AAEC"}') == b"\x00\x01\x02"


# --------------------------------------------------------------------------
# Refusals


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    LOW = 1


def _cycle_list() -> list[object]:
    items: list[object] = [1]
    items.append(items)
    return items


def _cycle_dict() -> dict[str, object]:
    mapping: dict[str, object] = {}
    mapping["me"] = {"again": mapping}
    return mapping


UNSUPPORTED: list[tuple[Callable[[], object], str, str, str]] = [
    (lambda: (1, 2), "values", "tuple", "json: unsupported type: tuple"),
    (lambda: {"cart": [1, 2, {3}]}, "values['cart'][2]", "set", "json: unsupported type: set"),
    (lambda: {"when": datetime.date(2024, 1, 1)}, "values['when']", "datetime.date", "date"),
    (lambda: [frozenset()], "values[0]", "frozenset", "frozenset"),
    (lambda: {"x": object()}, "values['x']", "object", "object"),
    (lambda: {"b": bytearray(b"x")}, "values['b']", "bytearray", "bytearray"),
    (lambda: {"d": decimal.Decimal(1)}, "values['d']", "decimal.Decimal", "Decimal"),
    (lambda: {"c": 1j}, "values['c']", "complex", "complex"),
    (lambda: {"e": Color.RED}, "values['e']", f"{__name__}.Color", "Color"),
    (lambda: {"e": Level.LOW}, "values['e']", f"{__name__}.Level", "Level"),
    (lambda: collections.OrderedDict(a=1), "values", "collections.OrderedDict", "OrderedDict"),
    (lambda: {42: {"x": (1,)}}, "values[42]['x']", "tuple", "tuple"),
    (lambda: {"f": float("nan")}, "values['f']", "float", "json: unsupported value: NaN"),
    (lambda: [float("inf")], "values[0]", "float", "json: unsupported value: +Inf"),
    (lambda: [-float("inf")], "values[0]", "float", "json: unsupported value: -Inf"),
    (lambda: {True: 1}, "values", "bool", "json: unsupported map key type: bool (key True)"),
    (lambda: {"a": {1.5: 1}}, "values['a']", "float", "map key type: float (key 1.5)"),
    (lambda: {None: 1, "a": 2}, "values", "NoneType", "map key type: NoneType"),
    (lambda: {(1, 2): 1}, "values", "tuple", "map key type: tuple (key (1, 2))"),
    (lambda: {"s": "\ud800"}, "values['s']", "str", "json: lone surrogate U+D800 in string"),
    (lambda: {"\udfff": 1}, "values key '\\udfff'", "str", "lone surrogate U+DFFF"),
    (_cycle_list, "values[1]", "list", "json: unsupported value: encountered a cycle"),
    (_cycle_dict, "values['me']['again']", "dict", "encountered a cycle"),
]


@pytest.mark.parametrize(("make", "path", "type_name", "detail"), UNSUPPORTED)
def test_unsupported_values_raise_with_path_and_type(
    make: Callable[[], object], path: str, type_name: str, detail: str
) -> None:
    """Ensure anything JSON cannot carry exactly is refused, naming path and type (S-1.10)."""
    with pytest.raises(SerializeError) as caught:
        dumps(make())
    error = caught.value
    assert (error.path, error.type_name) == (path, type_name)
    assert detail in error.detail and error.detail.endswith(f" at {path}")
    assert str(error) == "securecookie: error - caused by: securecookie: error - caused by: " + (
        error.detail
    )
    assert isinstance(error, EncodeError) and isinstance(error, TypeError)


def test_too_deep_value_raises_serialize_error() -> None:
    """Ensure nesting past the recursion limit is a SerializeError, not RecursionError (S-1.10)."""
    deep: list[object] = []
    for _ in range(sys.getrecursionlimit() + 100):
        deep = [deep]
    with pytest.raises(SerializeError, match=r"nested too deeply at values$"):
        dumps(deep)


# --------------------------------------------------------------------------
# Reading


def test_reads_what_go_writes() -> None:
    """Ensure Go's escapes, newline and number forms are read; integral text gives ints (S-1.10)."""
    go = b'{"a":"\\u003cb\\u003e\\u0026\\u2028","f":[0.1,1e+21,-2.5e-8,3,-0],"n":null}\n'
    assert same_types(loads(go), {"a": "<b>&\u2028", "f": [0.1, 1e21, -2.5e-8, 3, 0], "n": None})
    assert same_types(loads(b" \t\r\n[1.0, 1E2, 1e-400] \r\n"), [1.0, 100.0, 0.0])
    assert loads(b'"\\ud83c\\udf89"') == "🎉"
    nested = b"[" * 300 + b"]" * 300  # deeper than pydantic-core's parser allows
    assert isinstance(loads(nested), list)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "expecting a value|Expecting value"),
        (b'{"a":1} x', "after the value|Extra data"),
        (b'{"a":1}\x0c', "after the value|Extra data"),
        (b"\xef\xbb\xbf{}", "Expecting value"),
        (b"[NaN]", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b"[-Infinity]", "Infinity"),
        (b"[1e400]", "does not fit a float64"),
        (b"[-1E+309]", "does not fit a float64"),
        (b"[" + b"9" * 400 + b".5]", "does not fit a float64"),
        (b'["\xff"]', "invalid UTF-8 at byte 2"),
        (b'["\\ud800"]', "lone surrogate"),
        (b'{"a":"x\\udc00"}', "lone surrogate"),
        (b'["a\tb"]', "control character|Invalid control character"),
        (b"[" * 100_000, "nested too deeply"),
        (b"[01]", "delimiter"),
    ],
)
def test_malformed_json_raises_deserialize_error(data: bytes, reason: str) -> None:
    """Ensure anything but exactly one JSON value that Go could read is refused (S-1.10)."""
    with pytest.raises(DeserializeError) as caught:
        loads(data)
    assert re.search(reason, caught.value.detail), caught.value.detail
    assert str(caught.value).startswith("securecookie: error - caused by: securecookie: error")


# --------------------------------------------------------------------------
# NopSerializer


def test_nop_passes_bytes_through() -> None:
    """Ensure bytes go through unchanged in both directions (S-1.11)."""
    nop = NopSerializer()
    assert nop.serialize(b"\x00raw\xff") == b"\x00raw\xff"
    assert nop.deserialize(b"\x00raw\xff") == b"\x00raw\xff"

    class Sub(bytes):
        pass

    assert type(nop.serialize(Sub(b"x"))) is bytes
    assert repr(nop) == "NopSerializer()"


@pytest.mark.parametrize("value", ["raw", bytearray(b"x"), memoryview(b"x"), None, 1, [b"x"]])
def test_nop_refuses_anything_but_bytes(value: object) -> None:
    """Ensure non-bytes values are refused with gorilla's text, not converted (S-1.11)."""
    with pytest.raises(SerializeError) as caught:
        NopSerializer().serialize(value)
    assert caught.value.detail == "value not a []byte."
    assert caught.value.type_name == type(value).__qualname__
