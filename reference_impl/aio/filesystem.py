"""AsyncFilesystemStore: session files, with every file operation off the event loop."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from reference_impl._store.backend import ThreadedBackend
from reference_impl._store.drivers import AsyncServerSideStore
from reference_impl.filesystem import _FileBackend, open_directory
from spec import Clock, Options
from spec.protocols import Serializer

__all__ = ["AsyncFilesystemStore"]


class AsyncFilesystemStore(AsyncServerSideStore):
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
        absolute_timeout: int = 0,
        idle_timeout: int = 0,
    ) -> None:
        self._files = _FileBackend(open_directory(path))
        super().__init__(
            ThreadedBackend(self._files),
            *key_pairs,
            options=options,
            serializer=serializer,
            clock=clock,
        )
        # Go reads these files too: created_at goes in only when a limit needs it.
        self._set_lifetimes(absolute_timeout, idle_timeout, track_created=False)

    @property
    def path(self) -> Path:
        """The directory holding the session files."""
        return self._files.directory

    async def purge_expired(self) -> int:
        """Delete session files past the store's max age (in a worker thread); count them."""
        count = await asyncio.to_thread(
            self._files.purge_expired, self.clock(), self.codecs[0].max_age
        )
        return self._purged(count)
