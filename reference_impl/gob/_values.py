"""Python stand-ins for Go values whose type plain Python values cannot carry.

Go reads session values with exact type assertions (``v.(int64)``), so a
value read from Go must go back with the same Go type. Plain ``int`` is Go
``int``; an ``int64`` comes back as :class:`Int64`, a ``[]string`` as a
:class:`GoList` that remembers it, a registered struct as a
:class:`GoStruct`, a ``time.Time`` as a :class:`GoTime`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from reference_impl.gob import _types as types
from reference_impl.gob._time import ZERO_TIME
from reference_impl.gob._types import GoType, Kind, parse_type

__all__ = [
    "WRAPPERS",
    "Complex64",
    "Float32",
    "GoList",
    "GoMap",
    "GoStruct",
    "GoValue",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Uint",
    "Uint8",
    "Uint16",
    "Uint32",
    "Uint64",
    "Uintptr",
    "zero_value",
]


class _GoInt(int):
    """An ``int`` that is sent as a specific Go integer type (range-checked)."""

    __slots__ = ()
    go_type: ClassVar[str] = ""
    wire_type: ClassVar[GoType] = types.INT64

    def __new__(cls, value: int = 0) -> _GoInt:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{cls.__name__} needs an int, got {type(value).__name__}")
        low, high = cls.wire_type.bounds or (0, 0)
        if not low <= value <= high:
            raise OverflowError(f"{value} does not fit Go {cls.go_type} [{low}, {high}]")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"

    def __reduce__(self) -> tuple[type[_GoInt], tuple[int]]:
        return (type(self), (int(self),))


def _int_class(name: str, wire: GoType) -> type[_GoInt]:
    doc = f"A Go ``{wire.name}``: an ``int`` in [{wire.bounds}] that keeps its Go type."
    made = type(
        name,
        (_GoInt,),
        {
            "__slots__": (),
            "go_type": wire.name,
            "wire_type": wire,
            "__doc__": doc,
            "__module__": __name__,
        },
    )
    return made


# Defined through a helper (ten near-identical classes); the names are real classes.
Int8 = _int_class("Int8", types.INT8)
Int16 = _int_class("Int16", types.INT16)
Int32 = _int_class("Int32", types.INT32)
Int64 = _int_class("Int64", types.INT64)
Uint = _int_class("Uint", types.UINT)
Uint8 = _int_class("Uint8", types.UINT8)
Uint16 = _int_class("Uint16", types.UINT16)
Uint32 = _int_class("Uint32", types.UINT32)
Uint64 = _int_class("Uint64", types.UINT64)
Uintptr = _int_class("Uintptr", types.UINTPTR)


def _to_float32(value: float) -> float:
    """Round to the nearest float32, as Go's ``float32(x)`` does; OverflowError if too large."""
    rounded: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return rounded


class Float32(float):
    """A Go ``float32``: the value is rounded to float32 precision on construction."""

    __slots__ = ()
    go_type: ClassVar[str] = "float32"
    wire_type: ClassVar[GoType] = types.FLOAT32

    def __new__(cls, value: float = 0.0) -> Float32:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"Float32 needs a float, got {type(value).__name__}")
        return super().__new__(cls, _to_float32(float(value)))

    def __repr__(self) -> str:
        return f"Float32({float(self)!r})"

    def __reduce__(self) -> tuple[type[Float32], tuple[float]]:
        return (Float32, (float(self),))


class Complex64(complex):
    """A Go ``complex64``: both parts are rounded to float32 precision."""

    __slots__ = ()
    go_type: ClassVar[str] = "complex64"
    wire_type: ClassVar[GoType] = types.COMPLEX64

    def __new__(cls, value: complex = 0j) -> Complex64:
        if isinstance(value, bool) or not isinstance(value, int | float | complex):
            raise TypeError(f"Complex64 needs a complex, got {type(value).__name__}")
        value = complex(value)
        return super().__new__(cls, _to_float32(value.real), _to_float32(value.imag))

    def __repr__(self) -> str:
        return f"Complex64({complex(self)!r})"

    def __reduce__(self) -> tuple[type[Complex64], tuple[complex]]:
        return (Complex64, (complex(self),))


#: The scalar wrapper classes → (the gob name of their Go type, that type).
WRAPPERS: dict[type, tuple[str, GoType]] = {
    cls: (cls.go_type, cls.wire_type)
    for cls in (
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
        Float32,
        Complex64,
    )
}


def _resolve(go_type: str, wire_type: GoType | None, kinds: tuple[Kind, ...]) -> GoType:
    resolved = parse_type(go_type) if wire_type is None else wire_type
    if resolved.kind not in kinds:
        wanted = " or ".join(k.value for k in kinds)
        raise TypeError(f"Go type {go_type!r} is a {resolved.kind.value}, not a {wanted}")
    return resolved


