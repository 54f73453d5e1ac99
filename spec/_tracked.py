"""A dict that remembers what was changed (behind ``Session.modified`` and merge-on-save)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["TrackedDict"]

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()
#: What may be edited in place; a tuple, as ``isinstance(v, list | dict)`` builds a union per call.
_MUTABLE = (list, dict)


class TrackedDict(dict[K, V]):
    """A ``dict`` that records which keys were set and which deleted.

    ``changed`` is set by every mutating method. ``set_keys`` and
    ``deleted_keys`` say *which* keys this request wrote, so a server-side
    store can apply just those onto the record as it is now, instead of
    writing back a whole snapshot that would undo what a concurrent request
    saved meanwhile (S-10.20). A key is in at most one of the two sets: the
    last operation on it decides. ``replaced`` means the request stated the
    whole mapping (``clear()``, or ``session.values = {...}``): every key it
    does not hold is then deleted. ``all_set`` (``Session.mark_modified()``)
    means every key currently held counts as set, since an in-place change
    of a stored list or dict is invisible here.
    """

    __slots__ = ("all_set", "changed", "deleted_keys", "replaced", "set_keys")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed = False
        self.replaced = False
        self.all_set = False
        self.set_keys: set[K] = set()
        self.deleted_keys: set[K] = set()

    def reset(self) -> None:
        """Forget every recorded change (after a load or a save)."""
        self.changed = self.replaced = self.all_set = False
        self.set_keys.clear()
        self.deleted_keys.clear()

    def mark_set(self, key: K) -> None:
        """Record that the value under ``key`` was changed in place."""
        self.changed = True
        self.set_keys.add(key)
        self.deleted_keys.discard(key)

    def assign(self, new: Mapping[K, V]) -> None:
        """Make this mapping equal to ``new``, recording only the keys that differ.

        For integrations that hold a framework's own dict (Django,
        Starlette) and copy it back at the end of a request: unlike
        ``session.values = new``, which states the whole mapping and drops
        keys a concurrent request added, only keys this request removed,
        added or changed are recorded (S-10.20). A value that is the very
        object loaded counts as changed when it is a list or dict (it may
        have been edited in place), and as unchanged when it is immutable.
        """
        written: list[K] = []
        get = dict.get
        for key, value in new.items():
            if not isinstance(value, _MUTABLE):
                old = get(self, key, _MISSING)
                if old is value or (type(old) is type(value) and old == value):
                    continue  # immutable and as loaded: not this request's change
            written.append(key)
        if written:  # recorded as __setitem__ would, once for all the keys
            self.changed = True
            self.set_keys.update(written)
            self.deleted_keys.difference_update(written)
            dict.update(self, {key: new[key] for key in written})
        # Every key of ``new`` is held now, so equal sizes mean no key to drop.
        if len(self) != len(new):
            for key in self.keys() - new.keys():
                del self[key]

    def _deleted(self, key: K) -> None:
        self.changed = True
        self.deleted_keys.add(key)
        self.set_keys.discard(key)

    def __setitem__(self, key: K, value: V) -> None:
        self.mark_set(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self._deleted(key)

    def pop(self, key: K, default: Any = _MISSING) -> Any:
        if key in self:
            self._deleted(key)
            return super().pop(key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[K, V]:
        item = super().popitem()
        self._deleted(item[0])
        return item

    def clear(self) -> None:
        if self:
            self.changed = True
        self.replaced = True
        self.set_keys.clear()
        self.deleted_keys.clear()
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changed = True
        new = dict(*args, **kwargs)
        for key in new:
            self.mark_set(key)
        super().update(new)

    def setdefault(self, key: K, default: Any = None) -> Any:
        if key not in self:
            self.mark_set(key)
        return super().setdefault(key, default)

    def __ior__(  # type: ignore[override,misc]
        self, other: Mapping[K, V] | Iterable[tuple[K, V]]
    ) -> TrackedDict[K, V]:
        self.update(other)
        return self
