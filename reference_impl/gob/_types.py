"""Go types as gob sees them: the model behind :mod:`reference_impl.gob`.

A :class:`GoType` describes one Go type precisely enough to write its gob
type definition and to read or write its values: the kind, the element, key
and field types, and, for named types, the name Go sends in definitions.
Types are immutable and compare by structure, so one Go type used twice in
a stream gets one type id, as in Go.

:func:`parse_type` reads Go's own spelling of unnamed types (``[]string``,
``map[string]interface {}``, ``[3]int``) and of ``time.Time``; structs and
other named types are built with :meth:`GoType.struct` and
:meth:`GoType.named`.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "BOOL",
    "BYTES",
    "BY_WIRE_ID",
    "COMPLEX64",
    "COMPLEX128",
    "FLOAT32",
    "FLOAT64",
    "INT",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "INTERFACE",
    "MAP_INTERFACE_INTERFACE",
    "MAP_STRING_INTERFACE",
    "MAX_DEPTH",
    "PLAIN_BY_NAME",
    "SLICE_OF_INTERFACE",
    "STRING",
    "TIME",
    "UINT",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "UINTPTR",
    "GoType",
    "Kind",
    "parse_type",
    "same_wire",
]

#: Deepest nesting of types or values either direction accepts. Session values
#: are a few levels deep; the limit keeps hostile input from exhausting the stack.
MAX_DEPTH = 64


class Kind(enum.Enum):
    """What gob sends for a type (the wire shapes of ``encoding/gob``)."""

    BOOL = "bool"
    INT = "int"
    UINT = "uint"
    FLOAT = "float"
    COMPLEX = "complex"
    STRING = "string"
    BYTES = "bytes"
    INTERFACE = "interface"
    ARRAY = "array"
    SLICE = "slice"
    STRUCT = "struct"
    MAP = "map"
    #: A type with its own encoding (GobEncoder, BinaryMarshaler, TextMarshaler), e.g. time.Time.
    EXTERNAL = "external"


#: Go's predefined type ids for the kinds that never need a definition.
_BASIC_IDS = {
    Kind.BOOL: 1,
    Kind.INT: 2,
    Kind.UINT: 3,
    Kind.FLOAT: 4,
    Kind.BYTES: 5,
    Kind.STRING: 6,
    Kind.COMPLEX: 7,
    Kind.INTERFACE: 8,
}
#: Wire types of external encodings: wireType field index 4, 5, 6 in Go.
EXTERNAL_GOB, EXTERNAL_BINARY, EXTERNAL_TEXT = 4, 5, 6


class GoType:
    """One Go type: its kind, its parts and (for named types) its name.

    Use :func:`parse_type` for unnamed types and the basic constants of
    this module (``INT64``, ``STRING``, ...), :meth:`struct` for structs
    and :meth:`named` for other named types.

    Attributes:
        kind: the wire shape.
        name: Go's ``Name()``: ``"Person"`` for ``main.Person``, ``"int8"``
            for basic types, ``""`` for unnamed composites like ``[]string``.
        elem, key, length: element type (slices, arrays, maps), key type
            (maps), length (arrays).
        fields: ``(name, type)`` of each exported struct field, in order.
        bounds: ``(min, max)`` for integer kinds.
    """

    __slots__ = (
        "_hash",
        "_string",
        "basic_id",
        "bounds",
        "elem",
        "external",
        "field_types",
        "fields",
        "key",
        "kind",
        "length",
        "name",
    )

    def __init__(
        self,
        kind: Kind,
        *,
        name: str = "",
        string: str = "",
        elem: GoType | None = None,
        key: GoType | None = None,
        length: int = 0,
        fields: Sequence[tuple[str, GoType]] = (),
        external: int = 0,
        bounds: tuple[int, int] | None = None,
    ) -> None:
        self.kind = kind
        #: Go's predefined id for basic kinds (they need no definition); 0 otherwise.
        self.basic_id = _BASIC_IDS.get(kind, 0)
        self.name = name
        self._string = string
        self.elem = elem
        self.key = key
        self.length = length
        self.fields: tuple[tuple[str, GoType], ...] = tuple(fields)
        #: Field name → type (structs); shared by every value of the type.
        self.field_types: dict[str, GoType] = dict(self.fields)
        self.external = external
        self.bounds = bounds
        parts = (elem, key, length, self.fields, external)
        self._hash = hash((kind, name, parts))

    # -- construction --------------------------------------------------------

    @classmethod
    def struct(
        cls, name: str, fields: Iterable[tuple[str, GoType | str]], *, string: str = ""
    ) -> GoType:
        """A named struct type, e.g. ``GoType.struct("Person", [("Name", "string")])``.

        ``name`` is the bare type name Go sends in definitions (``Person``);
        ``string`` is how it is shown (``main.Person``; defaults to ``name``).
        Field types are :class:`GoType` or Go spellings (``"[]string"``).
        Only exported fields travel in gob, so list those, in declaration order.
        """
        built: list[tuple[str, GoType]] = []
        for field, kind in fields:
            if not field or not (field[0].isupper()):
                raise ValueError(f"struct field {field!r} is not exported; gob never sends it")
            if field in (f for f, _ in built):
                raise ValueError(f"duplicate struct field {field!r}")
            built.append((field, parse_type(kind) if isinstance(kind, str) else kind))
        return cls(Kind.STRUCT, name=name, string=string or name, fields=built)

    @classmethod
    def named(cls, name: str, underlying: GoType | str, *, string: str = "") -> GoType:
        """A named non-struct type: ``type Roles []string`` is ``named("Roles", "[]string")``."""
        base = parse_type(underlying) if isinstance(underlying, str) else underlying
        if base.kind in (Kind.STRUCT, Kind.EXTERNAL):
            raise ValueError("use GoType.struct for structs")
        if base.is_basic:
            raise ValueError(
                f"a named {base} travels as a plain {base}: use GoValue(name, value, {base!r})"
            )
        return cls(
            base.kind,
            name=name,
            string=string or name,
            elem=base.elem,
            key=base.key,
            length=base.length,
            bounds=base.bounds,
        )

    # -- identity ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, GoType) or self._hash != other._hash:
            return False
        return (
            self.kind,
            self.name,
            self.elem,
            self.key,
            self.length,
            self.fields,
            self.external,
        ) == (
            other.kind,
            other.name,
            other.elem,
            other.key,
            other.length,
            other.fields,
            other.external,
        )

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        """Go's spelling of the type: ``[]string``, ``map[string]interface {}``, ``main.Person``."""
        if self._string:
            return self._string
        if self.name:
            return self.name
        kind = self.kind
        if kind is Kind.SLICE:
            return f"[]{self.elem}"
        if kind is Kind.ARRAY:
            return f"[{self.length}]{self.elem}"
        if kind is Kind.MAP:
            return f"map[{self.key}]{self.elem}"
        if kind is Kind.STRUCT:
            inner = "; ".join(f"{n} {t}" for n, t in self.fields)
            return f"struct {{ {inner} }}" if inner else "struct {}"
        return str(kind.value)

    def __repr__(self) -> str:
        return f"GoType({str(self)!r})"

    @property
    def is_basic(self) -> bool:
        """Whether values of this type need no type definition (Go's predefined ids)."""
        return self.basic_id != 0


