"""GobSerializer: Go's exact bytes, the Python<->Go type mapping, and clear refusals.

Byte strings marked "Go" were written by Go 1.19.8's encoding/gob
(``docs``' reference, §4.7 and Appendix A of gorilla-behaviour.md).
"""

from __future__ import annotations

import copy
import datetime
import math
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.cookie_store import CookieStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.gob import (
    Complex64,
    Float32,
    GobSerializer,
    GoList,
    GoMap,
    GoStruct,
    GoTime,
    GoType,
    GoValue,
    Int8,
    Int16,
    Int32,
    Int64,
    Kind,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    parse_type,
)
from reference_impl.serializers import GobSerializer as ReExported
from spec.errors import ConfigurationError, DeserializeError, SerializeError
from spec.http import RecordingResponse, SimpleRequest
from tests.interop.goracle import PERSON, canonical, to_typed

GOB = GobSerializer()
MAP_DEF = "0eff81040102ff8200011001100000"  # Go: definition of map[interface{}]interface{}
GOLDEN = {  # Appendix A: Go-written session maps
    "flash": MAP_DEF
    + "30ff82000106737472696e670c0800065f666c6173680e5b5d696e74657266616365207b7dff83020102"
    + "ff8400011000001dff841a000206737472696e670c07000568656c6c6f03696e740402000e",
    "deep": MAP_DEF
    + "2bff82000106737472696e670c030001730e5b5d696e74657266616365207b7dff83020102ff84000110"
    + "0000ffa6ff84280001176d61705b737472696e675d696e74657266616365207b7dff85040102ff860001"
    + "0c011000007aff8677000101610e5b5d696e74657266616365207b7dff8461000205696e743634040200"
    + "021d6d61705b696e74657266616365207b7d5d696e74657266616365207b7dff8234000205696e743634"
    + "0402000907666c6f61743634080400fe044006737472696e670c03000178075b5d75696e74380a040002"
    + "6869",
    "person": MAP_DEF
    + "4cff82000206737472696e670c030001700c2a6d61696e2e506572736f6eff8703010106506572736f6e"
    + "01ff8800010301044e616d65010c00010341676501040001045461677301ff8a00000016ff8902010108"
    + "5b5d737472696e6701ff8a00010c000032ff88090102416c020101780006737472696e670c0300017409"
    + "74696d652e54696d65ff8b0501010454696d6501ff8c00000014ff8c11000f010000000edd2574250000"
    + "0006ffff",
    "mixed": MAP_DEF
    + "79ff82000506737472696e670c0300016e0006737472696e670c030001750675696e743634060a00f880"
    + "0000000000000006737472696e670c0500036e656703696e74040400fe010103696e740402005404626f"
    + "6f6c0202000106737472696e670c0300016607666c6f61743634080a00f81f85eb51b81e0940",
}  # fmt: skip


def golden(name: str) -> bytes:
    """An Appendix A stream."""
    return bytes.fromhex(GOLDEN[name])


def interface_names(stream: bytes) -> list[str]:
    """The Go type names of the interface values in ``stream`` (as gob spells them)."""
    known = [
        "[]interface {}",
        "map[string]interface {}",
        "map[interface {}]interface {}",
        "time.Time",
        "complex128",
        "complex64",
        "float64",
        "float32",
        "[]uint8",
        "string",
        "uint64",
        "uint32",
        "uint16",
        "uint8",
        "uintptr",
        "uint",
        "int64",
        "int32",
        "int16",
        "int8",
        "int",
        "bool",
        "[]string",
        "[]int64",
    ]
    found = []
    for name in known:
        if bytes([len(name)]) + name.encode() in stream:
            found.append(name)
    return found


# --------------------------------------------------------------------------
# Go's bytes


def test_reexported_from_serializers() -> None:
    """Ensure that the serializer is importable next to the JSON one."""
    assert ReExported is GobSerializer
    assert repr(GOB) == "GobSerializer()"
    assert repr(GobSerializer(first_type_id=72)) == "GobSerializer(first_type_id=72)"


