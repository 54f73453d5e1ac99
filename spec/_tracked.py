"""A dict that remembers whether it was changed (behind ``Session.modified``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["TrackedDict"]

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()


class TrackedDict(dict[K, V]):
    """A ``dict`` whose ``changed`` flag is set by every mutating method.

    Only the mapping itself is watched: changing a list or dict stored in it
    in place is invisible here, which is why ``Session.mark_modified()``
    exists.
    """

    __slots__ = ("changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = False

    def __setitem__(self, key: K, value: V) -> None:
        self.changed = True
        super().__setitem__(key, value)

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self.changed = True

    def pop(self, key: K, default: Any = _MISSING) -> Any:
        if key in self:
            self.changed = True
            return super().pop(key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[K, V]:
        item = super().popitem()
        self.changed = True
        return item

    def clear(self) -> None:
        if self:
            self.changed = True
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changed = True
        super().update(*args, **kwargs)

    def setdefault(self, key: K, default: Any = None) -> Any:
        if key not in self:
            self.changed = True
        return super().setdefault(key, default)

    def __ior__(  # type: ignore[override,misc]
        self, other: Mapping[K, V] | Iterable[tuple[K, V]]
    ) -> TrackedDict[K, V]:
        self.changed = True
        super().update(other)
        return self
