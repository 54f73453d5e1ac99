"""Writing gob's framing: primitives, messages and type definitions.

:class:`TypeSender` allocates type ids and sends definitions the way Go's
``encoding/gob`` encoder (Go 1.19) does: ids in Go's order (a struct before
its fields, a slice or map after its parts), each definition in its own
message, and a definition needed in the middle of a value flushed together
with the part of the value written so far. With it the encoder reproduces a
fresh Go process's bytes exactly.
"""

from __future__ import annotations

import struct

from reference_impl.gob._types import GoType, Kind

__all__ = [
    "TypeSender",
    "write_float",
    "write_int",
    "write_message",
    "write_string",
    "write_uint",
]

_pack_double = struct.Struct("<d").pack
_UINTS = [bytes([n]) for n in range(128)]


def write_uint(number: int) -> bytes:
    """A gob uint: one byte below 128, else the negated byte count and big-endian bytes."""
    if number < 128:
        return _UINTS[number]
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return bytes([256 - len(raw)]) + raw


def write_int(number: int) -> bytes:
    """A gob int: zig-zag (sign in the low bit, complemented if negative) as a uint."""
    return write_uint(number << 1 if number >= 0 else ((~number) << 1) | 1)


def write_float(number: float) -> bytes:
    """A gob float: the float64 bits, byte-reversed, as a uint."""
    return write_uint(int.from_bytes(_pack_double(number), "big"))


def write_string(text: bytes) -> bytes:
    """A gob string or byte slice: length, then the bytes."""
    return write_uint(len(text)) + text


def write_message(writer: bytearray, message: bytearray) -> None:
    """Append ``message`` to ``writer``, length first, and empty it (Go's writeMessage)."""
    writer += write_uint(len(message))
    writer += message
    message.clear()


class TypeSender:
    """Go's type table for one stream, and the definitions already sent on it."""

    __slots__ = ("_ids", "_names", "_next_id", "_sent", "_writers")

    def __init__(self, first_type_id: int) -> None:
        self._next_id = first_type_id
        self._ids: dict[GoType, int] = {}  # Go's process-wide type table, for this stream
        self._names: dict[GoType, str] = {}  # the name each definition carries
        self._sent: set[GoType] = set()
        #: Where definitions go: the stream, or the enclosing interface's buffer.
        self._writers: list[bytearray] = []

    def type_id(self, wire: GoType) -> int:
        """The id of a type whose definition was sent (or a basic one)."""
        return wire.basic_id or self._ids[wire]

    def _build(self, wire: GoType, name: str) -> int:
        """Allocate ids for ``wire`` and its parts in Go's order (newTypeObject)."""
        if wire.basic_id:
            return wire.basic_id
        known = self._ids.get(wire)
        if known is not None:
            return known
        kind = wire.kind
        if kind is Kind.STRUCT or kind is Kind.EXTERNAL:  # id first, then the fields
            type_id = self._allocate(wire, name)
            for _, field in wire.fields:
                self._build(field, field.name or str(field))
            return type_id
        assert wire.elem is not None
        if kind is Kind.MAP:
            assert wire.key is not None
            self._build(wire.key, "")
            self._build(wire.elem, "")
        else:
            self._build(wire.elem, wire.elem.name if kind is Kind.SLICE else "")
        return self._allocate(wire, name)

    def _allocate(self, wire: GoType, name: str) -> int:
        type_id = self._next_id
        self._next_id += 1
        self._ids[wire] = type_id
        self._names[wire] = name
        return type_id

    def send_descriptor(self, writer: bytearray, message: bytearray, wire: GoType) -> None:
        """Make sure ``wire`` is defined on the stream (Go's sendTypeDescriptor)."""
        if wire not in self._sent and not self._send_type(writer, message, wire):
            self._build(wire, wire.name)
            self._sent.add(wire)

    def _send_type(self, writer: bytearray, message: bytearray, wire: GoType) -> bool:
        if wire.basic_id or wire in self._sent:
            return False
        type_id = self._build(wire, wire.name)
        message += write_int(-type_id)
        message += self._definition(wire, type_id)
        write_message(writer, message)  # flushes any partial value with it, as Go does
        self._sent.add(wire)
        for part in (wire.key, wire.elem, *(field for _, field in wire.fields)):
            if part is not None:
                self._send_type(writer, message, part)
        return True

    def _definition(self, wire: GoType, type_id: int) -> bytes:
        # Every part is a struct: (field delta, value)... 0. CommonType is {Name, Id}.
        name = self._names[wire].encode("utf-8", "surrogateescape")
        common = b"\x01" + write_string(name) + b"\x01" if name else b"\x02"
        common += write_int(type_id) + b"\x00"
        kind = wire.kind
        if kind is Kind.STRUCT:
            fields = b"".join(
                b"\x01"
                + write_string(field.encode())
                + b"\x01"
                + write_int(self.type_id(part))
                + b"\x00"
                for field, part in wire.fields
            )
            body = b"\x01" + write_uint(len(wire.fields)) + fields if wire.fields else b""
            return b"\x03\x01" + common + body + b"\x00\x00"
        if kind is Kind.EXTERNAL:
            return bytes([wire.external + 1]) + b"\x01" + common + b"\x00\x00"
        assert wire.elem is not None
        elem = b"\x01" + write_int(self.type_id(wire.elem))
        if kind is Kind.SLICE:
            return b"\x02\x01" + common + elem + b"\x00\x00"
        if kind is Kind.ARRAY:
            length = b"\x01" + write_int(wire.length) if wire.length else b""
            return b"\x01\x01" + common + elem + length + b"\x00\x00"
        assert wire.key is not None
        key = b"\x01" + write_int(self.type_id(wire.key))
        return b"\x04\x01" + common + key + elem + b"\x00\x00"