def test_golden_streams_decode_with_their_go_types() -> None:
    """Ensure that Appendix A decodes: mid-message definitions, structs, time, uint64, nil."""
    assert GOB.deserialize(golden("flash")) == {"_flash": ["hello", 7]}
    deep = GOB.deserialize(golden("deep"))
    inner = deep["s"][0]["a"]  # type: ignore[index]
    assert type(inner[0]) is Int64 and inner[0] == 1
    assert type(inner[1]) is GoMap and inner[1].go_type == "map[interface {}]interface {}"
    assert inner[1] == {Int64(-5): 2.5, "x": b"hi"} and type(next(iter(inner[1]))) is Int64
    person = GOB.deserialize(golden("person"))
    assert isinstance(person, dict)
    al = person["p"]
    assert isinstance(al, GoStruct) and al.go_type == "*main.Person"
    assert dict(al) == {"Name": "Al", "Age": 0, "Tags": ["x"]}
    assert [name for name, _ in al.wire_type.fields] == ["Name", "Age", "Tags"]
    assert person["t"] == GoTime(1704164645, 6, None)
    assert person["t"].to_datetime() == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    mixed = GOB.deserialize(golden("mixed"))
    assert mixed == {42: True, "f": 3.14, "n": None, "u": 2**63, "neg": -129}
    assert isinstance(mixed, dict) and type(mixed["u"]) is Uint64 and type(mixed["neg"]) is int


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_streams_reencode_to_go_bytes(name: str) -> None:
    """Ensure that re-encoding keeps every Go type and, from a fresh process, Go's exact bytes.

    ``person`` was written by a Go process that had used three other types
    first (its Person is type 68), so only its values are compared.
    """
    decoded = GOB.deserialize(golden(name))
    again = GOB.serialize(decoded)
    assert canonical(to_typed(GOB.deserialize(again), top=True)) == canonical(
        to_typed(decoded, top=True)
    )
    if name != "person":
        assert again == golden(name)


KEY_X = "06737472696e670c03000178"  # Go: interface string "x"


def session_stream(*entries: str) -> bytes:
    """A map[interface{}]interface{} of the given (key, value) entries, framed as Go does."""
    body = bytes.fromhex("ff8200" + f"{len(entries):02x}" + "".join(entries))
    return bytes.fromhex(MAP_DEF) + bytes([len(body)]) + body


@pytest.mark.parametrize(("value", "entry"), [
    ({"foo": "bar"}, "06737472696e670c050003666f6f" "06737472696e670c050003626172"),
    ({"n": 42}, "06737472696e670c0300016e" "03696e7404020054"),
    ({42: 43}, "03696e7404020054" "03696e7404020056"),
    ({"x": Int64(-129)}, KEY_X + "05696e74363404040" "0fe0101"),
    ({"x": Uint(256)}, KEY_X + "0475696e74060400fe0100"),
    ({"x": 17.0}, KEY_X + "07666c6f617436340804" "00fe3140"),
    ({"x": True}, KEY_X + "04626f6f6c02020001"),
    ({"x": b"\x01\x02\x03"}, KEY_X + "075b5d75696e74380a050003010203"),
    ({"x": None}, KEY_X + "00"),
])  # fmt: skip
def test_section_4_7_examples(value: dict[Any, Any], entry: str) -> None:
    """Ensure that the §4.7 values encode to Go's bytes and decode back with their types."""
    expected = session_stream(entry)
    assert GOB.serialize(value) == expected
    decoded = GOB.deserialize(expected)
    assert isinstance(decoded, dict) and decoded == value
    assert [type(v) for v in decoded.values()] == [type(v) for v in value.values()]


def test_empty_session_is_gos_20_bytes() -> None:
    """Ensure that an empty session is Go's 20-byte stream."""
    assert GOB.serialize({}) == bytes.fromhex(MAP_DEF + "04ff820000")
    assert GOB.deserialize(GOB.serialize({})) == {}


def test_flash_stream_has_gos_mid_message_definition() -> None:
    """Ensure that the []interface{} definition is sent inside the value, where Go sends it."""
    assert GOB.serialize({"_flash": ["hello", 7]}) == golden("flash")
    assert GOB.serialize({"_flash": ["hello", 7]}).count(b"\xff\x83\x02") == 1


def test_definitions_first_stream_from_the_reference_decodes() -> None:
    """Ensure that the hand-built "all definitions first" stream Go accepts is read too."""
    stream = bytes.fromhex(
        MAP_DEF + "0cff83020102ff840001100000"
        "31ff82000106737472696e670c0800065f666c6173680e5b5d696e74657266616365207b7dff840a000103"
        "696e740402000e"
    )
    assert GOB.deserialize(stream) == {"_flash": [7]}


