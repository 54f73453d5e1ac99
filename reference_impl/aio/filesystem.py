"""AsyncFilesystemStore: session files, with every file operation off the event loop."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from reference_impl import filesystem
from reference_impl._store.core import ConformanceFactory
from reference_impl._store.drivers import AsyncStoreBase
from reference_impl._store.plan import Op
from reference_impl._store.server_side import perform
from reference_impl.filesystem import FilesystemStore
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["AsyncFilesystemStore", "conformance_factory"]


class AsyncFilesystemStore(AsyncStoreBase[FilesystemStore]):
    """:class:`~reference_impl.filesystem.FilesystemStore` for async apps.

    Same files, same format, same cross-process guarantees (atomic writes,
    ``flock``), because the sync store's backend does every file
    operation: each one runs in a worker thread (``asyncio.to_thread``), as
    do ``fsync`` and lock waits, so the event loop keeps serving other
    requests meanwhile. Sync and async stores (and Go) can share a directory.
    The directory is checked when the store is built, before the app serves.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *key_pairs: bytes,
        options: Options | None = None,
        serializer: Serializer | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            FilesystemStore(path, *key_pairs, options=options, serializer=serializer, clock=clock)
        )

    @property
    def path(self) -> Path:
        """The directory holding the session files."""
        return self.core.path

    async def _perform(self, op: Op) -> object:
        return await asyncio.to_thread(perform, self.core.backend, op)

    async def purge_expired(self) -> int:
        """Delete session files past the store's max age (in a worker thread); count them."""
        return await asyncio.to_thread(self.core.purge_expired)


def _break(store: AsyncFilesystemStore) -> None:
    filesystem.conformance_factory.break_backend(store.core)


#: ``python -m conformance reference_impl.aio.filesystem:conformance_factory``
conformance_factory = ConformanceFactory(
    "async-filesystem",
    lambda clock, keys: AsyncFilesystemStore(
        tempfile.mkdtemp(prefix="sessionspec-conformance-"), *keys, clock=clock
    ),
    filesystem.conformance_factory.capabilities,
    break_backend=_break,
)