def _int_type(name: str, bits: int) -> GoType:
    return GoType(Kind.INT, name=name, bounds=(-(1 << (bits - 1)), (1 << (bits - 1)) - 1))


def _uint_type(name: str, bits: int) -> GoType:
    return GoType(Kind.UINT, name=name, bounds=(0, (1 << bits) - 1))


BOOL = GoType(Kind.BOOL, name="bool")
INT, INT8, INT16 = _int_type("int", 64), _int_type("int8", 8), _int_type("int16", 16)
INT32, INT64 = _int_type("int32", 32), _int_type("int64", 64)
UINT, UINT8, UINT16 = _uint_type("uint", 64), _uint_type("uint8", 8), _uint_type("uint16", 16)
UINT32, UINT64 = _uint_type("uint32", 32), _uint_type("uint64", 64)
UINTPTR = _uint_type("uintptr", 64)
FLOAT32, FLOAT64 = GoType(Kind.FLOAT, name="float32"), GoType(Kind.FLOAT, name="float64")
COMPLEX64 = GoType(Kind.COMPLEX, name="complex64")
COMPLEX128 = GoType(Kind.COMPLEX, name="complex128")
STRING = GoType(Kind.STRING, name="string")
BYTES = GoType(Kind.BYTES, string="[]uint8")
INTERFACE = GoType(Kind.INTERFACE, string="interface {}")
TIME = GoType(Kind.EXTERNAL, name="Time", string="time.Time", external=EXTERNAL_GOB)
SLICE_OF_INTERFACE = GoType(Kind.SLICE, elem=INTERFACE)
MAP_STRING_INTERFACE = GoType(Kind.MAP, key=STRING, elem=INTERFACE)
MAP_INTERFACE_INTERFACE = GoType(Kind.MAP, key=INTERFACE, elem=INTERFACE)
#: The types of Go's predefined ids 1-8 (the generic width of each kind).
BY_WIRE_ID = {
    1: BOOL,
    2: INT,
    3: UINT,
    4: FLOAT64,
    5: BYTES,
    6: STRING,
    7: COMPLEX128,
    8: INTERFACE,
}
#: Interface type names whose values are plain Python values (the rest use wrappers).
PLAIN_BY_NAME = {
    "bool": BOOL,
    "int": INT,
    "float64": FLOAT64,
    "complex128": COMPLEX128,
    "string": STRING,
    "[]uint8": BYTES,
    "[]interface {}": SLICE_OF_INTERFACE,
    "map[string]interface {}": MAP_STRING_INTERFACE,
    "time.Time": TIME,
}

