"""Writing gob values: the encoder half of :mod:`reference_impl.gob`.

It follows Go's ``encoding/gob`` encoder (Go 1.19) step for step on top of
:class:`~reference_impl.gob._typedefs.TypeSender`, so the output is byte
for byte what a fresh Go process writes for the same value (map entries
aside, which Go writes in random order), not merely something Go can read.
Values are checked against their Go type as they are written; anything Go
could not receive raises :class:`GobEncodeError` with its path.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from reference_impl._codec.primitives import INT64_MAX, INT64_MIN
from reference_impl.gob._flat import encode_flat
from reference_impl.gob._mapping import GobEncodeError, infer
from reference_impl.gob._time import GoTime
from reference_impl.gob._typedefs import (
    TypeSender,
    write_float,
    write_int,
    write_message,
    write_string,
    write_uint,
)
from reference_impl.gob._types import (
    MAP_INTERFACE_INTERFACE,
    MAX_DEPTH,
    TIME,
    GoType,
    Kind,
)
from reference_impl.gob._values import (
    Complex64,
    Float32,
    GoMap,
    GoStruct,
    GoValue,
)

__all__ = ["FIRST_SENT_TYPE_ID", "GobEncodeError", "encode"]

#: The id a fresh Go process gives the first type it sends, so the first id
#: written (gorilla's vectors start at 65). A long-running process that has
#: already sent other types numbers new ones higher.
FIRST_SENT_TYPE_ID = 65

#: Go cannot use values of these kinds as map keys.
_NOT_KEYS = frozenset({Kind.SLICE, Kind.MAP, Kind.BYTES})


def encode(value: object, first_type_id: int = FIRST_SENT_TYPE_ID) -> bytes:
    """Encode ``value`` as one gob stream.

    A ``dict`` is the session map, ``map[interface {}]interface {}``.
    """
    if value.__class__ is dict:  # a session of scalars: the precompiled codec
        flat = encode_flat(value, first_type_id)
        if flat is not None:
            return flat
    return encode_general(value, first_type_id)


def encode_general(value: object, first_type_id: int = FIRST_SENT_TYPE_ID) -> bytes:
    """:func:`encode` for any value, step for step as Go's encoder."""
    if isinstance(value, dict) and not isinstance(value, GoMap):
        wire = MAP_INTERFACE_INTERFACE
    else:
        wire, _ = infer(value)
    return _Encoder(first_type_id).top(value, wire)


#: Interface name and type id of the fast-path basic values.
_BASIC_HEADS = {
    str: b"\x06string\x0c",
    int: b"\x03int\x04",
    bool: b"\x04bool\x02",
    float: b"\x07float64\x08",
}


def _basic_body(value: Any) -> bytes | None:
    """The encoded value of a str, int, bool or float; ``None`` to take the general path."""
    if value.__class__ is str:
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return None  # the general path reports it
        return write_uint(len(raw)) + raw
    if value.__class__ is int:
        return write_int(value) if INT64_MIN <= value <= INT64_MAX else None
    if value.__class__ is bool:
        return b"\x01" if value else b"\x00"
    return write_float(value)