def test_filesystem_store_cookie_payload_is_gos_bare_string() -> None:
    """Ensure that a FilesystemStore ID is gob'd as Go does: 37 0c 00 34 + 52 bytes."""
    session_id = "KKTJFOR2SVH2EL5HBCM7X64RD2DWEIHXYP7WSYAA33FRC4JGNILA"
    encoded = GOB.serialize(session_id)
    assert encoded == bytes.fromhex("370c0034") + session_id.encode()
    assert GOB.deserialize(encoded) == session_id


def test_type_ids_need_not_start_at_65() -> None:
    """Ensure that streams from a long-running Go process (higher ids) read the same."""
    value = {"cart": [{"sku": "A1"}], "roles": GoList("[]string", ["a"]), "t": GoTime(0)}
    shifted = GobSerializer(first_type_id=1_000_000).serialize(value)
    assert shifted != GOB.serialize(value)
    assert GOB.deserialize(shifted) == value
    with pytest.raises(ConfigurationError, match="first_type_id must be an int from 65"):
        GobSerializer(first_type_id=64)
    with pytest.raises(ConfigurationError, match="first_type_id"):
        GobSerializer(first_type_id=True)


def test_trailing_bytes_after_the_value_are_ignored_like_go() -> None:
    """Ensure that bytes after the top-level value do not matter (Go ignores them too)."""
    assert GOB.deserialize(golden("flash") + b"\x05junk!") == {"_flash": ["hello", 7]}


# --------------------------------------------------------------------------
# The type mapping


@pytest.mark.parametrize(("value", "go_name"), [
    (True, "bool"), (7, "int"), (1.5, "float64"), (1 + 2j, "complex128"),
    ("s", "string"), (b"b", "[]uint8"), ([1], "[]interface {}"),
    ({"k": 1}, "map[string]interface {}"),
    (Int8(-1), "int8"), (Int16(2), "int16"),
    (Int32(3), "int32"), (Int64(4), "int64"), (Uint(5), "uint"), (Uint8(6), "uint8"),
    (Uint16(7), "uint16"), (Uint32(8), "uint32"), (Uint64(9), "uint64"), (Uintptr(10), "uintptr"),
    (Float32(0.5), "float32"), (Complex64(1j), "complex64"), (GoTime(0), "time.Time"),
    (datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC), "time.Time"),
    (GoList("[]string", ["a"]), "[]string"), (GoList("[]int64", [1]), "[]int64"),
])  # fmt: skip
def test_python_values_get_the_documented_go_type(value: object, go_name: str) -> None:
    """Ensure that each Python value is sent under the Go name of the mapping table."""
    stream = GOB.serialize({"v": value})
    assert go_name in interface_names(stream)
    back = GOB.deserialize(stream)["v"]  # type: ignore[index]
    if isinstance(value, datetime.datetime):
        assert back == GoTime.from_datetime(value)
    else:
        assert back == value and type(back) is type(value)


def test_plain_values_that_read_back_as_wrappers() -> None:
    """Ensure that a big int and a dict with int keys come back as the wrapper for their Go type."""
    stream = GOB.serialize({"big": 2**63, "m": {1: 1}})
    assert interface_names(stream) == ["map[interface {}]interface {}", "string", "uint64", "int"]
    back = GOB.deserialize(stream)
    assert isinstance(back, dict)
    assert type(back["big"]) is Uint64 and back["big"] == 2**63
    assert type(back["m"]) is GoMap and back["m"] == {1: 1}


def test_dict_with_int_keys_nested_reads_back_as_gomap() -> None:
    """Ensure that a nested map[interface{}]interface{} keeps that type even with str keys."""
    decoded = GOB.deserialize(GOB.serialize({"m": {1: "a"}}))
    assert isinstance(decoded, dict)
    inner = decoded["m"]
    assert type(inner) is GoMap and inner.go_type == "map[interface {}]interface {}"
    inner.clear()
    inner["only-str-keys"] = 1
    again = GOB.deserialize(GOB.serialize(decoded))
    assert type(again["m"]) is GoMap  # type: ignore[index]
    assert "map[interface {}]interface {}" in interface_names(GOB.serialize(decoded))


