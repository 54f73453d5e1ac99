"""Reading gob values: the decoder half of :mod:`reference_impl.gob`.

Values are read exactly as Go's ``encoding/gob`` (Go 1.19) reads them, on
top of :class:`~reference_impl.gob._wire.WireReader`. Each interface value
comes back as the Python type of its Go type name (``int64`` as
:class:`Int64`, ``[]string`` as a :class:`GoList`, ...), so writing it again
keeps the Go type.

Hostile input: beyond the wire reader's checks, nesting deeper than
``MAX_DEPTH`` is refused (so no stream exhausts the stack), a struct stores
only the fields that were sent (so many empty values of a wide type cost
their size), and map keys Go tells apart but Python merges are refused.
"""

from __future__ import annotations

from collections.abc import Callable

from reference_impl.gob._flat import decode_flat
from reference_impl.gob._time import GoTime
from reference_impl.gob._types import (
    MAP_INTERFACE_INTERFACE,
    MAP_STRING_INTERFACE,
    MAX_DEPTH,
    PLAIN_BY_NAME,
    SLICE_OF_INTERFACE,
    TIME,
    GoType,
    Kind,
    parse_type,
    same_wire,
)
from reference_impl.gob._values import (
    WRAPPERS,
    Float32,
    GoList,
    GoMap,
    GoStruct,
    GoValue,
    Int64,
    Uint64,
)
from reference_impl.gob._wire import GobDecodeError, WireReader

__all__ = ["GobDecodeError", "decode"]

_MAX_NAME = 1024  # Go's limit on an interface's type name
_MAX_FLOAT32 = 3.4028234663852886e38


def _map_ii(value: object) -> object:
    assert isinstance(value, dict)
    return GoMap("map[interface {}]interface {}", value, wire_type=MAP_INTERFACE_INTERFACE)


#: Interface type names with a Python type of their own: exact type, converter.
_SPECIAL: dict[str, tuple[GoType, Callable[..., object] | None]] = {
    **{name: (kind, None) for name, kind in PLAIN_BY_NAME.items()},
    **{name: (kind, cls) for cls, (name, kind) in WRAPPERS.items()},
    "map[interface {}]interface {}": (MAP_INTERFACE_INTERFACE, _map_ii),
}


def _read_bool(reader: _Decoder) -> bool:
    return reader._uint() != 0


#: Interface names of common basic values: the one-byte id they must carry, and a reader.
_FAST: dict[bytes, tuple[int, Callable[[_Decoder], object]]] = {}


def decode(data: bytes) -> object:
    """Decode one gob stream holding one value; raise :class:`GobDecodeError` if invalid."""
    if data.__class__ is bytes:  # a session of scalars: the precompiled codec
        flat = decode_flat(data)
        if flat is not None:
            return flat
    return _Decoder(data).top()


def decode_general(data: bytes) -> object:
    """:func:`decode` for any stream, step for step as Go's decoder."""
    return _Decoder(data).top()


