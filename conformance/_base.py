"""The base class a backend subclasses, with every fixture the suite needs."""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

import pytest

from conformance._async import accept_async_hooks, real_store, run_async
from conformance._capabilities import Capabilities
from conformance._profiles import PROFILES, active_profile
from spec import ManualClock, Store
from spec.errors import ConfigurationError
from spec.http import RecordingResponse, SimpleRequest

__all__ = [
    "ID_SAMPLE_SIZE",
    "NOT_APPLICABLE",
    "SUITE_VERSION",
    "StoreBase",
    "id_sample_size",
    "missing_reason",
    "since",
]

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


def id_sample_size(capabilities: Capabilities | None = None) -> int:
    """Fresh IDs to draw for S-10.1: the capability if declared, else the active profile's."""
    declared = capabilities.id_sample_size if capabilities is not None else None
    return declared if declared is not None else active_profile().id_sample_size


#: Fresh IDs drawn for S-10.1 under the profile active at import
#: (``$SESSIONSPEC_HYPOTHESIS_PROFILE``: dev 256, ci 2,000, thorough 10,000).
#: Call :func:`id_sample_size` to follow a profile chosen later.
try:
    ID_SAMPLE_SIZE = id_sample_size()
except ConfigurationError:  # a bad profile name fails when the suite runs, not on import
    ID_SAMPLE_SIZE = PROFILES["dev"].id_sample_size

#: Why a clause did not run, as a CLI user or a test author can act on it.
#: Each names the hook or the declaration that would let the clause run.
_MISSING: dict[str, str] = {
    "server_side": "the store is not server-side (its cookie carries the values, as the "
    "suite observed), so {clause} does not apply",
    "record_deadlines": "capabilities do not declare record_deadlines: declare it if every "
    "record keeps its own deadline, so {clause} can check a session's shorter max_age is "
    "enforced server-side",
    "thread_safe": "capabilities declare thread_safe=False: a store for a threaded server "
    "must be thread-safe; declare thread_safe=True so {clause} can check it",
    "purge_expired": "the store has no purge_expired() method: add one that deletes records "
    "past their deadline and returns how many, so {clause} can check it",
    "max_value_bytes": "capabilities declare max_value_bytes=None (no size limit): declare "
    "the store's limit so {clause} can check an oversized save is refused",
    "break_backend": "the factory has no break_backend(store) hook: add one that stops the "
    "backend so {clause} can check outages",
    "make_store_with_keys": "the store cannot be rebuilt with other keys: add a "
    "make_store_with_keys(clock, *key_pairs) hook returning a store on the same backend "
    "with those keys (or give the store a with_keys(*key_pairs) method), so {clause} can "
    "check keys",
    "raw_record": "the factory has no raw_record(store, session_id) hook and the store has "
    "no backend.read(session_id): add one that returns the stored record or None, so "
    "{clause} can check the record is gone from storage",
}


#: How a skip that does not block a level starts (see :meth:`StoreBase.not_applicable`).
NOT_APPLICABLE = "not applicable: "


def missing_reason(what: str, clause: str) -> str:
    """The skip reason for a missing capability or hook, naming ``clause``."""
    template = _MISSING.get(
        what,
        f"capabilities do not declare {what}: declare it if the store has it, so {{clause}} "
        "can check it",
    )
    return template.format(clause=clause) if "{clause}" in template else f"{template} ({clause})"


