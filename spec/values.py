"""What a session value may be: the types every serializer can store, and no others."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeAlias

if TYPE_CHECKING:
    from reference_impl.gob import GoList, GoMap, GoStruct, GoTime, GoValue

__all__ = ["SessionValue"]

if TYPE_CHECKING:
    #: A value ``session.values`` can hold: JSON's types plus ``bytes``, nested in
    #: lists and in dicts keyed by ``str`` or ``int`` (gorilla's ``map[interface{}]``),
    #: and the :mod:`reference_impl.gob` wrappers that carry Go types. A ``set``,
    #: a ``tuple``, a ``datetime`` or a ``Decimal`` is a type error where it is
    #: written, not a ``SerializeError`` at the end of the request (or, with a
    #: permissive serializer, a value that comes back as something else). Keep
    #: richer types in a model: :class:`spec.TypedSession` dumps them to these.
    SessionValue: TypeAlias = (
        bool
        | int
        | float
        | str
        | bytes
        | list["SessionValue"]
        | dict[str | int, "SessionValue"]
        | complex
        | GoList
        | GoMap
        | GoStruct
        | GoTime
        | GoValue
        | None
    )
else:
    # At run time the values are not validated on every assignment (that would
    # cost on the hot path and reject gob values Go sent): the serializer checks
    # them when the session is saved and names the offending path.
    SessionValue = Annotated[object, "a session value: checked by the serializer at save time"]
