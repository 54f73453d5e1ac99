"""Our own stores, proved with the public conformance suite exactly as a third party would."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import Capabilities, StoreConformance
from reference_impl import testing
from reference_impl.cookie_store import CookieStore
from reference_impl.filesystem import FilesystemStore
from reference_impl.memory import MemoryStore
from spec import ManualClock
from spec.errors import StoreError
from tests.stores._support import BLOCK, HASH


class TestCookieStoreConformance(StoreConformance[CookieStore]):
    capabilities = Capabilities.model_validate(testing.cookie.capabilities)

    def make_store(self, clock: ManualClock) -> CookieStore:
        return CookieStore(HASH, BLOCK, clock=clock)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> CookieStore:
        return CookieStore(*key_pairs, clock=clock)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> CookieStore:
        return CookieStore(
            HASH, BLOCK, clock=clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout
        )


class TestMemoryStoreConformance(StoreConformance[MemoryStore]):
    capabilities = Capabilities.model_validate(testing.memory.capabilities)

    def make_store(self, clock: ManualClock) -> MemoryStore:
        return MemoryStore(HASH, BLOCK, clock=clock)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> MemoryStore:
        base: MemoryStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: MemoryStore, session_id: str) -> object | None:
        return store.backend.read(session_id)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> MemoryStore:
        return MemoryStore(
            HASH, BLOCK, clock=clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout
        )


class TestFilesystemStoreConformance(StoreConformance[FilesystemStore]):
    capabilities = Capabilities.model_validate(testing.filesystem.capabilities)

    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path / "sessions"

    def make_store(self, clock: ManualClock) -> FilesystemStore:
        return FilesystemStore(self.directory, HASH, BLOCK, clock=clock)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> FilesystemStore:
        return FilesystemStore(self.directory, *key_pairs, clock=clock)

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> FilesystemStore:
        return FilesystemStore(
            self.directory,
            HASH,
            BLOCK,
            clock=clock,
            absolute_timeout=absolute_timeout,
            idle_timeout=idle_timeout,
        )

    def raw_record(self, store: FilesystemStore, session_id: str) -> object | None:
        path = store.path / f"session_{session_id}"
        return path.read_text() if path.exists() else None

    def break_backend(self, store: FilesystemStore) -> None:
        testing.filesystem.break_backend(store)


def test_break_backend_really_breaks(tmp_path: Path) -> None:
    """The outage hook used above makes the filesystem store fail with StoreError (S-10.4)."""
    store = FilesystemStore(tmp_path / "s", HASH, clock=ManualClock())
    TestFilesystemStoreConformance().break_backend(store)
    with pytest.raises(StoreError):
        store.backend.read("A" * 52)
