"""Async stores through the registry (docs/spec.md S-5.7, S-8.3)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from spec import AsyncStore, Registry, Session, Store, asave_all, save_all
from spec.errors import ConfigurationError, SaveAllError
from spec.http import RecordingResponse, SimpleRequest
from spec.protocols import Request, ResponseWriter
from spec.registry import is_async_store


class AsyncMemory:
    """An async store double: counts loads, records saves."""

    def __init__(self) -> None:
        self.new_calls = 0
        self.saved: list[str] = []

    async def get(self, request: Request, name: str) -> Session:
        return await Registry.of(request).aget(self, name)

    async def new(self, request: Request, name: str) -> Session:
        self.new_calls += 1
        await asyncio.sleep(0.01)  # give a concurrent task the chance to race
        return Session(name=name)

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        self.saved.append(session.name)


class SyncRecorder:
    def __init__(self) -> None:
        self.threads: list[str] = []

    def get(self, request: Request, name: str) -> Session:
        return Registry.of(request).get(self, name)

    def new(self, request: Request, name: str) -> Session:
        return Session(name=name)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        self.threads.append(threading.current_thread().name)


def test_async_store_satisfies_the_protocol() -> None:
    """S-8.3: AsyncStore is the async twin of Store, and the two are told apart."""
    store: AsyncStore = AsyncMemory()
    sync: Store = SyncRecorder()
    assert is_async_store(store) and not is_async_store(sync)


def test_concurrent_agets_load_once() -> None:
    """S-5.7: tasks of one request asking for one session share one load."""
    store, request = AsyncMemory(), SimpleRequest()

    async def main() -> list[Session]:
        return list(await asyncio.gather(*(store.get(request, "app") for _ in range(5))))

    sessions = asyncio.run(main())
    assert store.new_calls == 1
    assert len({id(s) for s in sessions}) == 1
    assert not sessions[0].modified


def test_asave_all_awaits_async_stores_and_threads_sync_ones() -> None:
    """S-5.7: a sync store's save runs off the event loop's thread."""
    async_store, sync_store, request = AsyncMemory(), SyncRecorder(), SimpleRequest()

    async def main() -> None:
        (await async_store.get(request, "a")).values["x"] = 1
        sync_store.get(request, "b").values["x"] = 1
        await asave_all(request, RecordingResponse(), only_modified=True)

    asyncio.run(main())
    assert async_store.saved == ["a"]
    assert sync_store.threads and sync_store.threads[0] != threading.main_thread().name


def test_sync_save_all_refuses_async_stores_by_name() -> None:
    """S-5.7: save_all cannot save an async store's session and says which one."""
    store, request = AsyncMemory(), SimpleRequest()
    asyncio.run(store.get(request, "app"))
    with pytest.raises(SaveAllError, match="use asave_all"):
        save_all(request, RecordingResponse())


def test_session_save_and_asave_pick_the_right_path() -> None:
    """S-4.6: session.asave awaits an async store; session.save refuses one."""
    store, request = AsyncMemory(), SimpleRequest()
    session = asyncio.run(store.get(request, "app"))
    with pytest.raises(ConfigurationError, match="use asave"):
        session.save(request, RecordingResponse())
    asyncio.run(session.asave(request, RecordingResponse()))
    assert store.saved == ["app"]
    sync_session = SyncRecorder().get(SimpleRequest(), "b")
    asyncio.run(sync_session.asave(SimpleRequest(), RecordingResponse()))