class GoList(list[object]):
    """A Go slice or array other than ``[]interface {}``, e.g. ``GoList("[]string", ["a"])``.

    It is a ``list``; ``go_type`` is the name Go registered the type under
    (``"[]string"``, or ``"main.Roles"`` for a named type, which then needs
    ``wire_type=GoType.named("Roles", "[]string")``). Elements are plain
    Python values of the element type: ``GoList("[]int64", [1, 2])``.
    """

    __slots__ = ("go_type", "wire_type")

    def __init__(
        self, go_type: str, items: Iterable[object] = (), *, wire_type: GoType | None = None
    ) -> None:
        super().__init__(items)
        self.wire_type = _resolve(go_type, wire_type, (Kind.SLICE, Kind.ARRAY))
        self.go_type = go_type

    def __repr__(self) -> str:
        return f"GoList({self.go_type!r}, {list.__repr__(self)})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_list, (self.go_type, list(self), self.wire_type))


class GoMap(dict[object, object]):
    """A Go map other than ``map[string]interface {}``, e.g. ``GoMap("map[string]string", {})``.

    It is a ``dict``. Nested ``map[interface {}]interface {}`` values read
    from Go come back as ``GoMap("map[interface {}]interface {}", ...)`` so
    that they keep that type even when every key is a string.
    """

    __slots__ = ("go_type", "wire_type")

    def __init__(
        self,
        go_type: str,
        items: Mapping[object, object] | Iterable[tuple[object, object]] = (),
        *,
        wire_type: GoType | None = None,
    ) -> None:
        super().__init__(items)
        self.wire_type = _resolve(go_type, wire_type, (Kind.MAP,))
        self.go_type = go_type

    def __repr__(self) -> str:
        return f"GoMap({self.go_type!r}, {dict.__repr__(self)})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_map, (self.go_type, dict(self), self.wire_type))


def _rebuild_list(go_type: str, items: list[object], wire_type: GoType) -> GoList:
    return GoList(go_type, items, wire_type=wire_type)


def _rebuild_map(go_type: str, items: dict[object, object], wire_type: GoType) -> GoMap:
    return GoMap(go_type, items, wire_type=wire_type)


class GoStruct(Mapping[str, object]):
    """A registered Go struct: field name → value, plus its Go type.

    ``go_type`` is the name the Go program registered (``"*main.Person"``
    for ``gob.Register(&Person{})``); ``wire_type`` lists the fields
    (:meth:`GoType.struct`). Every field is present: fields Go left out
    (gob omits zero values) and fields not given read as their zero value.
    A field can be reassigned (``person["Age"] = 31``) but not added or
    removed.
    """

    __slots__ = ("_index", "_values", "go_type", "wire_type")

    def __init__(
        self, go_type: str, wire_type: GoType, values: Mapping[str, object] | None = None
    ) -> None:
        if wire_type.kind is not Kind.STRUCT:
            raise TypeError(f"{wire_type} is not a struct type")
        self.go_type = go_type
        self.wire_type = wire_type
        self._index = wire_type.field_types
        # Only fields that were sent or set are stored; the rest are zero on
        # access. So a stream of many empty structs of a wide type costs what
        # it weighs, not fields x structs.
        self._values: dict[str, object] = dict(values or {})
        unknown = [name for name in self._values if name not in self._index]
        if unknown:
            raise KeyError(f"{go_type} has no field(s) {', '.join(map(repr, unknown))}")

    def __getitem__(self, field: str) -> object:
        try:
            return self._values[field]
        except KeyError:
            zero = zero_value(self._index[field])
            if isinstance(zero, list):  # keep it, so that appending to it sticks
                self._values[field] = zero
            return zero

    def __setitem__(self, field: str, value: object) -> None:
        if field not in self._index:
            raise KeyError(f"{self.go_type} has no field {field!r}")
        self._values[field] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoStruct):
            return NotImplemented
        return (self.go_type, self.wire_type) == (other.go_type, other.wire_type) and dict(
            self.items()
        ) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"GoStruct({self.go_type!r}, {dict(self.items())!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (GoStruct, (self.go_type, self.wire_type, dict(self._values)))


@dataclass(frozen=True, slots=True)
class GoValue:
    """Any other Go value with its type: ``GoValue("main.Color", 3, parse_type("int"))``.

    ``go_type`` is the name the Go program registered; ``wire_type`` is how
    the value travels: the underlying type for named basic types (``type
    Color int`` travels as an ``int``). Values of such types, and of types
    with their own gob encoding other than ``time.Time`` (then ``value``
    holds the encoded bytes), read from Go come back as ``GoValue``.
    """

    go_type: str
    value: object
    wire_type: GoType

    @classmethod
    def of(cls, go_type: str, value: object) -> GoValue:
        """A value of an unnamed type spelled ``go_type`` (``GoValue.of("int64", 5)``)."""
        return cls(go_type, value, parse_type(go_type))


def zero_value(kind: GoType) -> object:
    """The Python value of Go's zero value of ``kind`` (``None`` for nil maps and pointers)."""
    k = kind.kind
    if k is Kind.BOOL:
        return False
    if k in (Kind.INT, Kind.UINT):
        return 0
    if k is Kind.FLOAT:
        return 0.0
    if k is Kind.COMPLEX:
        return 0j
    if k is Kind.STRING:
        return ""
    if k is Kind.BYTES:
        return b""
    if k is Kind.SLICE:
        return []
    if kind == types.TIME:
        return ZERO_TIME
    # Interface, map (nil), struct (nil pointer), array (Go always sends arrays,
    # so a missing one only comes from odd input; allocating a hostile stream's
    # declared length would be a memory bomb), other external types.
    return None
