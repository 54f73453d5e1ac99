"""The Python → Go type mapping for values whose type is not known from their position.

Inside an interface (every key and value of a session map, every element of
a ``[]interface {}``) a value's own Python type decides the Go type it is
sent as; :func:`infer` is that decision, the table in ``gob.py``'s docstring.
"""

from __future__ import annotations

import datetime

from reference_impl._codec.primitives import INT64_MAX, INT64_MIN
from reference_impl.gob._time import GoTime
from reference_impl.gob._types import (
    MAP_INTERFACE_INTERFACE,
    MAP_STRING_INTERFACE,
    PLAIN_BY_NAME,
    TIME,
    UINT64,
    GoType,
)
from reference_impl.gob._values import WRAPPERS, GoList, GoMap, GoStruct, GoValue

__all__ = ["GobEncodeError", "infer"]

_UINT64_LIMIT = 1 << 64
#: Python types that always mean the same Go type in an interface.
_DYNAMIC: dict[type, tuple[GoType, str]] = {
    bool: (PLAIN_BY_NAME["bool"], "bool"),
    str: (PLAIN_BY_NAME["string"], "string"),
    bytes: (PLAIN_BY_NAME["[]uint8"], "[]uint8"),
    float: (PLAIN_BY_NAME["float64"], "float64"),
    complex: (PLAIN_BY_NAME["complex128"], "complex128"),
    list: (PLAIN_BY_NAME["[]interface {}"], "[]interface {}"),
    GoTime: (TIME, "time.Time"),
    **{cls: (kind, name) for cls, (name, kind) in WRAPPERS.items()},
}
_TYPED = (GoList, GoMap, GoStruct, GoValue)


class GobEncodeError(Exception):
    """A value cannot be sent; ``path`` grows as the error passes up through containers."""

    def __init__(self, detail: str, value: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.type_name = type(value).__name__
        self.steps: list[str] = []

    @property
    def path(self) -> str:
        """Where the value sits, e.g. ``['cart'][2].Name``."""
        return "".join(reversed(self.steps))


def infer(value: object) -> tuple[GoType, str]:
    """The Go type a value has inside an interface, and the name gob sends for it."""
    kind = type(value)
    found = _DYNAMIC.get(kind)
    if found is not None:
        return found
    if kind is int:
        number: int = value  # type: ignore[assignment]
        if INT64_MIN <= number <= INT64_MAX:
            return PLAIN_BY_NAME["int"], "int"
        if 0 <= number < _UINT64_LIMIT:
            return UINT64, "uint64"
        raise GobEncodeError(f"gob: {number} does not fit a Go int64 or uint64", value)
    if kind is dict:
        if all(type(key) is str for key in value):  # type: ignore[attr-defined]
            return MAP_STRING_INTERFACE, "map[string]interface {}"
        return MAP_INTERFACE_INTERFACE, "map[interface {}]interface {}"
    if isinstance(value, _TYPED):
        return value.wire_type, value.go_type
    if isinstance(value, datetime.datetime):
        return TIME, "time.Time"
    raise GobEncodeError(f"gob: no Go type for Python {kind.__qualname__}", value)