def test_typed_containers_keep_element_types() -> None:
    """Ensure that []int8, map[string]string and [3]int keep their types and check ranges."""
    values = {
        "small": GoList("[]int8", [1, -2]),
        "names": GoMap("map[string]string", {"a": "b"}),
        "triple": GoList("[3]int", [1, 2, 3]),
        "nested": GoList("[][]string", [["a"], []]),
        "floats": GoList("[]float32", [0.1]),
    }
    back = GOB.deserialize(GOB.serialize(values))
    assert isinstance(back, dict)
    assert back["small"].go_type == "[]int8" and back["small"] == [1, -2]
    assert back["names"].go_type == "map[string]string"
    assert back["triple"].wire_type == parse_type("[3]int")
    assert back["floats"] == [float(Float32(0.1))]  # rounded as Go's float32 would
    with pytest.raises(SerializeError, match=r"300 does not fit Go int8 at values\['bad'\]\[0\]"):
        GOB.serialize({"bad": GoList("[]int8", [300])})
    with pytest.raises(SerializeError, match=r"\[3\]int needs 3 elements"):
        GOB.serialize({"bad": GoList("[3]int", [1])})


def test_structs_encode_like_go_and_keep_their_type() -> None:
    """Ensure that a struct omits zero fields, nests, and reads back as the same GoStruct."""
    home = GoStruct("main.Address", PERSON.fields[5][1], {"City": "Oslo"})
    person = GoStruct(
        "*main.Person",
        PERSON,
        {"Name": "Al", "Tags": ["x"], "Home": home, "Extra": Int64(3), "Attrs": {"a": 1}},
    )
    stream = GOB.serialize({"p": person})
    back = GOB.deserialize(stream)["p"]  # type: ignore[index]
    assert back.go_type == "*main.Person" and back.wire_type == PERSON
    # Every field, zero ones included. A nested struct's registered name does
    # not travel (its type is the field's), so it reads back as the bare "Address".
    assert {k: v for k, v in back.items() if k != "Home"} == {
        k: v for k, v in person.items() if k != "Home"
    }
    assert back["Home"].go_type == "Address" and dict(back["Home"]) == dict(home)
    assert type(back["Extra"]) is Int64
    assert b"\x05Score" in stream and b"Al" in stream and b"Oslo" in stream
    person["Age"] = 31
    assert GOB.deserialize(GOB.serialize({"p": person}))["p"]["Age"] == 31  # type: ignore[index]
    with pytest.raises(KeyError):
        person["Nope"] = 1
    with pytest.raises(KeyError):
        GoStruct("*main.Person", PERSON, {"Nope": 1})


def test_struct_negative_zero_float_arrives_as_zero_like_go() -> None:
    """Ensure the Go quirk: a -0.0 struct field is "zero", left out, and read back as 0.0."""
    person = GoStruct("*main.Person", PERSON, {"Score": -0.0})
    back = GOB.deserialize(GOB.serialize({"p": person}))["p"]  # type: ignore[index]
    assert math.copysign(1, back["Score"]) == 1.0
    assert GOB.deserialize(GOB.serialize({"f": -0.0}))["f"] == -0.0  # type: ignore[index]


def test_struct_type_construction_rules() -> None:
    """Ensure that unexported or duplicate fields are refused when a struct type is built."""
    with pytest.raises(ValueError, match="not exported"):
        GoType.struct("T", [("name", "string")])
    with pytest.raises(ValueError, match="duplicate"):
        GoType.struct("T", [("A", "string"), ("A", "int")])
    roles = GoType.named("Roles", "[]string", string="main.Roles")
    back = GOB.deserialize(GOB.serialize({"r": GoList("main.Roles", ["a"], wire_type=roles)}))
    assert back["r"].go_type == "main.Roles" and back["r"] == ["a"]  # type: ignore[index]


def test_named_basic_and_custom_encoded_values_round_trip() -> None:
    """Ensure that GoValue carries named basic types and opaque GobEncoder bytes."""
    color = GoValue("main.Color", 3, parse_type("int"))
    back = GOB.deserialize(GOB.serialize({"c": color}))
    assert back == {"c": color}
    with pytest.raises(ValueError, match="travels as a plain int"):
        GoType.named("Color", "int")
    token = GoType(Kind.EXTERNAL, name="Token", string="main.Token", external=5)
    opaque = GoValue("main.Token", b"\x01\x02", token)  # a BinaryMarshaler's bytes
    assert GOB.deserialize(GOB.serialize({"t": opaque})) == {"t": opaque}
    assert GoValue.of("int64", 5) == GoValue("int64", 5, parse_type("int64"))


