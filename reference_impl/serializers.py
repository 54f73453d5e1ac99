"""Serializers for the securecookie codec: JSON (the default) and raw bytes.

Any object with ``serialize(value) -> bytes`` and ``deserialize(data) -> object``
fits (:class:`spec.protocols.Serializer`). gorilla's default, gob, lives in the
:mod:`reference_impl.gob` package; its ``GobSerializer`` is re-exported here but
imported only on first use, so ``import reference_impl`` does not load the nine
gob modules.

JSON format
-----------

For plain values (``None``, ``bool``, ``int``, finite ``float``, ``str``,
``list``, and ``dict`` with ``str`` keys) the bytes are exactly what Go's
``json.NewEncoder(w).Encode(v)`` writes, as checked against Go 1.19:

* object keys sorted (by code point, which is Go's UTF-8 byte order), no
  spaces, a trailing ``"\\n"``;
* ``<``, ``>``, ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``, and
  U+2028/U+2029 as ``\\u2028``/``\\u2029``; other non-ASCII raw UTF-8;
  control characters as ``\\n``, ``\\r``, ``\\t`` or ``\\u00XX`` (Go 1.19
  writes ``\\u0008`` and ``\\u000c``, not ``\\b`` and ``\\f``);
* floats in Go's shortest form: ``3``, ``0.1``, ``1e+21``, ``-2.5e-8`` (one
  exception, below).

Two tags carry what plain JSON cannot. A tag is an object with exactly one
key:

* ``bytes`` → ``{"$bytes": "<standard padded base64>"}``;
* a ``dict`` with any ``int`` key → ``{"$map": [[key, value], ...]}`` (int
  keys first in numeric order, then str keys in code point order), at any
  depth, so gorilla-style ``values[42] = 43`` round-trips;
* a user's dict whose only key is ``"$bytes"`` or ``"$map"`` is also written as
  a ``$map`` pair list, so it can never be mistaken for a tag. (A pair list
  rather than a wrapping object: the reader untags bottom-up, and would
  untag a wrapped object before seeing its wrapper.)

Reading is lenient where Go's data may legitimately look like a tag: only a
well-formed ``$bytes`` (canonical base64 string) or ``$map`` (list of
``[str | int, value]`` pairs) is untagged; ``{"$oid": ...}`` or a malformed
tag stays a plain dict.

Reading Go's output works as is (``\\u003c`` escapes, trailing newline).
Numbers whose JSON text is integral become ``int``, all others ``float``.
Go's format cannot tell ``3.0`` from ``3``, so a float with an integral value
below 1e21 comes back as the equal ``int``. One case is written differently
from Go so that no value ever changes: Go writes 6.671809789846406e16 as
``66718097898464060``, an integer that is *not* that float's value
(66718097898464064), so integral floats from 2**53 up whose digits are not
exact are written ``6.671809789846406e+16``, which Go reads as the same
float64. Every float thus reads back ``==`` to what was written.

Only JSON whitespace may follow the value: Go's stream decoder ignores any
trailing bytes, but Go's encoder never writes any, so anything else is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reference_impl._codec.json import dumps, loads
from spec.errors import SerializeError

if TYPE_CHECKING:
    from reference_impl.gob import GobSerializer

__all__ = ["GobSerializer", "JSONSerializer", "NopSerializer"]

#: What Go's ``securecookie.Encode`` returns when ``NopEncoder`` is given
#: anything but ``[]byte`` (gorilla/securecookie 1.1.1, checked with Go 1.19).
_GO_NOT_BYTES = "securecookie: error - caused by: securecookie: value not a []byte."


def __getattr__(name: str) -> object:
    """Import ``GobSerializer`` on first use: most applications never load gob."""
    if name == "GobSerializer":
        from reference_impl.gob import GobSerializer

        return GobSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class JSONSerializer:
    """Session values as JSON, byte-identical to gorilla's ``JSONEncoder`` for plain values.

    Only exact ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
    ``list`` and ``dict`` (``str``/``int`` keys) are accepted, so that what
    comes back is what went in. Anything else (tuple, set, datetime, an enum
    or other subclass, NaN, a ``bool`` key) raises
    :class:`~spec.errors.SerializeError` naming the path, e.g.
    ``values['cart'][2]``, and the type. JSON rather than pickle: decoding
    never runs code chosen by whoever wrote the bytes.
    """

    __slots__ = ()

    # Plain functions rather than methods: one Python frame fewer per cookie.
    #: ``serialize(value) -> bytes``: the JSON text, ending in ``"\n"`` as Go's encoder's does.
    serialize = staticmethod(dumps)
    #: ``deserialize(data) -> object``: the value; ``DeserializeError`` unless one JSON value.
    deserialize = staticmethod(loads)

    def __repr__(self) -> str:
        return "JSONSerializer()"


class NopSerializer:
    """Raw bytes in, the same bytes out (gorilla's ``NopEncoder``).

    For callers that do their own encoding. Anything but ``bytes`` is refused
    rather than converted: a silent ``str(value)`` would decode as something
    else.
    """

    __slots__ = ()

    def serialize(self, value: object) -> bytes:
        """Return ``value`` unchanged; raise ``SerializeError`` unless it is ``bytes``."""
        if isinstance(value, bytes):
            return bytes(value)
        type_name = type(value).__qualname__
        error = SerializeError("value not a []byte.", path="values", type_name=type_name)
        # Go's text: NopEncoder's own error, wrapped once by Encode. (JSON and
        # gob errors are wrapped twice, which SerializeError's text reproduces.)
        error.args = (_GO_NOT_BYTES,)
        raise error

    def deserialize(self, data: bytes) -> object:
        """Return ``data`` unchanged."""
        return bytes(data)

    def __repr__(self) -> str:
        return "NopSerializer()"