class _Decoder(WireReader):
    __slots__ = ("_depth",)

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._depth = 0

    # -- values ------------------------------------------------------------

    def top(self) -> object:
        """Decode the stream's value (bytes after it are ignored, as Go does)."""
        wire = self._type(self._type_sequence(False))
        if wire.kind is Kind.INTERFACE:
            raise GobDecodeError("gob: a stream cannot start with an interface value")
        value = self._singleton(wire)
        if wire.kind in (Kind.SLICE, Kind.ARRAY) and wire != SLICE_OF_INTERFACE:
            return GoList(str(wire), value, wire_type=wire)  # type: ignore[arg-type]
        if wire.kind is Kind.MAP and wire not in (MAP_INTERFACE_INTERFACE, MAP_STRING_INTERFACE):
            return GoMap(str(wire), value, wire_type=wire)  # type: ignore[arg-type]
        return value

    def _singleton(self, wire: GoType, go_type: str = "") -> object:
        """A value sent on its own (top level, or inside an interface)."""
        if wire.kind is not Kind.STRUCT and self._uint() != 0:
            raise GobDecodeError("gob: decode: corrupted data: non-zero delta for singleton")
        return self._value(wire, go_type)

    def _value(self, wire: GoType, go_type: str = "") -> object:
        kind = wire.kind
        if kind is Kind.STRING:
            return self._text()
        if kind is Kind.INTERFACE:
            return self._interface()
        if kind is Kind.INT or kind is Kind.UINT:
            number = self._int() if kind is Kind.INT else self._uint()
            if wire.bounds is not None and not wire.bounds[0] <= number <= wire.bounds[1]:
                raise GobDecodeError(f'value for "{wire.name}" out of range')
            return number
        if kind is Kind.BOOL:
            return self._uint() != 0
        if kind is Kind.FLOAT:
            return self._narrow(self._float(), wire)
        if kind is Kind.BYTES:
            return self._raw("[]uint8")
        if kind is Kind.COMPLEX:
            real = self._narrow(self._float(), wire)
            return complex(real, self._narrow(self._float(), wire))
        if kind is Kind.EXTERNAL:
            return self._external(wire, go_type)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise GobDecodeError("gob: value nested too deeply")
        result: object
        if kind is Kind.STRUCT:
            result = self._struct(wire, go_type or str(wire))
        elif kind is Kind.MAP:
            result = self._map(wire)
        else:
            count = self._count(1)
            if kind is Kind.ARRAY and count != wire.length:
                raise GobDecodeError("gob: length mismatch in decodeArray")
            elem = wire.elem
            assert elem is not None
            result = [self._value(elem) for _ in range(count)]
        self._depth -= 1
        return result

    @staticmethod
    def _narrow(number: float, wire: GoType) -> float:
        if wire.name not in ("float32", "complex64"):
            return number
        if _MAX_FLOAT32 < abs(number) < float("inf"):
            raise GobDecodeError(f'value for "{wire.name}" out of range')
        return float(Float32(number))

    def _external(self, wire: GoType, go_type: str) -> object:
        data = self._raw(str(wire))
        if wire == TIME:
            try:
                return GoTime.unmarshal_binary(data)
            except (ValueError, OverflowError) as exc:
                if go_type == "time.Time":
                    raise GobDecodeError(f"gob: {exc}") from None
        return GoValue(go_type or str(wire), data, wire)

    def _struct(self, wire: GoType, go_type: str) -> GoStruct:
        fields = wire.fields
        values: dict[str, object] = {}
        for index in self._fields(len(fields)):
            name, kind = fields[index]
            values[name] = self._value(kind)
        return GoStruct(go_type, wire, values)

    def _map(self, wire: GoType) -> dict[object, object]:
        key_type, elem_type = wire.key, wire.elem
        assert key_type is not None and elem_type is not None
        result: dict[object, object] = {}
        if key_type.kind is not Kind.INTERFACE:  # keys of one Go type: no surprises
            for _ in range(self._count(2)):
                key = self._value(key_type)
                try:
                    result[key] = self._value(elem_type)
                except TypeError:
                    raise GobDecodeError(f"gob: {key_type} map keys are not hashable") from None
            return result
        any_elem = elem_type.kind is Kind.INTERFACE
        keys: dict[object, object] = {}  # the key objects, to spot Go keys Python merges
        for _ in range(self._count(2)):
            key = self._interface()
            value = self._interface() if any_elem else self._value(elem_type)
            try:
                earlier = keys.setdefault(key, key)
            except TypeError:
                shown = type(key).__name__
                detail = f"gob: map key of Python type {shown} is not hashable"
                raise GobDecodeError(detail) from None
            if type(earlier) is not type(key):
                raise GobDecodeError(
                    f"gob: map keys {earlier!r} and {key!r} differ in Go but are equal in Python"
                )
            result[key] = value  # a repeated key overwrites, as in Go
        return result

    def _interface(self) -> object:
        size = self._uint()
        if size > self._end - self._pos:
            raise GobDecodeError(f"gob: invalid type name length {size}: exceeds input size")
        if size == 0:
            return None
        if size > _MAX_NAME:
            raise GobDecodeError(f"gob: name too long ({size} bytes)")
        raw = self._data[self._pos : self._pos + size]
        self._pos += size
        fast = _FAST.get(raw)
        if fast is not None and self._pos < self._end and self._data[self._pos] == fast[0]:
            # A basic type's id (one byte) right away: no definitions to read.
            self._pos += 1
            self._uint()  # byte count
            if self._uint() != 0:
                raise GobDecodeError("gob: decode: corrupted data: non-zero delta for singleton")
            return fast[1](self)
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GobDecodeError("gob: type name is not UTF-8") from None
        type_id = self._type_sequence(True)
        self._uint()  # byte count of the value: possibly of a partial chunk, never trusted
        return self._named(name, self._type(type_id))

    def _named(self, name: str, wire: GoType) -> object:
        special = _SPECIAL.get(name)
        if special is not None:
            exact, convert = special
            if not same_wire(exact, wire):
                raise GobDecodeError(f"gob: {name} value sent as a {wire}")
            value = self._singleton(exact, name)
            if name == "time.Time" and not isinstance(value, GoTime):
                raise GobDecodeError("gob: invalid time.Time value")
            return value if convert is None else convert(value)
        if wire.kind is Kind.INTERFACE:
            raise GobDecodeError("gob: interface value of interface type")
        exact = wire
        try:
            parsed = parse_type(name)
        except ValueError:
            parsed = None
        if parsed is not None and same_wire(parsed, wire):
            exact = parsed  # e.g. "[]int64": keep the element width
        value = self._singleton(exact, name)
        kind = exact.kind
        if kind is Kind.SLICE or kind is Kind.ARRAY:
            return GoList(name, value, wire_type=exact)  # type: ignore[arg-type]
        if kind is Kind.MAP:
            return GoMap(name, value, wire_type=exact)  # type: ignore[arg-type]
        if kind is Kind.STRUCT or isinstance(value, GoTime | GoValue):
            return value
        return GoValue(name, value, exact)


_FAST.update(
    {
        b"string": (0x0C, _Decoder._text),
        b"int": (0x04, _Decoder._int),
        b"bool": (0x02, _read_bool),
        b"float64": (0x08, _Decoder._float),
        b"[]uint8": (0x0A, lambda reader: reader._raw("[]uint8")),
        b"int64": (0x04, lambda reader: Int64(reader._int())),
        b"uint64": (0x06, lambda reader: Uint64(reader._uint())),
    }
)
