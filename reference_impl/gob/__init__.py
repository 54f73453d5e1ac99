"""Go's ``encoding/gob`` for session values: share sessions with Go services.

gorilla/sessions stores ``Session.Values`` (a ``map[interface{}]interface{}``)
with gob by default. :class:`GobSerializer` reads every gob stream Go
writes for such a map, and writes streams Go reads back with the same Go
types. Pass it to a store (``CookieStore(..., serializer=GobSerializer())``)
and a Go service with the same keys and cookie name reads our sessions and
we read theirs; see ``docs/go-interop.md``.

Type mapping
------------

Go keeps the type of every value in the map and reads it back with exact
type assertions (``v.(int64)``), so values read from Go keep their Go type
when written again. Plain Python values map as follows::

    Python                         Go (the name sent)
    None                           nil
    bool                           bool
    int                            int (64-bit); uint64 from 2**63 to 2**64-1
    float                          float64
    complex                        complex128
    str                            string
    bytes                          []uint8 ([]byte)
    list                           []interface {}
    dict, all keys str             map[string]interface {}
    dict, any other key            map[interface {}]interface {}
    aware datetime / GoTime        time.Time

and these wrappers carry other Go types::

    Int8 Int16 Int32 Int64         int8 int16 int32 int64
    Uint Uint8 ... Uint64 Uintptr  uint uint8 ... uint64 uintptr
    Float32, Complex64             float32, complex64
    GoList("[]string", [...])      a typed slice or array
    GoMap("map[string]string", {}) a typed map (also nested map[interface {}]interface {})
    GoStruct("*main.Person", T)    a registered struct, T = GoType.struct(...)
    GoTime(unix, nanosecond, offset)  time.Time with nanoseconds and zone
    GoValue(name, value, type)     anything else (named basic types, custom encoders)

The session map itself (a top-level ``dict``) is always
``map[interface {}]interface {}``, whatever its keys. Reading gives back
exactly these types: Go ``int64`` becomes :class:`Int64`, a nested
``map[interface {}]interface {}`` a :class:`GoMap`, a ``[]string`` a
:class:`GoList`. The wrapper ints are ``int`` subclasses, so arithmetic
works, but its result is a plain ``int`` (Go ``int``): write
``Int64(n + 1)`` to keep the type. Go must ``gob.Register`` every type
other than the basic ones and their slices (``[]interface {}`` is
registered by gorilla/sessions): ``map[string]interface{}``,
``map[interface{}]interface{}`` (when nested), ``time.Time``, structs.

Anything else (tuple, set, a ``str`` or ``dict`` subclass, a naive
``datetime``, an int beyond 64 bits, ``bytes`` as a map key) raises
:class:`~spec.errors.SerializeError` naming where it sits, e.g.
``values['cart'][2]``, and its type.

Security
--------

gob carries data, never code: decoding only builds the types above, and a
Go type name is never used to look up or call anything on our side. Every
length and count in the input is checked against the bytes left before
anything is allocated, nesting is limited, and recursive type definitions
are refused, so hostile input fails with
:class:`~spec.errors.DeserializeError` and nothing else. (Stores only
deserialize authenticated payloads anyway.)
"""

from __future__ import annotations

from reference_impl.gob._decode import GobDecodeError, decode
from reference_impl.gob._encode import FIRST_SENT_TYPE_ID, GobEncodeError, encode
from reference_impl.gob._time import GoTime
from reference_impl.gob._types import GoType, Kind, parse_type
from reference_impl.gob._values import (
    Complex64,
    Float32,
    GoList,
    GoMap,
    GoStruct,
    GoValue,
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
)
from spec.errors import ConfigurationError, DeserializeError, SerializeError

__all__ = [
    "Complex64",
    "Float32",
    "GoList",
    "GoMap",
    "GoStruct",
    "GoTime",
    "GoType",
    "GoValue",
    "GobSerializer",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Kind",
    "Uint",
    "Uint8",
    "Uint16",
    "Uint32",
    "Uint64",
    "Uintptr",
    "parse_type",
]


class GobSerializer:
    """Session values as Go's gob, as gorilla/securecookie's default ``GobEncoder`` writes them.

    ``serialize`` writes exactly the bytes a fresh Go process writes for
    the same value (map entries in insertion order; Go's order is random);
    ``deserialize`` reads any stream Go writes, whatever type ids a
    long-running Go process has reached.

    Args:
        first_type_id: the first type id to allocate (Go's is 65). A Go
            process that has already encoded other types numbers new ones
            higher; set this only to reproduce such a process byte for byte.
    """

    __slots__ = ("_first_type_id",)

    def __init__(self, *, first_type_id: int = FIRST_SENT_TYPE_ID) -> None:
        if type(first_type_id) is not int or not FIRST_SENT_TYPE_ID <= first_type_id < 1 << 31:
            raise ConfigurationError(
                f"first_type_id must be an int from {FIRST_SENT_TYPE_ID} to {(1 << 31) - 1}, "
                f"got {first_type_id!r}; leave it out unless you reproduce a long-running Go "
                "process"
            )
        self._first_type_id = first_type_id

    def serialize(self, value: object) -> bytes:
        """The gob stream of ``value``; a ``dict`` is a session's ``map[interface {}]interface {}``.

        Raises:
            SerializeError: ``value`` holds something Go cannot receive; the
                error names its path and Python type.
        """
        try:
            return encode(value, self._first_type_id)
        except GobEncodeError as exc:
            path = "values" + exc.path
            raise SerializeError(
                f"{exc.detail} at {path}", path=path, type_name=exc.type_name
            ) from None

    def deserialize(self, data: bytes) -> object:
        """The value of one gob stream; ``DeserializeError`` if it is not valid gob."""
        try:
            return decode(data)
        except GobDecodeError as exc:
            raise DeserializeError(exc.detail) from None

    def __repr__(self) -> str:
        if self._first_type_id == FIRST_SENT_TYPE_ID:
            return "GobSerializer()"
        return f"GobSerializer(first_type_id={self._first_type_id})"
