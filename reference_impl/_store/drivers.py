"""The async face of the reference stores: the same plans, with every backend step awaited.

An async store here holds a *core* (``reference_impl._store.core.StoreCore``): the
object that owns the keys and options and makes every decision, as a plan of
backend steps (``reference_impl._store.plan``). The async store only performs
those steps: by awaiting an async backend (Redis, SQL), in a worker thread
(files), or directly when a step cannot block (a dict in memory). So an
async store cannot drift from its sync twin: there is no second copy of the
logic to drift.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Generic, Protocol, Self, TypeVar

from reference_impl._store.core import StoreCore
from reference_impl._store.plan import Create, Delete, Op, Read, Record, Update, arun_plan
from reference_impl._store.server_side import ServerSideCore
from reference_impl.securecookie import SecureCookie
from spec import Clock, Options, Registry, Request, ResponseWriter, Session
from spec.protocols import Serializer

__all__ = ["AsyncRecordBackend", "AsyncServerSideStore", "AsyncStoreBase", "aperform"]

C = TypeVar("C", bound=StoreCore)


class AsyncRecordBackend(Protocol):
    """The four storage primitives of ``reference_impl._store.server_side.RecordBackend``, awaited.

    Same contract: ``create`` never overwrites (``False`` if the ID exists),
    ``update`` never resurrects (``False`` if the record is gone), ``delete``
    says whether it removed the record (``True`` for exactly one of two
    concurrent deletes: it is how a save claims the old record after
    ``regenerate_id()``), and every
    backend failure raises :class:`~spec.errors.StoreError`.
    """

    async def read(self, session_id: str) -> Record | None:
        """Return ``(data, expires_at)`` for ``session_id``, or ``None`` if absent."""
        ...

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Store a new record; return ``False`` (writing nothing) if the ID exists."""
        ...

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        """Replace an existing record; return ``False`` (writing nothing) if it is gone."""
        ...

    async def delete(self, session_id: str) -> bool:
        """Remove the record if present; return ``True`` only if this call removed it."""
        ...


async def aperform(backend: AsyncRecordBackend, op: Op) -> object:
    """Await one plan step on an async backend (the twin of ``_server_side.perform``)."""
    if isinstance(op, Read):
        return await backend.read(op.session_id)
    if isinstance(op, Create):
        return await backend.create(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Update):
        return await backend.update(op.session_id, op.data, op.expires_at, op.ttl)
    if isinstance(op, Delete):
        return await backend.delete(op.session_id)
    raise TypeError(f"not a backend step: {op!r}")


class AsyncStoreBase(Generic[C]):
    """A :class:`spec.AsyncStore` over a core that decides; subclasses say how steps run.

    ``get`` is the per-request cache (:meth:`spec.Registry.aget`); ``new``
    and ``save`` drive the core's plans through :meth:`_perform`. Sessions
    are bound to this store, so ``session.asave`` awaits it and the sync
    ``session.save`` refuses it (S-5.7). Configuration (``options``,
    :meth:`max_age`, :meth:`max_length`, :meth:`with_keys`) is the core's.
    """

    def __init__(self, core: C) -> None:
        self.core = core
        core.label = type(self).__name__  # rejections are logged under this store's name

    async def get(self, request: Request, name: str) -> Session:
        """Return session ``name`` for this request, loading it once (S-5.7)."""
        return await Registry.of(request).aget(self, name)

    async def new(self, request: Request, name: str) -> Session:
        """Load session ``name`` from the request (or a fresh one), bypassing the cache."""
        session = await arun_plan(self.core.new_plan(request, name), self._perform)
        session.bind(self)
        return session

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        """Persist ``session`` and write its cookie to ``response``."""
        await arun_plan(self.core.save_plan(request, response, session), self._perform)

    async def _perform(self, op: Op) -> object:
        """Run one backend step; a store without a backend never gets one."""
        raise NotImplementedError(f"{type(self).__name__} has no backend for {op!r}")

    # -- configuration: the core's -------------------------------------------------

    @property
    def options(self) -> Options:
        """The options new sessions start with."""
        return self.core.options

    @options.setter
    def options(self, options: Options) -> None:
        self.core.options = options

    @property
    def clock(self) -> Clock:
        """The clock every codec and deadline uses."""
        return self.core.clock

    @property
    def serializer(self) -> Serializer:
        """The serializer of the session values."""
        return self.core.serializer

    @property
    def codecs(self) -> list[SecureCookie]:
        """The codecs, the first one signing everything new."""
        return self.core.codecs

    def max_age(self, seconds: int) -> None:
        """Set the default cookie lifetime and every codec's expiry (see the sync store)."""
        self.core.max_age(seconds)

    def max_length(self, length: int) -> None:
        """Set every codec's maximum encoded length (``0`` disables the check)."""
        self.core.max_length(length)

    def with_keys(self, *key_pairs: bytes) -> Self:
        """A store sharing this one's backend and options but using other keys (rotation)."""
        clone = copy.copy(self)
        clone.core = self.core.with_keys(*key_pairs)
        return clone


class AsyncServerSideStore(AsyncStoreBase[ServerSideCore]):
    """An async store whose cookie holds only the signed ID, over an :class:`AsyncRecordBackend`.

    The base of ``AsyncRedisStore`` and ``AsyncSQLStore``, and of your own
    async backends: implement the four primitives and every S-10 guarantee
    comes from the shared plans.
    """

    def __init__(
        self,
        backend: AsyncRecordBackend,
        key_pairs: Sequence[bytes],
        options: Options | None,
        serializer: Serializer | None,
        clock: Clock | None,
    ) -> None:
        super().__init__(ServerSideCore(key_pairs, options, serializer, clock))
        self.backend = backend

    async def _perform(self, op: Op) -> object:
        return await aperform(self.backend, op)
