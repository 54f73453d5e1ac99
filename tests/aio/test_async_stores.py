"""The async stores as an ASGI app uses them: through the registry, off the event loop.

Conformance (``test_async_conformance.py``) proves the clauses; this file
proves what only an async caller sees: ``Registry.aget``/``asave_all``
(S-5.7), file I/O that never blocks the loop, sync and async twins sharing
data, backend errors raised inside the shared plan, and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

if os.environ.get("CI") != "true":
    pytest.importorskip("sqlalchemy", reason="the 'sql' extra (SQLAlchemy) is not installed")
    pytest.importorskip("aiosqlite", reason="the 'sql-async' extra (aiosqlite) is not installed")

from conformance import Browser, run_async
from reference_impl.aio import (
    AsyncCookieStore,
    AsyncFilesystemStore,
    AsyncMemoryStore,
    AsyncServerSideStore,
    AsyncSQLStore,
)
from reference_impl.filesystem import FilesystemStore
from reference_impl.sql import SQLStore
from spec import AsyncStore, ManualClock, Registry, Session, asave_all
from spec.errors import DeserializeError, StoreError
from spec.http import RecordingResponse, SimpleRequest
from spec.protocols import Request, ResponseWriter
from tests.aio._scenarios import registry_round_trip
from tests.stores._support import BLOCK, HASH

ROOT = Path(__file__).parents[2]


def _stores(tmp_path: Path) -> dict[str, Callable[[], AsyncStore]]:
    clock = ManualClock()
    return {
        "cookie": lambda: AsyncCookieStore(HASH, BLOCK, clock=clock),
        "memory": lambda: AsyncMemoryStore(HASH, BLOCK, clock=clock),
        "filesystem": lambda: AsyncFilesystemStore(tmp_path / "s", HASH, BLOCK, clock=clock),
        "sqlite": lambda: AsyncSQLStore(HASH, BLOCK, url=f"sqlite:///{tmp_path}/s.db", clock=clock),
    }


@pytest.mark.parametrize("kind", ["cookie", "memory", "filesystem", "sqlite"])
def test_registry_aget_and_asave_all(kind: str, tmp_path: Path) -> None:
    """S-5.7: each async store works through Registry.aget, asave_all and Session.asave."""

    async def main() -> None:
        store = _stores(tmp_path)[kind]()
        try:
            await registry_round_trip(store)
        finally:
            if isinstance(store, AsyncSQLStore):
                await store.close()

    asyncio.run(main())


def test_filesystem_io_never_blocks_the_event_loop(tmp_path: Path) -> None:
    """S-5.7: every file operation runs in a worker thread; a ticker keeps ticking meanwhile."""
    store = AsyncFilesystemStore(tmp_path / "s", HASH, BLOCK)
    backend = store._files
    threads: list[threading.Thread] = []

    def slow(operation: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object) -> object:
            threads.append(threading.current_thread())
            time.sleep(0.05)  # a slow disk: blocking, as real file I/O is
            return operation(*args)

        return run

    for name in ("read", "create", "update", "swap", "delete"):
        setattr(backend, name, slow(getattr(backend, name)))

    async def main() -> tuple[int, threading.Thread]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        browser = Browser()
        for n in range(2):  # create, then read and update
            request, response = browser.request(), RecordingResponse()
            session = await store.get(request, "app")
            session.values["n"] = n
            await asave_all(request, response)
            browser.receive(response)
        task.cancel()
        return ticks, threading.current_thread()

    ticks, loop_thread = asyncio.run(main())
    assert [t.name for t in threads].count(loop_thread.name) == 0
    assert len(threads) == 3  # create; read, update (a swap: S-10.20)
    assert ticks >= 10  # 150 ms of blocked I/O, and the loop ticked through it


def test_sync_and_async_stores_are_saved_together(tmp_path: Path) -> None:
    """S-5.7: asave_all awaits the async store and runs a blocking sync one in a worker thread."""
    sync_store, async_store = FilesystemStore(tmp_path / "s", HASH), AsyncMemoryStore(HASH)
    saved_in: list[str] = []
    real_save = sync_store.save

    def recording_save(request: Request, response: ResponseWriter, session: Session) -> None:
        saved_in.append(threading.current_thread().name)
        real_save(request, response, session)

    sync_store.save = recording_save  # type: ignore[method-assign]

    async def main() -> list[str]:
        request, response = SimpleRequest(), RecordingResponse()
        Registry.of(request).get(sync_store, "sync").values["a"] = 1
        (await async_store.get(request, "async")).values["b"] = 2
        await asave_all(request, response)
        saved_in.append(threading.current_thread().name)
        return [line.split("=")[0] for line in response.set_cookie_headers()]

    assert sorted(asyncio.run(main())) == ["async", "sync"]
    assert saved_in[0] != saved_in[1]  # the sync save did not run on the loop's thread


def test_sync_and_async_twins_share_files_and_tables(tmp_path: Path) -> None:
    """S-11.1: a session saved by one twin loads in the other: same files, same rows."""
    clock = ManualClock()
    pairs: list[tuple[object, AsyncStore]] = [
        (
            FilesystemStore(tmp_path / "f", HASH, clock=clock),
            AsyncFilesystemStore(tmp_path / "f", HASH, clock=clock),
        ),
        (
            SQLStore(HASH, url=f"sqlite:///{tmp_path}/t.db", clock=clock),
            AsyncSQLStore(HASH, url=f"sqlite:///{tmp_path}/t.db", clock=clock),
        ),
    ]

    async def main() -> None:
        for sync_store, async_store in pairs:
            assert isinstance(sync_store, FilesystemStore | SQLStore)
            browser = Browser()
            browser.visit(sync_store, user="alice")
            request, response = browser.request(), RecordingResponse()
            session = await async_store.get(request, "app")
            assert session.values == {"user": "alice"}
            session.values["seen"] = True
            await session.asave(request, response)
            browser.receive(response)
            assert browser.load(sync_store).values == {"user": "alice", "seen": True}
            if isinstance(async_store, AsyncSQLStore):
                await async_store.close()
                assert isinstance(sync_store, SQLStore)
                sync_store.close()

    asyncio.run(main())


class _FlakyBackend:
    """An async backend whose record for one ID is corrupt and whose writes can fail."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, float | None]] = {}
        self.down = False

    async def read(self, session_id: str) -> tuple[str, float | None] | None:
        if self.down:
            raise StoreError("backend down")
        if self.records.get(session_id, ("", None))[0] == "corrupt":
            raise DeserializeError("corrupt record")
        return self.records.get(session_id)

    async def create(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        if self.down:
            raise StoreError("backend down")
        return self.records.setdefault(session_id, (data, expires_at)) == (data, expires_at)

    async def update(
        self, session_id: str, data: str, expires_at: float | None, ttl: int | None
    ) -> bool:
        if session_id not in self.records:
            return False
        self.records[session_id] = (data, expires_at)
        return True

    async def delete(self, session_id: str) -> bool:
        return self.records.pop(session_id, None) is not None


def test_backend_errors_are_raised_inside_the_shared_plan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """S-9.3, S-10.4: a corrupt record is a load_error (logged), an outage a StoreError."""
    backend = _FlakyBackend()
    store = AsyncServerSideStore(backend, HASH, clock=ManualClock())

    async def main() -> None:
        browser = Browser()
        request, response = browser.request(), RecordingResponse()
        session = await store.get(request, "app")
        session.values["x"] = 1
        await session.asave(request, response)
        browser.receive(response)
        backend.records[session.id] = ("corrupt", None)
        with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
            loaded = await store.new(browser.request(), "app")
        assert isinstance(loaded.load_error, DeserializeError) and loaded.is_new
        assert "AsyncServerSideStore" in caplog.records[-1].getMessage()
        backend.down = True
        with pytest.raises(StoreError):
            await store.new(browser.request(), "app")
        fresh = await store.new(SimpleRequest(), "app")
        fresh.values["y"] = 2
        response = RecordingResponse()
        with pytest.raises(StoreError):
            await fresh.asave(SimpleRequest(), response)
        assert response.set_cookie_headers() == []

    asyncio.run(main())


def test_rejections_are_logged_under_the_async_store(caplog: pytest.LogCaptureFixture) -> None:
    """S-9.17: a forged cookie is logged at WARNING, naming the async store, not the value."""
    forged = "MTcwMDAwMDAwMHxmb3JnZWR8AAAA"
    with caplog.at_level(logging.DEBUG, logger="sessionspec.security"):
        asyncio.run(AsyncMemoryStore(HASH).new(SimpleRequest(f"app={forged}"), "app"))
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert "AsyncMemoryStore" in record.getMessage() and forged not in record.getMessage()


def test_with_keys_and_max_age_configure_the_shared_core() -> None:
    """S-9.13, S-9.14: rotation keeps the backend; max_age reaches every codec."""
    store = AsyncMemoryStore(HASH, clock=ManualClock())
    browser = Browser()

    async def main() -> None:
        request, response = browser.request(), RecordingResponse()
        (await store.get(request, "app")).values["u"] = 1
        await asave_all(request, response)
        browser.receive(response)
        rotated = store.with_keys(b"n" * 32, b"m" * 32, HASH)
        assert (await rotated.new(browser.request(), "app")).values == {"u": 1}
        assert rotated.backend is store.backend and rotated.codecs is not store.codecs

    asyncio.run(main())
    store.max_age(60)
    assert store.options.max_age == 60 and all(c.max_age == 60 for c in store.codecs)


def test_run_async_refuses_to_deadlock_its_own_loop() -> None:
    """The suite's runner cannot be called from a coroutine on its own loop."""

    async def nested() -> None:
        run_async(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="own event loop"):
        run_async(nested())


def test_cli_accepts_an_async_factory(tmp_path: Path) -> None:
    """``python -m conformance`` proves a factory that returns an async store."""
    (tmp_path / "async_factory.py").write_text(
        "from reference_impl.aio import AsyncMemoryStore\n"
        "def factory(clock, *keys):\n"
        "    return AsyncMemoryStore(*(keys or (b'k' * 32,)), clock=clock)\n"
        "factory.label = 'async-memory'\n"
        "factory.capabilities = {'server_side': True, 'regenerate_id': True,\n"
        "    'purge_expired': True, 'record_deadlines': True, 'id_sample_size': 300}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "conformance", "async_factory:factory"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("S-")]
    assert any(row.startswith("S-10.5 ") and row.split()[-1] == "pass" for row in rows)
    assert any(row.startswith("S-10.9 ") and row.split()[-1] == "pass" for row in rows)
    assert "PASS:" in result.stdout
