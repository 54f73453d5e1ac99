"""The base class a backend subclasses, with every fixture the suite needs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import pytest

from conformance._async import accept_async_hooks
from conformance._capabilities import Capabilities
from spec import ManualClock, Store

__all__ = ["SUITE_VERSION", "StoreBase", "since"]

#: The suite's version. Tests added later carry a higher ``since`` level, and a
#: backend pinning ``conformance_level`` below it skips them, so a patch release
#: of the suite never breaks a backend that passed before.
SUITE_VERSION = "1.1"

S = TypeVar("S", bound=Store)
_F = TypeVar("_F")
_CLAUSE = re.compile(r"\(S-(\d+)\.(\d+)\)")


def since(level: str) -> Callable[[_F], _F]:
    """Mark a test as added in suite ``level`` (default ``1.0``)."""

    def mark(func: _F) -> _F:
        func._conformance_since = level  # type: ignore[attr-defined]
        return func

    return mark


def _as_tuple(level: str) -> tuple[int, ...]:
    return tuple(int(part) for part in level.split("."))


class StoreBase(Generic[S]):
    """Fixtures and hooks; the tests themselves live in the mixins of StoreConformance.

    Subclasses provide :meth:`make_store` and :attr:`capabilities`, and may
    provide :meth:`make_store_with_keys` and :meth:`raw_record` to unlock
    more clauses. Everything else is defined here, on the class: nothing
    depends on a ``conftest.py`` and no pytest plugin is registered.

    The hooks may deal in async stores (``conformance._async``): each
    subclass's hooks are wrapped when the class is created, so the clauses
    see a sync view of an async store, run on the suite's event loop.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Pin to an older suite level to skip tests added after it.
    conformance_level: ClassVar[str] = SUITE_VERSION

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        accept_async_hooks(cls)

    # -- hooks ---------------------------------------------------------------

    def make_store(self, clock: ManualClock) -> S:
        """Return a fresh store (sync or async) whose codecs and expiry use ``clock``."""
        raise NotImplementedError("a StoreConformance subclass must implement make_store")

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> S:
        """Optional: a store with the given gorilla-style key pairs (hash, block, ...)."""
        raise NotImplementedError

    def raw_record(self, store: S, session_id: str) -> object | None:
        """Optional backdoor: the stored record for ``session_id``, or ``None`` if absent."""
        raise NotImplementedError

    # -- fixtures ------------------------------------------------------------

    @pytest.fixture
    def clock(self) -> ManualClock:
        """The suite's clock; tests move it instead of sleeping."""
        return ManualClock()

    @pytest.fixture
    def store(self, clock: ManualClock) -> S:
        """A fresh store on the suite's clock."""
        return self.make_store(clock)

    @pytest.fixture(autouse=True)
    def _gate_by_level(self, request: pytest.FixtureRequest) -> None:
        added = getattr(request.function, "_conformance_since", "1.0")
        if _as_tuple(added) > _as_tuple(self.conformance_level):
            pytest.skip(f"added in suite {added}; this backend pins {self.conformance_level}")

    # -- helpers for tests ------------------------------------------------------

    def require(self, capability: str, clause: str) -> None:
        """Skip unless ``capability`` is declared, naming it and the clause."""
        if not getattr(self.capabilities, capability):
            pytest.skip(f"capability {capability!r} not declared ({clause})")

    def keyed_store(self, clock: ManualClock, clause: str, *key_pairs: bytes) -> S:
        """``make_store_with_keys``, or a skip naming the hook and the clause."""
        try:
            return self.make_store_with_keys(clock, *key_pairs)
        except NotImplementedError:
            pytest.skip(f"hook 'make_store_with_keys' not provided ({clause})")

    def raw(self, store: S, session_id: str, clause: str) -> object | None:
        """``raw_record``, or a skip naming the hook and the clause."""
        try:
            return self.raw_record(store, session_id)
        except NotImplementedError:
            pytest.skip(f"hook 'raw_record' not provided ({clause})")