def test_go_time_binary_format() -> None:
    """Ensure that GoTime reads and writes Go's MarshalBinary bytes (versions 1 and 2)."""
    utc = GoTime(1704164645, 6)
    assert utc.marshal_binary().hex() == "010000000edd25742500000006ffff"
    assert GoTime.unmarshal_binary(utc.marshal_binary()) == utc
    plus_one = GoTime(0, 0, 3600)
    assert plus_one.marshal_binary()[-2:] == b"\x00\x3c"
    odd = GoTime(0, 0, 3600 + 30)
    assert odd.marshal_binary()[0] == 2 and GoTime.unmarshal_binary(odd.marshal_binary()) == odd
    assert GoTime(0, 0, 0).marshal_binary()[-2:] == b"\x00\x00"  # a zone at 0 is not time.UTC
    assert GoTime.unmarshal_binary(GoTime(0, 0, 0).marshal_binary()).offset == 0
    for bad, message in [
        (b"", "no data"),
        (b"\x03" + bytes(14), "unsupported version"),
        (b"\x01" + bytes(3), "invalid length"),
    ]:
        with pytest.raises(ValueError, match=message):
            GoTime.unmarshal_binary(bad)
    with pytest.raises(ValueError, match="cannot be sent"):
        GoTime(0, 0, -60)
    with pytest.raises(ValueError, match="nanosecond"):
        GoTime(0, 1_000_000_000)
    far = GoTime(10**15)  # beyond datetime's year 9999: kept exactly
    assert GOB.deserialize(GOB.serialize({"t": far})) == {"t": far}


def test_datetimes_convert_and_naive_ones_are_refused() -> None:
    """Ensure that aware datetimes become Go times and naive ones raise SerializeError."""
    zone = datetime.timezone(datetime.timedelta(hours=-5))
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=zone)
    converted = GoTime.from_datetime(moment)
    assert converted.offset == -5 * 3600 and converted.nanosecond == 123456000
    assert converted.to_datetime() == moment
    assert GoTime.from_datetime(moment.astimezone(datetime.UTC)).offset is None
    with pytest.raises(SerializeError, match=r"naive datetime .* at values\['when'\]"):
        GOB.serialize({"when": datetime.datetime(2024, 1, 1)})


def test_wrappers_check_ranges_and_survive_copy_and_pickle() -> None:
    """Ensure that wrapper ints are range-checked and every wrapper survives copy and pickle."""
    with pytest.raises(OverflowError):
        Int8(128)
    with pytest.raises(OverflowError):
        Uint8(-1)
    with pytest.raises(TypeError):
        Int64(True)
    with pytest.raises(OverflowError):
        Float32(1e39)
    assert repr(Int64(5)) == "Int64(5)" and Int64(5) + 1 == 6 and type(Int64(5) + 1) is int
    values = [
        Int64(-3),
        Uint16(9),
        Float32(1.5),
        Complex64(2j),
        GoTime(5, 6, 60),
        GoList("[]string", ["a"]),
        GoMap("map[string]string", {"k": "v"}),
        GoStruct("*main.Person", PERSON, {"Name": "Al"}),
    ]
    for value in values:
        for clone in (copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
            assert clone == value and type(clone) is type(value)
            assert getattr(clone, "go_type", None) == getattr(value, "go_type", None)


def test_parse_type_spellings() -> None:
    """Ensure that Go's spellings parse and print back as Go writes them."""
    for spelling in (
        "[]string",
        "map[string]interface {}",
        "[4]uint8",
        "map[int64][]float32",
        "[][]interface {}",
        "time.Time",
        "[]uint8",
    ):
        assert str(parse_type(spelling)) == spelling
    assert parse_type("[]byte") == parse_type("[]uint8")
    assert parse_type("map[string]interface{}") == parse_type("map[string]interface {}")
    for bad in ("main.Person", "map[[]int]string", "[]", "chan int", "[]int extra"):
        with pytest.raises(ValueError, match="Go"):
            parse_type(bad)
    with pytest.raises(TypeError):
        GoList("map[string]string")


# --------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize(("values", "path", "type_name"), [
    ({"cart": [1, 2, (3,)]}, "values['cart'][2]", "tuple"),
    ({"s": {1, 2}}, "values['s']", "set"),
    ({"big": 2**64}, "values['big']", "int"),
    ({"neg": -(2**63) - 1}, "values['neg']", "int"),
    ({"m": {b"k": 1}}, "values['m'][b'k']", "bytes"),
    ({"p": GoStruct("*main.Person", PERSON, {"Age": "x"})}, "values['p'].Age", "str"),
    ({"e": re.compile("x")}, "values['e']", "Pattern"),
    ({"s": "\ud800"}, "values['s']", "str"),
])  # fmt: skip
def test_unrepresentable_values_name_their_path_and_type(
    values: dict[str, Any], path: str, type_name: str
) -> None:
    """Ensure that what Go cannot receive raises SerializeError naming path and type."""
    with pytest.raises(SerializeError) as caught:
        GOB.serialize(values)
    assert caught.value.path == path
    assert caught.value.type_name == type_name
    assert path in str(caught.value)