_BY_NAME: dict[str, GoType] = {
    t.name: t
    for t in (
        BOOL,
        INT,
        INT8,
        INT16,
        INT32,
        INT64,
        UINT,
        UINT8,
        UINT16,
        UINT32,
        UINT64,
        UINTPTR,
        FLOAT32,
        FLOAT64,
        COMPLEX64,
        COMPLEX128,
        STRING,
    )
}
_BY_NAME.update({"byte": UINT8, "rune": INT32, "time.Time": TIME, "any": INTERFACE})
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")
_LENGTH = re.compile(r"\[([0-9]{1,9})\]")
_UNCOMPARABLE = frozenset({Kind.SLICE, Kind.MAP, Kind.BYTES})


@functools.lru_cache(maxsize=512)
def parse_type(expr: str) -> GoType:
    """Parse Go's spelling of a type: ``[]string``, ``[4]uint8``, ``map[string][]int64``, ...

    Understands the basic types, ``interface {}`` (or ``interface{}``,
    ``any``), ``time.Time``, slices, arrays and maps of those. Raises
    ``ValueError`` for anything else (structs and named types have no
    spelling that says what their fields or underlying type are).
    """
    parsed, end = _parse_at(expr, 0, 0)
    if end != len(expr):
        raise ValueError(f"unsupported Go type {expr!r}: unexpected {expr[end:]!r}")
    return parsed


def _parse_at(text: str, at: int, depth: int) -> tuple[GoType, int]:
    if depth > MAX_DEPTH:
        raise ValueError("Go type nested too deeply")
    if text.startswith("[]", at):
        elem, end = _parse_at(text, at + 2, depth + 1)
        return (BYTES if elem == UINT8 else GoType(Kind.SLICE, elem=elem)), end
    if text.startswith("map[", at):
        key, end = _parse_at(text, at + 4, depth + 1)
        if not text.startswith("]", end):
            raise ValueError(f"unsupported Go type {text!r}: expected ']' at {end}")
        if key.kind in _UNCOMPARABLE:
            raise ValueError(f"Go map keys cannot be {key}")
        elem, end = _parse_at(text, end + 1, depth + 1)
        return GoType(Kind.MAP, key=key, elem=elem), end
    if (length := _LENGTH.match(text, at)) is not None:
        elem, end = _parse_at(text, length.end(), depth + 1)
        return GoType(Kind.ARRAY, elem=elem, length=int(length.group(1))), end
    for spelling in ("interface {}", "interface{}"):
        if text.startswith(spelling, at):
            return INTERFACE, at + len(spelling)
    ident = _IDENT.match(text, at)
    if ident is None or ident.group() not in _BY_NAME:
        shown = ident.group() if ident else text[at:]
        raise ValueError(
            f"unsupported Go type {shown!r} in {text!r}: structs and named types need "
            "GoType.struct() or GoType.named()"
        )
    return _BY_NAME[ident.group()], ident.end()


def same_wire(left: GoType, right: GoType) -> bool:
    """Whether values of the two types look the same on the wire (int8 and int64 do)."""
    if left is right:
        return True
    if left.kind is not right.kind:
        return False
    kind = left.kind
    if kind in _BASIC_IDS:
        return True
    if kind is Kind.EXTERNAL:
        return left.external == right.external
    if kind is Kind.STRUCT:
        return left == right
    if kind is Kind.ARRAY and left.length != right.length:
        return False
    if kind is Kind.MAP and not same_wire(left.key, right.key):  # type: ignore[arg-type]
        return False
    return same_wire(left.elem, right.elem)  # type: ignore[arg-type]
