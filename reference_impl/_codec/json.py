"""The JSON engine behind :class:`reference_impl.serializers.JSONSerializer` (private).

The format is documented in :mod:`reference_impl.serializers`. Each direction
has a fast path on ``pydantic_core`` and a general path that defines the
format and handles everything else; the tests check each pair against the
other and against Go 1.19. Writing: a sorted, type-checked copy through
``to_json``, else :func:`_emit` (floats, bytes, int keys, tag-like keys,
errors). Reading: ``from_json``, else the stdlib scanner with hooks (tags,
float64 range, long ints). Errors are explained by walking the value again
(:func:`_explain`) only once something has gone wrong.

Integers are limited to :data:`MAX_INT_DIGITS` decimal digits in both
directions. Converting decimal text to an int costs time quadratic in its
length (a million digits took 21 s), so an unbounded reader would let one
cookie pin a CPU core. Only a peer holding the hash key can get such a
number past the MAC (a Go service sharing the key, or a leaked key), but
the limit costs nothing: it is CPython's own ``int``/``str`` limit, and
pydantic-core refuses longer numbers too. The writer refuses what the
reader would refuse, so every value we write reads back.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from json.encoder import encode_basestring as _quote
from typing import Any

from pydantic_core import PydanticSerializationError, from_json, to_json

try:  # the optional accelerator (``sessionspec[fast]``); the output bytes are the same
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the fallback test with orjson hidden
    _orjson = None  # type: ignore[assignment]

from reference_impl._codec.primitives import go_float, int_text
from spec.errors import DeserializeError, SerializeError

__all__ = ["MAX_INT_DIGITS", "TAG_BYTES", "TAG_MAP", "dumps", "loads"]

#: The most decimal digits an int may have, written or read (S-1.10): the
#: default of CPython's ``sys.get_int_max_str_digits()``.
MAX_INT_DIGITS = 4300
_INT_BOUND = 10**MAX_INT_DIGITS  # |n| < this has at most MAX_INT_DIGITS digits
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_INT_DIGITS + 1))

TAG_BYTES = "$bytes"
TAG_MAP = "$map"
_TAGS = frozenset((TAG_BYTES, TAG_MAP))
_PLAIN_LEAVES = frozenset((str, int, bool, type(None)))
_ESCAPE = re.compile(rb"\\.")  # every backslash starts a two-character escape
_GO_1_19_ESCAPES = {b"\\b": b"\\u0008", b"\\f": b"\\u000c"}  # Python writes \b and \f
_GO_ESCAPES = [(char.encode(), f"\\u{ord(char):04x}".encode()) for char in "&<>\u2028\u2029"]
_JSON_SPACE = " \t\r\n"
#: orjson reads an integer beyond 64 bits as a float, so text holding a run
#: of this many digits is read by pydantic-core (exact big ints) instead.
_ORJSON_DIGITS = b"0" * 19
#: Sorted keys, and Go's trailing newline written by orjson rather than appended (a copy).
_ORJSON_OPTIONS = 0 if _orjson is None else _orjson.OPT_SORT_KEYS | _orjson.OPT_APPEND_NEWLINE


class _NotPlain(Exception):
    """The fast writer met something only the general emitter handles (or rejects)."""


# --------------------------------------------------------------------------
# Writing


def dumps(value: object) -> bytes:
    """Encode ``value`` as Go's ``json.Encoder`` would, tagging bytes and int-keyed dicts.

    Raises:
        SerializeError: a value, key or string cannot be represented; nothing is returned.
    """
    try:
        if _orjson is not None:  # the same bytes (tests/reference_impl/test_json_orjson.py)
            _check_plain(value)
            data = _orjson.dumps(value, option=_ORJSON_OPTIONS)
        else:
            data = to_json(_sorted_copy(value)) + b"\n"
    except (_NotPlain, TypeError, RecursionError, PydanticSerializationError):
        data = _dumps_general(value) + b"\n"  # orjson's JSONEncodeError is a TypeError
    else:  # a digit run past the limit may be a too-long int: the general path checks
        if len(data) > MAX_INT_DIGITS and _LONG_DIGITS.search(data):
            data = _dumps_general(value) + b"\n"
    if 0x5C in data and (b"\\b" in data or b"\\f" in data):  # 0x5C: backslash
        data = _ESCAPE.sub(_go_escape, data)
    if 0x26 in data or 0x3C in data or 0x3E in data or 0xE2 in data:  # & < > and U+2028/9
        for raw, escaped in _GO_ESCAPES:  # none of these occurs in JSON syntax
            data = data.replace(raw, escaped)
    return data


def _go_escape(match: re.Match[bytes]) -> bytes:
    return _GO_1_19_ESCAPES.get(match.group(), match.group())


def _check_plain(value: Any) -> None:
    """Raise :class:`_NotPlain` unless ``value`` is what :func:`_sorted_copy` accepts.

    The same rule without the copy, for orjson, which sorts keys itself but
    would also accept tuples, enums, UUIDs, dataclasses and str subclasses
    that the format refuses (S-1.10) or writes differently (floats, bytes).
    It runs on every write, so it is written for speed: keys and values in
    separate loops, leaves recognised by one set lookup of their exact type
    (exact, so ``bool``/``int``/``str`` subclasses are refused).
    """
    kind = type(value)
    if kind is dict:
        if len(value) == 1 and next(iter(value)) in _TAGS:
            raise _NotPlain
        for key in value:
            if type(key) is not str:
                raise _NotPlain
        value = value.values()
    elif kind is not list:
        if kind not in _PLAIN_LEAVES:
            raise _NotPlain
        return
    for item in value:
        kind = type(item)
        if kind in _PLAIN_LEAVES:
            continue
        if kind is dict or kind is list:
            _check_plain(item)
        else:
            raise _NotPlain


def _sorted_copy(value: Any) -> Any:
    """``value`` with every dict rebuilt in sorted key order; only plain JSON allowed."""
    kind = type(value)
    if kind is dict:
        keys = sorted(value)  # TypeError when str and int keys are mixed
        if len(keys) == 1 and keys[0] in _TAGS:
            raise _NotPlain
        copy = {}
        for key in keys:
            if type(key) is not str:
                raise _NotPlain
            item = value[key]
            kind = type(item)
            if kind is dict or kind is list:
                item = _sorted_copy(item)
            elif kind not in _PLAIN_LEAVES:
                raise _NotPlain
            copy[key] = item
        return copy
    if kind is list:
        for item in value:
            if type(item) not in _PLAIN_LEAVES:
                break
        else:
            return value  # only leaves: no order to fix, no copy needed
        items = []
        for item in value:
            if type(item) is dict or type(item) is list:
                item = _sorted_copy(item)
            elif type(item) not in _PLAIN_LEAVES:
                raise _NotPlain
            items.append(item)
        return items
    if kind in _PLAIN_LEAVES:
        return value
    raise _NotPlain


def _dumps_general(value: object) -> bytes:
    out: list[str] = []
    try:
        _emit(value, out)
        return "".join(out).encode("utf-8")
    except (_NotPlain, ValueError, RecursionError, UnicodeEncodeError):  # NaN: ValueError
        raise _explain(value) from None


def _emit(value: Any, out: list[str]) -> None:
    """Append the JSON text of ``value`` (``Any``: this is user data, checked here)."""
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        try:
            keys = sorted(value)
        except TypeError:  # str and int keys mixed
            keys = []
        if not keys or type(keys[0]) is not str or (len(keys) == 1 and keys[0] in _TAGS):
            _emit_pairs(value, out)
            return
        sep = "{"
        for key in keys:
            if type(key) is not str:  # a str subclass sorts among strs
                raise _NotPlain
            out += (sep, _quote(key), ":")
            sep = ","
            _emit(value[key], out)
        out.append("}")
    elif kind is list:
        sep = "["
        for item in value:
            out.append(sep)
            sep = ","
            _emit(item, out)
        out.append("]" if sep == "," else "[]")
    elif kind is str:
        out.append(_quote(value))
    elif kind is int:
        if not -_INT_BOUND < value < _INT_BOUND:
            raise _NotPlain
        out.append(int_text(value))
    elif kind is float:
        out.append(_float_text(value))
    elif kind is bytes:
        encoded = binascii.b2a_base64(value, newline=False).decode("ascii")
        out.append(f'{{"{TAG_BYTES}":"{encoded}"}}')
    elif value is None or kind is bool:
        out.append("null" if value is None else "true" if value else "false")
    else:
        raise _NotPlain


def _emit_pairs(value: dict[Any, Any], out: list[str]) -> None:
    """``{"$map":[[k,v],...]}``: int keys first (numerically), then str keys (by code point)."""
    if any(
        type(key) is not str and (type(key) is not int or not -_INT_BOUND < key < _INT_BOUND)
        for key in value
    ):
        raise _NotPlain
    out.append(f'{{"{TAG_MAP}":[')
    sep = "["
    for key in sorted(value, key=lambda key: (type(key) is str, key)):
        out += (sep, _quote(key) if type(key) is str else int_text(key), ",")
        sep = ",["
        _emit(value[key], out)
        out.append("]")
    out.append("]}")


def _float_text(number: float) -> str:
    """Go's text for ``number``, unless that text would read back as a different number.

    Go writes 6.671809789846406e16 as ``66718097898464060``: integral text, so
    it reads back as that int, whose value differs from the float's
    (66718097898464064). Only integral floats from 2**53 up can do this; they
    are written in exponent form instead, which Go reads as the same float64.
    """
    text = go_float(number)
    if abs(number) >= 2**53 and "e" not in text and int(text) != number:
        return repr(number)
    return text


def _explain(value: object) -> SerializeError:
    try:
        found = _find_problem(value, "values", set())
    except RecursionError:
        found = ("json: value nested too deeply", "values", _type_name(value))
    if found is None:  # pragma: no cover - the emitter and this walk disagree
        found = ("json: cannot encode value", "values", _type_name(value))
    detail, path, type_name = found
    return SerializeError(f"{detail} at {path}", path=path, type_name=type_name)


def _type_name(value: object) -> str:
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _find_problem(value: Any, path: str, active: set[int]) -> tuple[str, str, str] | None:
    """The first thing in ``value`` the emitter cannot write, as (detail, path, type name)."""
    kind = type(value)
    if kind is str:
        return _string_problem(value, path)
    if kind is float and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        return f"json: unsupported value: {shown}", path, "float"
    if kind is int and not -_INT_BOUND < value < _INT_BOUND:
        return _too_long_int(path)
    if value is None or kind in (bool, int, float, bytes):
        return None
    if kind is not dict and kind is not list:
        return f"json: unsupported type: {_type_name(value)}", path, _type_name(value)
    if id(value) in active:
        return "json: unsupported value: encountered a cycle", path, kind.__name__
    active.add(id(value))
    children = []
    for key, item in value.items() if kind is dict else enumerate(value):
        if kind is dict and type(key) is not str and type(key) is not int:
            detail = f"json: unsupported map key type: {_type_name(key)} (key {key!r:.40})"
            return detail, path, _type_name(key)
        if kind is dict and type(key) is int and not -_INT_BOUND < key < _INT_BOUND:
            return _too_long_int(f"{path} key")
        if type(key) is str and (problem := _string_problem(key, f"{path} key {key!r}")):
            return problem
        children.append((f"{path}[{key!r}]", item))
    for child_path, item in children:
        if problem := _find_problem(item, child_path, active):
            return problem
    active.discard(id(value))
    return None


def _too_long_int(path: str) -> tuple[str, str, str]:
    detail = f"json: int has more than {MAX_INT_DIGITS} digits (store it as a str)"
    return detail, path, "int"


def _string_problem(text: str, path: str) -> tuple[str, str, str] | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"json: lone surrogate U+{ord(text[exc.start]):04X} in string", path, "str"
    return None


# --------------------------------------------------------------------------
# Reading

# Digits become '0', 'E' becomes 'e' and signs are dropped, so a number that
# might not fit a float64 shows up as "e000" (3-digit exponent) or as a run
# of 200 digits (with an exponent below 100, that is at most 1e299).
_NUMBER_PROBE = bytes.maketrans(b"123456789E", b"000000000e")
# For orjson: digits become '0' and every other byte '\x01', so finding a run
# of digits never stalls on a byte that merely resembles '0' to the search
# (CPython's find skips ahead by a filter on the byte's low 6 bits: 'p' is 0x70).
_DIGIT_PROBE = bytes(0x30 if 0x30 <= byte <= 0x39 else 1 for byte in range(256))


def loads(data: bytes) -> object:
    """Decode one JSON value (JSON whitespace around it allowed), untagging tags.

    Raises:
        DeserializeError: not UTF-8, not exactly one JSON value, a number that
            does not fit a float64, an integer of more than :data:`MAX_INT_DIGITS`
            digits, NaN/Infinity, or a lone surrogate escape.
    """
    if _orjson is not None and _ORJSON_DIGITS not in data.translate(_DIGIT_PROBE):
        # orjson refuses out-of-range floats itself (1e400: ValueError), so
        # only runs of digits (maybe an int orjson would round) need a probe.
        try:
            value = _orjson.loads(data)  # JSONDecodeError is a ValueError
        except ValueError:
            return _loads_general(data)
    else:
        probe = data.translate(_NUMBER_PROBE, b"+-")
        try:
            value = from_json(data, allow_inf_nan=False)
        except ValueError:
            return _loads_general(data)
        if probe.find(b"e000") >= 0 or (len(data) > 200 and probe.find(b"0" * 200) >= 0):
            return _loads_general(data)
    if 0x24 in data or (0x5C in data and b"\\u0024" in data):  # '$': maybe a tag
        return _loads_general(data)
    return value


def _untag(obj: dict[str, Any]) -> object:
    """Turn a well-formed tag back into its value; leave every other object alone."""
    if len(obj) != 1:
        return obj
    if TAG_BYTES in obj:
        encoded = obj[TAG_BYTES]
        if type(encoded) is str and encoded.isascii():
            try:
                raw = binascii.a2b_base64(encoded, strict_mode=True)
            except binascii.Error:
                return obj
            if binascii.b2a_base64(raw, newline=False) == encoded.encode("ascii"):
                return raw
    elif TAG_MAP in obj:
        pairs = obj[TAG_MAP]
        if type(pairs) is list and all(
            type(pair) is list and len(pair) == 2 and type(pair[0]) in (str, int) for pair in pairs
        ):
            return dict(pairs)
    return obj


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # Go: "cannot unmarshal number 1e400 into Go value of type float64"
        raise ValueError(f"number {text} does not fit a float64")
    return number


def _no_constants(name: str) -> float:
    raise ValueError(f"invalid number {name}")


def _any_int(text: str) -> int:
    """The int of ``text``, refused past :data:`MAX_INT_DIGITS` digits before any conversion.

    Decimal conversion is quadratic, so the length is checked first: a
    million-digit number is refused in microseconds instead of read in 21 s.
    """
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise ValueError(f"integer has more than {MAX_INT_DIGITS} digits")
    try:
        return int(text)
    except ValueError:  # the process lowered sys.get_int_max_str_digits() (640 at least)
        number = 0
        for start in range(text.startswith("-"), len(text), 600):
            chunk = text[start : start + 600]
            number = number * 10 ** len(chunk) + int(chunk)
        return -number if text.startswith("-") else number


_DECODE = json.JSONDecoder(
    object_hook=_untag, parse_float=_finite_float, parse_int=_any_int, parse_constant=_no_constants
).raw_decode
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _loads_general(data: bytes) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeserializeError(f"json: invalid UTF-8 at byte {exc.start}") from None
    try:
        value, end = _DECODE(text, len(text) - len(text.lstrip(_JSON_SPACE)))
    except ValueError as exc:
        raise DeserializeError(f"json: {exc}") from None
    except RecursionError:
        raise DeserializeError("json: value nested too deeply") from None
    if text[end:].strip(_JSON_SPACE):
        raise DeserializeError(f"json: unexpected data after the value at offset {end}")
    if "\\" in text and _has_lone_surrogate(value):
        raise DeserializeError("json: lone surrogate escape in string")
    return value


def _has_lone_surrogate(value: object) -> bool:
    if type(value) is str:
        return _LONE_SURROGATE.search(value) is not None
    if type(value) is list:
        return any(_has_lone_surrogate(item) for item in value)
    if type(value) is dict:
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False