def test_subclasses_and_cycles_are_refused() -> None:
    """Ensure that str/dict subclasses and self-containing lists raise SerializeError."""

    class Name(str):
        __slots__ = ()

    with pytest.raises(SerializeError, match=r"no Go type for Python .*Name at"):
        GOB.serialize({"n": Name("x")})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(SerializeError, match="nested too deeply"):
        GOB.serialize({"loop": loop})


# --------------------------------------------------------------------------
# Round trips


scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8)
    | st.binary(max_size=8) | st.floats(allow_nan=False)
    | st.builds(Int64, st.integers(-(2**63), 2**63 - 1))
    | st.builds(Uint8, st.integers(0, 255)) | st.builds(Int8, st.integers(-128, 127))
    | st.builds(Float32, st.floats(width=32, allow_nan=False))
    | st.builds(GoTime, st.integers(-(2**40), 2**40), st.integers(0, 999_999_999),
                st.none() | st.integers(-720, 720).filter(lambda m: m != -1)  # -1 min: Go's UTC
                .map(lambda m: m * 60))
    | st.lists(st.text(max_size=4), max_size=3).map(lambda x: GoList("[]string", x))
)  # fmt: skip
keys = st.text(max_size=6) | st.integers(-1000, 1000)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, values, max_size=5))
def test_round_trip_keeps_values_and_go_types(session: dict[Any, Any]) -> None:
    """Ensure that supported values read back equal, with their Go types, and stable bytes."""
    stream = GOB.serialize(session)
    back = GOB.deserialize(stream)
    assert canonical(to_typed(back, top=True)) == canonical(to_typed(session, top=True))
    assert GOB.serialize(back) == stream


# --------------------------------------------------------------------------
# Stores


def test_cookie_and_filesystem_stores_keep_go_types(tmp_path: Path) -> None:
    """Ensure that both stores carry typed values through a save and a load."""
    typed = {"id": Int64(7), "roles": GoList("[]string", ["a"]), "at": GoTime(1, 2, None)}
    for store in (
        CookieStore(b"k" * 32, serializer=GobSerializer()),
        FilesystemStore(tmp_path, b"k" * 32, b"b" * 16, serializer=GobSerializer()),
    ):
        request, response = SimpleRequest(), RecordingResponse()
        session = store.get(request, "s")
        session.values.update(typed)
        session.save(request, response)
        cookie = response.cookies[0]
        loaded = store.get(SimpleRequest(f"s={cookie.value}"), "s")
        assert loaded.load_error is None and dict(loaded.values) == typed
        assert type(loaded.values["id"]) is Int64 and loaded.values["roles"].go_type == "[]string"


def test_a_non_map_payload_is_a_decode_error_for_stores() -> None:
    """Ensure that an authentic gob payload that is not a session map fails as a DecodeError."""
    store = CookieStore(b"k" * 32, serializer=GobSerializer())
    cookie = store.codecs[0].encode("s", "just a string")
    session = store.get(SimpleRequest(f"s={cookie}"), "s")
    assert session.is_new and isinstance(session.load_error, DeserializeError)


# --------------------------------------------------------------------------
# docs/go-interop.md


def test_go_interop_doc_examples_run() -> None:
    """Ensure that every Python block of docs/go-interop.md runs as written, in order."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "go-interop.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict[str, Any] = {"__name__": "go_interop_doc"}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
    assert namespace["again"].values["user_id"] == 1001
