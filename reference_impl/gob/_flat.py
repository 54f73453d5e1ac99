"""The precompiled codec of flat sessions: one ``map[interface {}]interface {}`` of scalars.

Most sessions are a handful of string keys with strings, ints and bools
as values. Their gob stream never changes shape: one message defining
``map[interface {}]interface {}`` (the same bytes every time for a given
first type id), then one message holding the map, where every key and
value is an interface frame ``name, type id, byte count, 0, body`` whose
type is predefined, so no definition is ever sent in the middle.

:func:`encode_flat` writes such a map from cached pieces (the definition
message, the interface heads, the frames of keys seen before) and
:func:`decode_flat` reads it with plain index arithmetic over the bytes. Each
gives up, returning ``None``, at the first thing it does not handle: any
other value type, or anything unusual in the input (an unknown name, a long
uint where Go writes a short one, a repeated key, a truncation, ...). The
caller then runs the general encoder or decoder on the same input, which
writes the same bytes, reads the same values and reports any error exactly
as before; the fast paths never raise and never decide an error themselves.
``tests/reference_impl/test_gob_flat.py`` pins both to the general paths.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

from reference_impl.gob._typedefs import write_float, write_int, write_uint
from reference_impl.gob._values import WRAPPERS, Float32, Int64, Uint64, _GoInt

__all__ = ["decode_flat", "encode_flat", "flat_heads"]

_unpack_double = struct.Struct("<d").unpack
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

# -- encoding ---------------------------------------------------------------

_STRING = b"\x06string\x0c"  # interface name "string", then its type id 6
_INT = b"\x03int\x04"  # "int", id 2
_NIL = b"\x00"  # a nil interface: an empty name
_BOOLS = {True: b"\x04bool\x02\x02\x00\x01", False: b"\x04bool\x02\x02\x00\x00"}
#: Frames of the ints -64..63, whose zig-zag form is one byte.
_SMALL_INTS = tuple(
    _INT + bytes((2, 0, (n << 1) if n >= 0 else ((~n) << 1) | 1)) for n in range(-64, 64)
)

#: Frames of strings used as map keys: the same few keys in every session.
#: Bounded, so a program that writes ever new keys only stops adding to it.
_KEY_FRAMES: dict[str, bytes] = {}
_KEY_FRAMES_LIMIT, _KEY_MAX_CHARS = 1024, 64


def _frame(head: bytes, body: bytes) -> bytes:
    """An interface frame: name and id, the value's byte count, the singleton's 0, the value."""
    size = len(body) + 1
    if size < 0x80:
        return head + bytes((size, 0)) + body
    return head + write_uint(size) + b"\x00" + body


def _str_frame(text: str) -> bytes | None:
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None  # the general path reports it
    size = len(raw)
    if size < 126:  # byte count (size + 2) and length both one byte
        return _STRING + bytes((size + 2, 0, size)) + raw
    return _frame(_STRING, write_uint(size) + raw)


def _int_frame(number: int) -> bytes | None:
    if -64 <= number < 64:
        return _SMALL_INTS[number + 64]
    if _INT64_MIN <= number <= _INT64_MAX:
        return _frame(_INT, write_int(number))
    return None  # a uint64, or too large: the general path decides


def _wrapper_writer(cls: type[_GoInt]) -> Callable[[int], bytes | None]:
    """The frame writer of a Go integer wrapper (``Int64``, ``Uint8``, ...)."""
    low, high = cls.wire_type.bounds or (0, 0)
    signed = low < 0
    name = cls.go_type.encode()
    head = bytes((len(name),)) + name + (b"\x04" if signed else b"\x06")  # id 2 int, 3 uint

    def write(number: int) -> bytes | None:
        if not low <= number <= high:
            return None  # only a value built around the constructor; the general path says so
        return _frame(head, write_int(number) if signed else write_uint(number))

    return write


_FLOAT64 = b"\x07float64\x08"
_FLOAT32 = b"\x07float32\x08"
_BYTES = b"\x07[]uint8\x0a"

#: Writers of the other scalar types an interface can hold without a definition.
_WRITERS: dict[type, Callable[..., bytes | None]] = {
    float: lambda number: _frame(_FLOAT64, write_float(number)),
    Float32: lambda number: _frame(_FLOAT32, write_float(float(number))),
    bytes: lambda raw: _frame(_BYTES, write_uint(len(raw)) + raw),
    **{cls: _wrapper_writer(cls) for cls in WRAPPERS if issubclass(cls, _GoInt)},
}

#: The classes of every value :func:`_any_frame` may write.
_SCALARS = frozenset({str, int, bool, type(None), *_WRITERS})


def _any_frame(value: object) -> bytes | None:
    """The frame of a value of any handled type; ``None`` for the rest."""
    cls = value.__class__
    if cls is str:
        return _str_frame(value)  # type: ignore[arg-type]
    if cls is int:
        return _int_frame(value)  # type: ignore[arg-type]
    if cls is bool:
        return _BOOLS[value]  # type: ignore[index]
    if value is None:
        return _NIL
    writer = _WRITERS.get(cls)
    return None if writer is None else writer(value)


@functools.lru_cache(maxsize=64)
def flat_heads(first_type_id: int) -> tuple[bytes, bytes]:
    """The definition message of the session map, and the start of its value message.

    Taken from the general encoder's own output for an empty map, so the
    pieces are its bytes by construction.
    """
    from reference_impl.gob._encode import encode_general

    stream = encode_general({}, first_type_id)
    start = write_int(first_type_id) + b"\x00"  # the type id, the singleton's 0
    value_message = write_uint(len(start) + 1) + start + b"\x00"  # ... and a count of 0
    assert stream.endswith(value_message)
    return stream[: -len(value_message)], start


def encode_flat(session: dict[object, object], first_type_id: int) -> bytes | None:
    """The stream of a session map of scalars; ``None`` if it holds anything else."""
    if not _SCALARS.issuperset(map(type, session.values())):
        return None  # a nested value: give up before any work
    definition, start = flat_heads(first_type_id)
    parts = [start, write_uint(len(session))]
    append = parts.append
    keys = _KEY_FRAMES
    for key, value in session.items():
        if key.__class__ is str:
            frame = keys.get(key)
            if frame is None:
                frame = _str_frame(key)
                if frame is None:
                    return None
                if len(keys) < _KEY_FRAMES_LIMIT and len(key) <= _KEY_MAX_CHARS:
                    keys[key] = frame
        elif key.__class__ is bytes:
            return None  # Go cannot use a []uint8 as a map key: the general path says so
        else:
            frame = _any_frame(key)
            if frame is None:
                return None
        append(frame)
        cls = value.__class__
        if cls is str:
            frame = _str_frame(value)  # type: ignore[arg-type]
        elif cls is int:
            frame = _int_frame(value)  # type: ignore[arg-type]
        elif cls is bool:
            frame = _BOOLS[value]  # type: ignore[index]
        else:
            frame = _any_frame(value)
        if frame is None:
            return None
        append(frame)
    body = b"".join(parts)
    return definition + write_uint(len(body)) + body


# -- decoding ---------------------------------------------------------------

_STR, _SIGNED, _UNSIGNED, _BOOL, _FLOAT, _RAW = range(6)

#: Interface heads (name length, name, one-byte type id) → how to read the
#: value and what to make of it. The types the general decoder's own fast
#: path reads, with the same results.
_READERS: dict[bytes, tuple[int, Callable[[Any], object] | None]] = {
    _STRING: (_STR, None),
    _INT: (_SIGNED, None),
    b"\x04bool\x02": (_BOOL, None),
    _FLOAT64: (_FLOAT, None),
    _BYTES: (_RAW, None),
    b"\x05int64\x04": (_SIGNED, Int64),
    b"\x06uint64\x06": (_UNSIGNED, Uint64),
}

#: Definition messages of the session map (one per first type id seen) →
#: the bytes its value message starts with. Bounded: junk only misses.
_STARTS: dict[bytes, bytes] = {}
_STARTS_LIMIT = 64
#: How the definition of ``map[interface {}]interface {}`` ends (key and element
#: type id 8): a cheap filter before the comparison with the encoder's bytes.
_MAP_TAIL = b"\x00\x01\x10\x01\x10\x00\x00"


def _long_uint(data: bytes, pos: int) -> tuple[int, int]:
    """A gob uint of 2 to 9 bytes at ``pos``: (value, position after it); IndexError if cut."""
    width = 256 - data[pos]
    if width > 8:
        raise IndexError
    end = pos + 1 + width
    if end > len(data):
        raise IndexError
    return int.from_bytes(data[pos + 1 : end], "big"), end


def _start_after(definition: bytes) -> bytes | None:
    """The value message's start if ``definition`` defines the session map, else ``None``.

    ``definition`` is a whole first message, its length byte included.
    """
    start = _STARTS.get(definition)
    if start is not None:
        return start
    # The message starts with the negated type id it defines.
    negated = definition[1] if definition[1] < 0x80 else _long_uint(definition, 1)[0]
    if not negated & 1 or not definition.endswith(_MAP_TAIL):
        return None
    type_id = (negated >> 1) + 1
    if not 64 <= type_id < 1 << 31 or flat_heads(type_id)[0] != definition:
        return None
    start = flat_heads(type_id)[1]
    if len(_STARTS) < _STARTS_LIMIT:
        _STARTS[definition] = start
    return start


class _GiveUp(Exception):
    """Raised inside the fast decoder for anything it leaves to the general one."""


def decode_flat(data: bytes) -> dict[object, object] | None:
    """The session map of a stream of scalars; ``None`` if it is anything else.

    Never raises: any input it does not read as the general decoder would
    gives ``None`` (reading past the end of the message included).
    """
    try:
        return _decode_flat(data)
    except (IndexError, _GiveUp):
        return None


def _decode_flat(data: bytes) -> dict[object, object] | None:
    size = data[0]
    if size >= 0x80:
        return None
    pos = size + 1
    start = _start_after(data[:pos])
    if start is None:
        return None
    # The value message: bounded by its own length, and read as a copy of
    # just those bytes, so reading past its end is an IndexError.
    size = data[pos]
    if size < 0x80:
        pos += 1
    else:
        size, pos = _long_uint(data, pos)
    if pos + size != len(data):
        # Go's stream of a flat session ends with this message. Definitions
        # after it mean a nested value (bytes after the value are ignored,
        # which the general path does as well as any other case).
        return None
    message = data[pos:]
    if not message.startswith(start):
        return None
    pos = len(start)
    count = message[pos]
    if count < 0x80:
        pos += 1
    else:
        count, pos = _long_uint(message, pos)
    if 2 * count > size - pos:  # every key and value takes at least one byte
        return None
    strings, small_ints = _SHORT_STRINGS, _SMALL_INT_VALUES
    items: list[object] = []
    append = items.append
    for _ in range(2 * count):
        # The two commonest frames are recognised whole by their first bytes.
        length = strings.get(message[pos : pos + 11])
        if length is not None:
            pos += 11
            end = pos + length
            if end > size:
                return None
            append(message[pos:end].decode("utf-8", "surrogateescape"))
            pos = end
            continue
        number = small_ints.get(message[pos : pos + 8])
        if number is not None:
            append(number)
            pos += 8
            continue
        value, pos = _read_frame(message, pos, size)
        append(value)
    pairs = iter(items)
    result = dict(zip(pairs, pairs, strict=True))
    if len(result) != count:
        return None  # a repeated key: the general path sorts out which wins
    return result


#: The first 11 bytes of the frame of a string of 0 to 125 bytes → its length.
_SHORT_STRINGS = {_STRING + bytes((n + 2, 0, n)): n for n in range(126)}
#: The whole frame of an int from -64 to 63 → the int.
_SMALL_INT_VALUES = {frame: n for n, frame in enumerate(_SMALL_INTS, -64)}


def _read_frame(message: bytes, pos: int, size: int) -> tuple[object, int]:
    """One interface frame at ``pos``: (value, position after it); ``_GiveUp`` if not handled."""
    name_size = message[pos]
    if name_size == 0:  # nil
        return None, pos + 1
    found = _READERS.get(message[pos : pos + name_size + 2])
    if found is None:
        raise _GiveUp
    pos += name_size + 2
    # The value's byte count (not needed), then the singleton's 0.
    if message[pos] >= 0x80:
        _, pos = _long_uint(message, pos)
    else:
        pos += 1
    if message[pos]:
        raise _GiveUp
    pos += 1
    number = message[pos]
    if number < 0x80:
        pos += 1
    else:
        number, pos = _long_uint(message, pos)
    how, make = found
    value: object
    if how in (_STR, _RAW):
        end = pos + number
        if end > size:
            raise _GiveUp
        raw = message[pos:end]
        pos = end
        value = raw.decode("utf-8", "surrogateescape") if how == _STR else raw
    elif how == _SIGNED:
        value = ~(number >> 1) if number & 1 else number >> 1
    elif how == _BOOL:
        value = number != 0
    elif how == _FLOAT:
        value = _unpack_double(number.to_bytes(8, "big"))[0]
    else:
        value = number
    return (value if make is None else make(value)), pos
