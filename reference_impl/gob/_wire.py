"""Reading gob's framing: messages, primitives and type definitions.

:class:`WireReader` mirrors Go's ``encoding/gob`` decoder (Go 1.19) up to
the point where values start: it reads message after message, and the type
definitions Go sends ahead of a value or in the middle of one (where a
definition swallows a message boundary and a stray length prefix). Go's
error texts are kept where a reader might search for them.

Every length and count is checked against the bytes left before anything
is read or allocated (a string against its message, an element count
against the whole rest of the input, as every element takes at least one
byte). Type definitions are resolved lazily, at most ``MAX_DEPTH`` deep, and
recursive ones are refused, so no definition can make resolution loop.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

from reference_impl.gob._types import BY_WIRE_ID, MAX_DEPTH, TIME, GoType, Kind

__all__ = ["ERR_RANGE", "GobDecodeError", "WireReader"]

# Go's own error texts (encoding/gob), so logs read the same on both sides.
_ERR_BAD_UINT = "gob: encoded unsigned integer out of range"
ERR_RANGE = "gob: bad data: field numbers out of bounds"
_TOO_BIG = 1 << 33  # Go's limit on one message (8 GiB on 64-bit)
#: Go's ``firstUserId``: ids below it are Go's predeclared types, which a
#: stream may never redefine (a redefinition is refused, as Go refuses it).
_FIRST_DEFINABLE_TYPE_ID = 64
_unpack_double = struct.Struct("<d").unpack
# Every session stream starts with the same definitions; parsing them once is
# enough. Bounded, so junk input can only make later lookups miss.
_CACHE_LIMIT, _CACHED_SIZE = 256, 64


class GobDecodeError(Exception):
    """A stream is not valid gob (the serializer turns it into ``DeserializeError``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _Def(NamedTuple):
    """One received type definition (Go's wireType), before ids are resolved."""

    kind: Kind
    name: str
    elem: int = 0
    key: int = 0
    length: int = 0
    fields: tuple[tuple[str, int], ...] = ()
    external: int = 0


_DEF_CACHE: dict[bytes, _Def] = {}
_TYPE_CACHE: dict[_Def, GoType] = {}


class WireReader:
    """The unread input, the current message, and the type definitions seen so far."""

    __slots__ = ("_building", "_data", "_defs", "_end", "_pos", "_size", "_types")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._size = len(self._data)
        self._pos = 0
        self._end = 0  # end of the current message; every value read stays below it
        self._defs: dict[int, _Def] = {}
        self._types: dict[int, GoType] = {}
        self._building: set[int] = set()

    # -- primitives (all bounded by the current message) ---------------------

    def _uint(self) -> int:
        pos, data = self._pos, self._data
        if pos >= self._end:
            raise GobDecodeError("EOF")
        first = data[pos]
        if first < 0x80:
            self._pos = pos + 1
            return first
        size = 256 - first
        if size > 8:
            raise GobDecodeError(_ERR_BAD_UINT)
        if pos + 1 + size > self._end:
            left = self._end - pos - 1
            raise GobDecodeError(f"gob: invalid uint data length {size}: exceeds input size {left}")
        self._pos = pos + 1 + size
        return int.from_bytes(data[pos + 1 : pos + 1 + size], "big")

    def _int(self) -> int:
        raw = self._uint()
        return ~(raw >> 1) if raw & 1 else raw >> 1

    def _raw(self, what: str) -> bytes:
        size = self._uint()
        pos = self._pos
        if size > self._end - pos:
            raise GobDecodeError(f"gob: {what} data too long for buffer: {size}")
        self._pos = pos + size
        return self._data[pos : pos + size]

    def _text(self) -> str:
        # Go strings are bytes; invalid UTF-8 survives as lone surrogates (PEP 383).
        return self._raw("string").decode("utf-8", "surrogateescape")

    def _float(self) -> float:
        value: float = _unpack_double(self._uint().to_bytes(8, "big"))[0]
        return value

    def _count(self, per_item: int) -> int:
        count = self._uint()
        left = self._size - self._pos
        if count * per_item > left:  # every element takes at least one byte
            raise GobDecodeError(f"gob: {count} elements cannot fit in the {left} bytes left")
        return count

    def _fields(self, count: int) -> Iterator[int]:
        """Yield the present field numbers of a struct with ``count`` fields (Go's delta loop)."""
        field = -1
        while self._pos < self._end:  # as in Go, the end of the message also ends a struct
            delta = self._uint()
            if delta == 0:
                return
            field += delta
            if field >= count:
                raise GobDecodeError(ERR_RANGE)
            yield field

    # -- messages and type definitions --------------------------------------

    def _next_message(self, first: bool) -> None:
        pos = self._pos
        if pos >= self._size:
            raise GobDecodeError("EOF" if first else "unexpected EOF")
        head = self._data[pos]
        width = 1 if head < 0x80 else 1 + 256 - head
        if width > 9:
            raise GobDecodeError(_ERR_BAD_UINT)
        if pos + width > self._size:
            raise GobDecodeError("unexpected EOF")
        length = head if width == 1 else int.from_bytes(self._data[pos + 1 : pos + width], "big")
        if length >= _TOO_BIG:
            raise GobDecodeError("invalid message length")
        self._pos = pos + width
        if length > self._size - self._pos:
            raise GobDecodeError("unexpected EOF")
        self._end = self._pos + length

    def _type_sequence(self, in_interface: bool) -> int:
        """Read type definitions up to the next type id (Go's decodeTypeSequence)."""
        first = True
        while True:
            if self._pos >= self._end:
                self._next_message(first)
            type_id = self._int()
            if type_id >= 0:
                return type_id
            self._receive_type(-type_id)
            if self._pos < self._end:
                # Inside an interface, the rest of the value follows a length
                # prefix that says nothing useful; Go skips it too.
                if not in_interface:
                    raise GobDecodeError("extra data in buffer")
                self._uint()
            first = False

    def _receive_type(self, type_id: int) -> None:
        if type_id < _FIRST_DEFINABLE_TYPE_ID or type_id in self._defs:
            raise GobDecodeError("gob: duplicate type received")
        start, end = self._pos, self._end
        raw = self._data[start:end] if end - start <= _CACHED_SIZE else b""
        found = _DEF_CACHE.get(raw) if raw else None
        if found is None:
            found = self._wire_type()
            if raw and self._pos == end and len(_DEF_CACHE) < _CACHE_LIMIT:
                _DEF_CACHE[raw] = found  # the definition was the whole rest of the message
        else:
            self._pos = end
        self._defs[type_id] = found

    def _wire_type(self) -> _Def:
        found: _Def | None = None
        for field in self._fields(7):
            if found is not None:
                raise GobDecodeError("gob: type definition with more than one kind")
            found = self._definition(field)
        if found is None:
            raise GobDecodeError("gob: empty type definition")
        return found

    def _common(self) -> str:
        name = ""
        for field in self._fields(2):
            if field == 0:
                name = self._text()
            else:
                self._int()  # the id again; Go does not use it either
        return name

    def _definition(self, which: int) -> _Def:
        name, ids, length = "", [0, 0], 0
        pairs: list[tuple[str, int]] = []
        # Field layouts: array {common, elem, len}, slice {common, elem},
        # struct {common, fields}, map {common, key, elem}, external {common}.
        sizes = (3, 2, 2, 3, 1, 1, 1)
        for field in self._fields(sizes[which]):
            if field == 0:
                name = self._common()
            elif which == 2:
                pairs = [self._field_type() for _ in range(self._count(1))]
            elif which == 0 and field == 2:
                length = self._int()
            else:
                ids[field - 1] = self._int()
        if which == 0:
            return _Def(Kind.ARRAY, name, elem=ids[0], length=length)
        if which == 1:
            return _Def(Kind.SLICE, name, elem=ids[0])
        if which == 2:
            return _Def(Kind.STRUCT, name, fields=tuple(pairs))
        if which == 3:
            return _Def(Kind.MAP, name, key=ids[0], elem=ids[1])
        return _Def(Kind.EXTERNAL, name, external=which)

    def _field_type(self) -> tuple[str, int]:
        name, type_id = "", 0
        for field in self._fields(2):
            if field == 0:
                name = self._text()
            else:
                type_id = self._int()
        return name, type_id

    def _type(self, type_id: int, depth: int = 0) -> GoType:
        known = BY_WIRE_ID.get(type_id) or self._types.get(type_id)
        if known is not None:
            return known
        spec = self._defs.get(type_id)
        if spec is None:
            raise GobDecodeError(f"gob: unknown type id {type_id} or corrupted data")
        if type_id in self._building or depth > MAX_DEPTH:
            raise GobDecodeError("gob: recursive or too deeply nested type definitions")
        built = _TYPE_CACHE.get(spec)
        if built is None:
            self._building.add(type_id)
            built = self._build(spec, depth + 1)
            self._building.discard(type_id)
            parts = (spec.elem, spec.key, *(i for _, i in spec.fields))
            if all(i in BY_WIRE_ID for i in parts if i) and len(_TYPE_CACHE) < _CACHE_LIMIT:
                _TYPE_CACHE[spec] = built  # refers to predefined types only
        self._types[type_id] = built
        return built

    def _build(self, spec: _Def, depth: int) -> GoType:
        kind, name = spec.kind, spec.name
        if kind is Kind.STRUCT:
            fields = [(n, self._type(i, depth)) for n, i in spec.fields]
            if len({n for n, _ in fields}) != len(fields):
                raise GobDecodeError("gob: duplicate field name in struct definition")
            return GoType(kind, name=name, string=name, fields=fields)
        if kind is Kind.EXTERNAL:
            if name == "Time" and spec.external == TIME.external:
                return TIME
            return GoType(kind, name=name, string=name, external=spec.external)
        elem = self._type(spec.elem, depth)
        key = self._type(spec.key, depth) if kind is Kind.MAP else None
        if key is not None and key.kind in (Kind.SLICE, Kind.MAP, Kind.BYTES):
            raise GobDecodeError(f"gob: invalid map key type {key}")
        if spec.length < 0:
            raise GobDecodeError("gob: negative array length")
        built = GoType(kind, elem=elem, key=key, length=spec.length)
        if name and name != str(built):  # a named type, e.g. type Roles []string
            built = GoType(kind, name=name, string=name, elem=elem, key=key, length=spec.length)
        return built
