"""Stores that declare ``blocking = False`` are called inline from async code (S-5.7, issue 19).

A worker-thread hop costs more than encoding a cookie, so the registry,
``Session.asave`` and the Starlette middleware call an I/O-free sync store
on the event loop's thread; a store without the attribute (one that may
wait on a disk or a network) still goes to a worker thread.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading

import httpx
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reference_impl import CookieStore, FilesystemStore, MemoryStore
from reference_impl.integrations.starlette import SessionMiddleware
from spec import Registry, Request, ResponseWriter, Session
from spec.http import RecordingResponse, SimpleRequest
from spec.protocols import never_blocks
from tests.integrations._servers import serve_asgi

HASH = b"h" * 32
THREADS: list[int] = []


class RecordingCookieStore(CookieStore):
    def new(self, request: Request, name: str) -> Session:
        THREADS.append(threading.get_ident())
        return super().new(request, name)

    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        THREADS.append(threading.get_ident())
        super().save(request, response, session)

    def touch(
        self, request: Request, response: ResponseWriter, session: Session, *, force: bool = False
    ) -> bool:
        THREADS.append(threading.get_ident())
        return super().touch(request, response, session, force=force)


class RecordingMemoryStore(MemoryStore):
    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        THREADS.append(threading.get_ident())
        super().save(request, response, session)


class RecordingFilesystemStore(FilesystemStore):
    def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        THREADS.append(threading.get_ident())
        super().save(request, response, session)


def test_the_attribute() -> None:
    """S-5.7: cookie and memory stores declare no I/O; the filesystem store does not."""
    with tempfile.TemporaryDirectory() as directory:
        assert never_blocks(CookieStore(HASH)) and never_blocks(MemoryStore(HASH))
        assert not never_blocks(FilesystemStore(directory, HASH))
        assert not never_blocks(object())


def test_asave_all_calls_io_free_stores_inline_and_blocking_ones_in_a_thread() -> None:
    """S-5.7: asave_all and Session.asave: inline for blocking = False, a worker thread else."""
    with tempfile.TemporaryDirectory() as directory:
        stores = [
            RecordingCookieStore(HASH),
            RecordingMemoryStore(HASH),
            RecordingFilesystemStore(directory, HASH),
        ]

        async def main() -> tuple[int, list[int], list[int]]:
            request = SimpleRequest()
            registry = Registry.of(request)
            for store in stores:
                registry.get(store, "s")["k"] = 1
            THREADS.clear()
            await registry.asave_all(RecordingResponse(), only_modified=True)
            saved = list(THREADS)
            fresh = [store.new(request, "t") for store in stores]
            THREADS.clear()
            for session in fresh:
                session["k"] = 2
                await session.asave(request, RecordingResponse())
            return threading.get_ident(), saved, list(THREADS)

        loop_thread, saved, asaved = asyncio.run(main())
    for threads in (saved, asaved):
        assert threads[0] == loop_thread  # cookie: inline
        assert threads[1] == loop_thread  # memory: inline
        assert threads[2] != loop_thread  # filesystem: a worker thread


def test_touch_of_an_io_free_store_runs_inline() -> None:
    """S-5.7, S-9.23: a due touch of a store with blocking = False runs on the loop's thread."""
    store = RecordingCookieStore(HASH, idle_timeout=600)
    first = RecordingResponse()
    seed = store.new(SimpleRequest(), "s")
    seed["k"] = 1
    store.save(SimpleRequest(), first, seed)
    header = f"s={first.cookies[0].value}"

    async def main() -> tuple[int, list[int], int]:
        request = SimpleRequest(header)
        registry = Registry.of(request)
        session = registry.get(store, "s")
        THREADS.clear()
        response = RecordingResponse()
        touched = await registry.atouch(session, response, force=True)
        assert touched
        return threading.get_ident(), list(THREADS), len(response.cookies)

    loop_thread, threads, cookies = asyncio.run(main())
    assert threads == [loop_thread] and cookies == 1


def test_starlette_loads_and_saves_an_io_free_store_on_the_loop() -> None:
    """S-5.7: request.session over CookieStore (real uvicorn) costs no thread, still round-trips."""
    store = RecordingCookieStore(HASH, options=None)
    store.max_age(1209600)
    seen: list[int] = []

    async def count(request: StarletteRequest) -> PlainTextResponse:
        seen.append(threading.get_ident())
        request.session["n"] = request.session.get("n", 0) + 1
        return PlainTextResponse(str(request.session["n"]))

    app = Starlette(routes=[Route("/", count)])
    app.add_middleware(SessionMiddleware, store=store)
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        THREADS.clear()
        assert client.get("/").text == "1"
        assert client.get("/").text == "2"
    assert THREADS and set(THREADS) == {seen[0]}  # every new() and save() on the loop's thread