def _tracking(hook: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a store-making hook so every store it makes is closed after the test."""

    @functools.wraps(hook)
    def make(self: StoreBase[Any], *args: object, **kwargs: object) -> object:
        store = hook(self, *args, **kwargs)
        self._made().append(store)
        return store

    setattr(make, _TRACKED, True)
    return make


_TRACKED = "_conformance_tracks_stores"
#: A probe value no cookie can carry in under 400 characters, even compressed
#: (hex of random bytes: 4 bits of entropy per character).
_PROBE_CHARS = 1536
_SHORT_COOKIE = 400


class StoreBase(Generic[S]):
    """Fixtures and hooks; the tests themselves live in the mixins of StoreConformance.

    Subclasses provide :meth:`make_store` and :attr:`capabilities`, and may
    provide :meth:`make_store_with_keys`, :meth:`raw_record`,
    :meth:`break_backend` and :meth:`close_store` to unlock more clauses.
    Everything else is defined here, on the class: nothing depends on a
    ``conftest.py`` and no pytest plugin is registered.

    Capabilities that can be observed are checked, not trusted (see
    :meth:`has`), so a store cannot skip clauses by declaring less than it
    has. Every store a hook makes is closed after its test
    (:meth:`close_store`), so a pooled database never runs out of
    connections however long the run.

    The hooks may deal in async stores (``conformance._async``): each
    subclass's hooks are wrapped when the class is created, so the clauses
    see a sync view of an async store, run on the suite's event loop.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Pin to an older suite version to skip tests added after it.
    conformance_level: ClassVar[str] = SUITE_VERSION

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        accept_async_hooks(cls)
        for name in ("make_store", "make_store_with_keys"):
            hook = cls.__dict__.get(name)
            if inspect.isfunction(hook) and not getattr(hook, _TRACKED, False):
                setattr(cls, name, _tracking(hook))

    # -- hooks ---------------------------------------------------------------

    def make_store(self, clock: ManualClock) -> S:
        """Return a fresh store (sync or async) whose codecs and expiry use ``clock``."""
        raise NotImplementedError("a StoreConformance subclass must implement make_store")

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> S:
        """Optional: a store with the given gorilla-style key pairs (hash, block, ...).

        Stores made by several calls in one test must share their backend,
        so a record written under the old keys can be read under the new.
        """
        raise NotImplementedError

    def raw_record(self, store: S, session_id: str) -> object | None:
        """Optional backdoor: the stored record for ``session_id``, or ``None`` if absent.

        The default reads it through the store's ``backend`` (a
        :class:`reference_impl.RecordBackend`, as ``ServerSideStore`` has);
        a store without one needs this hook for the storage-level checks.
        """
        backend = getattr(real_store(store), "backend", None)
        read = getattr(backend, "read", None)
        if not callable(read):
            raise NotImplementedError
        result: object = read(session_id)
        return run_async(result) if inspect.isawaitable(result) else result

    def close_store(self, store: S) -> object:
        """Release what ``store`` holds; called for every store the hooks made, after its test.

        The default awaits ``aclose()`` or calls ``close()`` if the store has
        one (an async ``close`` is awaited too). Override it for a store
        whose resources are released some other way.
        """
        target = real_store(store)
        for name in ("aclose", "close"):
            method = getattr(target, name, None)
            if callable(method):
                result = method()
                if inspect.isawaitable(result):
                    run_async(result)
                return None
        return None

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

    @pytest.fixture(autouse=True)
    def _close_made_stores(self) -> Iterator[None]:
        """Close every store the hooks made during the test, newest first."""
        yield
        made = self._made()
        errors: list[str] = []
        while made:
            store = made.pop()
            try:
                self.close_store(store)
            except Exception as exc:
                if id(store) not in self._broken():  # a broken backend may refuse to close
                    errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            pytest.fail(
                "closing a store after the test failed (close_store, or the store's close()): "
                + "; ".join(errors),
                pytrace=False,
            )

    # -- helpers for tests ------------------------------------------------------

    def _made(self) -> list[Any]:
        made: list[Any] = self.__dict__.setdefault("_conformance_made", [])
        return made

    def _broken(self) -> set[int]:
        broken: set[int] = self.__dict__.setdefault("_conformance_broken", set())
        return broken

    def release(self, store: S) -> None:
        """Close ``store`` now (a store made per Hypothesis example) instead of after the test."""
        made = self._made()
        if any(s is store for s in made):
            made[:] = [s for s in made if s is not store]
        self.close_store(store)

    def observed(self) -> dict[str, bool | None]:
        """What the suite saw the store do, once per class (``None``: could not tell).

        ``server_side``: a session holding ~1.5 kB of random hex is saved, and
        a cookie under 400 characters cannot carry it, so the store keeps the
        values on the server, whatever it declares. ``purge_expired``:
        whether the store has the method.
        """
        cache: dict[str, bool | None] | None = type(self).__dict__.get("_conformance_observed")
        if cache is None:
            cache = self._probe()
            type.__setattr__(type(self), "_conformance_observed", cache)
        return cache

    def _probe(self) -> dict[str, bool | None]:
        store = self.make_store(ManualClock())
        seen: dict[str, bool | None] = {
            "purge_expired": callable(getattr(store, "purge_expired", None)),
            "server_side": None,
        }
        try:
            request, response = SimpleRequest(), RecordingResponse()
            session = store.get(request, "app")
            session.values["probe"] = os.urandom(_PROBE_CHARS // 2).hex()
            try:
                session.save(request, response)
            except Exception:  # a small size limit, an outage: nothing observed
                return seen
            line = next((h for h in response.set_cookie_headers() if h.startswith("app=")), None)
            if line is not None:
                seen["server_side"] = len(line.split(";", 1)[0]) < _SHORT_COOKIE
            return seen
        finally:
            self.release(store)

    def has(self, capability: str) -> bool:
        """Whether ``capability`` applies: observed where it can be, else as declared.

        ``server_side`` follows the cookie the store sends; ``regenerate_id``
        comes with being server-side (S-10.7 is a MUST there); ``purge_expired``
        is whether the method exists. The others are as declared.
        """
        declared = bool(getattr(self.capabilities, capability))
        if capability == "regenerate_id":
            return declared or self.has("server_side")
        if capability in ("server_side", "purge_expired"):
            seen = self.observed()[capability]
            return declared if seen is None else seen
        return declared

    def checked_capabilities(self) -> Capabilities:
        """The declaration with what was observed put in its place (for the state machine)."""
        observed = ("server_side", "regenerate_id", "purge_expired")
        return self.capabilities.model_copy(update={name: self.has(name) for name in observed})

    def require(self, capability: str, clause: str) -> None:
        """Skip unless ``capability`` applies (:meth:`has`), with a reason that says what to do.

        A declaration the store does not live up to fails, by name, instead
        of surfacing later as an ``AttributeError`` or a puzzling assertion.
        """
        declared = getattr(self.capabilities, capability)
        if self.has(capability):
            return
        if declared and capability == "purge_expired":
            pytest.fail(
                f"capabilities declare purge_expired=True, but the store has no purge_expired() "
                f"method: add one that deletes records past their deadline and returns how "
                f"many, or drop the declaration ({clause})",
                pytrace=False,
            )
        if declared and capability in ("server_side", "regenerate_id"):
            pytest.fail(
                f"capabilities declare {capability}=True, but the store's cookie carries the "
                f"session's values (a ~1.5 kB value gave a cookie over {_SHORT_COOKIE} "
                f"characters): it is a cookie store; drop the declaration ({clause})",
                pytrace=False,
            )
        pytest.skip(missing_reason(capability, clause))

    def not_applicable(self, reason: str, clause: str) -> NoReturn:
        """Skip a clause that cannot apply to this kind of store (an async-only clause).

        Unlike other skips it does not keep the store below a level: use it
        only where no store of this kind could meet the clause, never for a
        missing hook or declaration.
        """
        pytest.skip(f"{NOT_APPLICABLE}{reason} ({clause})")

    def keyed_store(self, clock: ManualClock, clause: str, *key_pairs: bytes) -> S:
        """``make_store_with_keys``, or a skip naming the hook and the clause."""
        try:
            return self.make_store_with_keys(clock, *key_pairs)
        except NotImplementedError:
            pytest.skip(missing_reason("make_store_with_keys", clause))

    def raw(self, store: S, session_id: str, clause: str) -> object | None:
        """``raw_record``, or a skip naming the hook and the clause."""
        try:
            return self.raw_record(store, session_id)
        except NotImplementedError:
            pytest.skip(missing_reason("raw_record", clause))