class _Encoder(TypeSender):
    __slots__ = ()

    def top(self, value: object, wire: GoType) -> bytes:
        out = bytearray()
        self._writers = [out]
        message = bytearray()
        self.send_descriptor(out, message, wire)
        message += write_int(self.type_id(wire))
        self._singleton(message, value, wire, 0)
        write_message(out, message)
        return bytes(out)

    # -- values --------------------------------------------------------------

    def _singleton(self, out: bytearray, value: object, wire: GoType, depth: int) -> None:
        if wire.kind is not Kind.STRUCT:
            out.append(0)
        self._value(out, value, wire, depth)

    def _interface(self, out: bytearray, value: object, depth: int) -> None:
        if value is None:
            out.append(0)
            return
        cls = value.__class__
        if cls is str or cls is int or cls is bool or cls is float:
            # The common basic values, written directly: no definition is ever
            # needed for them, so the bytes are those of the general path.
            body = _basic_body(value)
            if body is not None:
                out += _BASIC_HEADS[cls]
                out += write_uint(len(body) + 1)
                out.append(0)
                out += body
                return
        wire, name = infer(value)
        out += write_string(name.encode())
        self.send_descriptor(self._writers[-1], out, wire)
        out += write_int(self.type_id(wire))
        self._writers.append(out)
        payload = bytearray()
        self._singleton(payload, value, wire, depth)
        self._writers.pop()
        write_message(out, payload)

    def _value(self, out: bytearray, value: Any, wire: GoType, depth: int) -> None:
        kind = wire.kind
        if kind is Kind.INTERFACE:
            self._interface(out, value, depth)
            return
        if value.__class__ is GoValue:  # its type is the position's type
            value = value.value
        if kind is Kind.STRING:
            if type(value) is not str:
                raise _wrong(value, wire)
            try:
                out += write_string(value.encode("utf-8", "surrogateescape"))
            except UnicodeEncodeError as exc:
                bad = f"U+{ord(value[exc.start]):04X}"
                raise GobEncodeError(f"gob: lone surrogate {bad} in string", value) from None
        elif kind is Kind.INT or kind is Kind.UINT:
            if not isinstance(value, int) or isinstance(value, bool):
                raise _wrong(value, wire)
            low, high = wire.bounds or (0, 0)
            if not low <= value <= high:
                raise GobEncodeError(f"gob: {value} does not fit Go {wire}", value)
            out += write_int(value) if kind is Kind.INT else write_uint(value)
        elif kind is Kind.BOOL:
            if type(value) is not bool:
                raise _wrong(value, wire)
            out.append(1 if value else 0)
        elif kind is Kind.FLOAT or kind is Kind.COMPLEX:
            self._number(out, value, wire)
        elif kind is Kind.BYTES:
            if not isinstance(value, bytes | bytearray):
                raise _wrong(value, wire)
            out += write_string(bytes(value))
        elif kind is Kind.EXTERNAL:
            out += write_string(_external(value, wire))
        else:
            if depth >= MAX_DEPTH:
                raise GobEncodeError("gob: value nested too deeply (or it contains itself)", value)
            if kind is Kind.STRUCT:
                self._struct(out, value, wire, depth + 1)
            elif kind is Kind.MAP:
                self._map(out, value, wire, depth + 1)
            else:
                self._list(out, value, wire, depth + 1)

    def _number(self, out: bytearray, value: Any, wire: GoType) -> None:
        narrow = wire.name in ("float32", "complex64")
        if wire.kind is Kind.FLOAT:
            if not isinstance(value, float | int) or isinstance(value, bool):
                raise _wrong(value, wire)
            try:
                out += write_float(float(Float32(value)) if narrow else float(value))
            except OverflowError:
                raise GobEncodeError(f"gob: {value} does not fit Go {wire}", value) from None
            return
        if not isinstance(value, complex | float | int) or isinstance(value, bool):
            raise _wrong(value, wire)
        try:
            number = complex(Complex64(value)) if narrow else complex(value)
        except OverflowError:
            raise GobEncodeError(f"gob: {value} does not fit Go {wire}", value) from None
        out += write_float(number.real) + write_float(number.imag)

    def _list(self, out: bytearray, value: Any, wire: GoType, depth: int) -> None:
        if not isinstance(value, list | tuple):
            raise _wrong(value, wire)
        if wire.kind is Kind.ARRAY and len(value) != wire.length:
            raise GobEncodeError(
                f"gob: {wire} needs {wire.length} elements, got {len(value)}", value
            )
        out += write_uint(len(value))
        elem = wire.elem
        assert elem is not None
        for index, item in enumerate(value):
            try:
                self._value(out, item, elem, depth)
            except GobEncodeError as exc:
                exc.steps.append(f"[{index}]")
                raise

    def _map(self, out: bytearray, value: Any, wire: GoType, depth: int) -> None:
        if not isinstance(value, dict):
            raise _wrong(value, wire)
        key_type, elem = wire.key, wire.elem
        assert key_type is not None and elem is not None
        out += write_uint(len(value))
        any_key, any_elem = key_type.kind is Kind.INTERFACE, elem.kind is Kind.INTERFACE
        for key, item in value.items():
            try:
                if any_key:
                    if key.__class__ is not str and key.__class__ is not int and key is not None:
                        key_kind = infer(key)[0].kind
                        if key_kind in _NOT_KEYS:
                            detail = f"gob: Go cannot use a {key_kind.value} as a map key"
                            raise GobEncodeError(detail, key)
                    self._interface(out, key, depth)
                else:
                    self._value(out, key, key_type, depth)
                if any_elem:
                    self._interface(out, item, depth)
                else:
                    self._value(out, item, elem, depth)
            except GobEncodeError as exc:
                exc.steps.append(f"[{key!r}]")
                raise

    def _struct(self, out: bytearray, value: Any, wire: GoType, depth: int) -> None:
        if isinstance(value, GoStruct):
            if value.wire_type != wire:
                raise GobEncodeError(f"gob: a {value.go_type} where {wire} belongs", value)
        elif not isinstance(value, Mapping):
            raise _wrong(value, wire)
        else:
            unknown = set(value) - wire.field_types.keys()
            if unknown:
                raise GobEncodeError(
                    f"gob: {wire} has no field {sorted(map(str, unknown))[0]}", value
                )
        last = -1
        for index, (name, kind) in enumerate(wire.fields):
            item = value.get(name)
            if _is_zero(item, kind):  # Go leaves zero fields out
                continue
            out += write_uint(index - last)
            last = index
            try:
                self._value(out, item, kind, depth)
            except GobEncodeError as exc:
                exc.steps.append(f".{name}")
                raise
        out.append(0)


def _is_zero(value: object, wire: GoType) -> bool:
    """Whether Go would leave this struct field out (its encoder's per-kind zero test)."""
    if value is None:
        return True
    kind = wire.kind
    if kind in (Kind.MAP, Kind.ARRAY, Kind.STRUCT):
        return False  # Go sends empty maps, arrays and structs; only nil ones are left out
    if kind is Kind.BOOL:
        return value is False
    if kind in (Kind.STRING, Kind.BYTES, Kind.SLICE):
        return isinstance(value, str | bytes | bytearray | list | tuple) and not value
    if kind is Kind.EXTERNAL:
        return isinstance(value, GoTime) and value.is_zero()
    if kind is Kind.INTERFACE:
        return False
    return isinstance(value, int | float | complex) and not isinstance(value, bool) and value == 0


def _external(value: object, wire: GoType) -> bytes:
    if wire == TIME:
        if isinstance(value, GoTime):
            return value.marshal_binary()
        if isinstance(value, datetime.datetime):
            try:
                return GoTime.from_datetime(value).marshal_binary()
            except (ValueError, OverflowError) as exc:
                raise GobEncodeError(f"gob: {exc}", value) from None
    if isinstance(value, GoValue) and value.wire_type == wire and isinstance(value.value, bytes):
        return value.value
    if isinstance(value, bytes) and wire != TIME:
        return value
    raise _wrong(value, wire)


def _wrong(value: object, wire: GoType) -> GobEncodeError:
    return GobEncodeError(f"gob: a Python {type(value).__qualname__} cannot be a Go {wire}", value)
