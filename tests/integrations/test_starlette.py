"""Starlette and FastAPI apps with the ASGI middleware, under uvicorn with a real client.

Clauses: only modified sessions are saved (S-4.7, S-5.6), sync stores load in
a worker thread and async ones are awaited (S-5.7), two stores per request
(S-9.12), flashes once (S-9.8), an unsavable session (S-9.11).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest

from tests.integrations._servers import require, serve_asgi, set_cookies

require("starlette")
require("fastapi")

from fastapi import Depends, FastAPI  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request as StarletteRequest  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from reference_impl import CookieStore, MemoryStore  # noqa: E402
from reference_impl.integrations.starlette import (  # noqa: E402
    SessionMiddleware,
    get_session,
    session_dependency,
    spec_request,
)
from spec import Registry, Request, ResponseWriter, Session  # noqa: E402
from spec.errors import ConfigurationError, InvalidCookieNameError  # noqa: E402

HASH, BLOCK = b"h" * 32, b"b" * 32
COOKIES = CookieStore(HASH, BLOCK)
LOADED_ON_LOOP: list[bool] = []


class ThreadRecordingStore(CookieStore):
    """A sync store that records whether each load ran on the event loop's thread."""

    blocking = True  # stands for a store with I/O (CookieStore itself is called inline)

    def new(self, request: Request, name: str) -> Session:
        try:
            asyncio.get_running_loop()
            LOADED_ON_LOOP.append(True)
        except RuntimeError:
            LOADED_ON_LOOP.append(False)
        return super().new(request, name)


class AsyncMemoryStore:
    """An AsyncStore over a MemoryStore."""

    def __init__(self) -> None:
        self.inner = MemoryStore(HASH)

    async def get(self, request: Request, name: str) -> Session:
        return await Registry.of(request).aget(self, name)

    async def new(self, request: Request, name: str) -> Session:
        return await asyncio.to_thread(self.inner.new, request, name)

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        await asyncio.to_thread(self.inner.save, request, response, session)


THREADED = ThreadRecordingStore(HASH, BLOCK)
CART = AsyncMemoryStore()


# -- a Starlette app --------------------------------------------------------------


async def login(request: StarletteRequest) -> PlainTextResponse:
    session = COOKIES.get(spec_request(request), "auth")
    session.values["user"] = "alice"
    session.add_flash("Welcome, alice")
    return PlainTextResponse("ok")


async def whoami(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse(str(COOKIES.get(spec_request(request), "auth").values.get("user")))


async def flashes(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(COOKIES.get(spec_request(request), "auth").flashes())


async def static(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("no session")


async def too_long(request: StarletteRequest) -> PlainTextResponse:
    COOKIES.get(spec_request(request), "auth").values["blob"] = "x" * 5000
    return PlainTextResponse("unreachable")


STARLETTE = Starlette(
    routes=[
        Route("/login", login, methods=["POST"]),
        Route("/whoami", whoami),
        Route("/flashes", flashes),
        Route("/static", static),
        Route("/too-long", too_long, methods=["POST"]),
    ],
    middleware=[Middleware(SessionMiddleware)],
)

# -- a FastAPI app ----------------------------------------------------------------

Auth = Annotated[Session, Depends(session_dependency(THREADED, "auth"))]
Cart = Annotated[Session, Depends(session_dependency(CART, "cart"))]

API = FastAPI(middleware=[Middleware(SessionMiddleware)])


@API.post("/login")
async def api_login(auth: Auth) -> dict[str, str]:
    auth.values["user"] = "bob"
    return {"ok": "yes"}


@API.get("/whoami")
async def api_whoami(auth: Auth) -> dict[str, object]:
    return {"user": auth.values.get("user")}


@API.post("/cart")
async def api_cart(auth: Auth, cart: Cart) -> dict[str, str]:
    auth.values["n"] = 1
    cart.values["items"] = ["apple"]
    return {"ok": "yes"}


@API.get("/cart")
async def api_read_cart(auth: Auth, cart: Cart) -> dict[str, object]:
    return {"n": auth.values.get("n"), "items": cart.values.get("items")}


@API.post("/too-long")
async def api_too_long(auth: Auth, cart: Cart) -> dict[str, str]:
    cart.values["items"] = ["pear"]
    auth.values["blob"] = "x" * 5000
    return {"ok": "unreachable"}


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def starlette_url() -> Iterator[str]:
    with serve_asgi(STARLETTE) as url:
        yield url


@pytest.fixture(scope="module")
def fastapi_url() -> Iterator[str]:
    with serve_asgi(API) as url:
        yield url


@pytest.fixture
def starlette_client(starlette_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=starlette_url, timeout=10) as client:
        yield client


@pytest.fixture
def fastapi_client(fastapi_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fastapi_url, timeout=10) as client:
        yield client


def _names(response: httpx.Response) -> list[str]:
    return sorted(line.partition("=")[0] for line in set_cookies(response))


# -- Starlette --------------------------------------------------------------------


def test_starlette_login_then_read(starlette_client: httpx.Client) -> None:
    """Starlette: the middleware saves what a route changed (S-5.6)."""
    login = starlette_client.post("/login")
    assert _names(login) == ["auth"]
    assert login.headers["vary"] == "Cookie"
    read = starlette_client.get("/whoami")
    assert read.text == "alice"
    assert set_cookies(read) == []
    assert read.headers["vary"] == "Cookie"
    untouched = starlette_client.get("/static")
    assert set_cookies(untouched) == [] and "vary" not in untouched.headers


def test_starlette_flash_shows_once(starlette_client: httpx.Client) -> None:
    """Starlette: a flash is returned once, and its removal saved (S-9.8)."""
    starlette_client.post("/login")
    assert starlette_client.get("/flashes").json() == ["Welcome, alice"]
    assert starlette_client.get("/flashes").json() == []


def test_starlette_save_error_is_a_500_with_no_cookie(starlette_client: httpx.Client) -> None:
    """Starlette: an unsavable session (S-9.11) answers 500 with no Set-Cookie."""
    starlette_client.post("/login")
    failed = starlette_client.post("/too-long")
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert starlette_client.get("/whoami").text == "alice"


# -- FastAPI ----------------------------------------------------------------------


def test_fastapi_dependency_loads_sync_stores_off_the_loop(fastapi_client: httpx.Client) -> None:
    """FastAPI: the dependency loads a sync store in a worker thread (S-5.7)."""
    LOADED_ON_LOOP.clear()
    login = fastapi_client.post("/login")
    assert _names(login) == ["auth"]
    read = fastapi_client.get("/whoami")
    assert read.json() == {"user": "bob"}
    assert set_cookies(read) == []
    assert LOADED_ON_LOOP == [False, False]


def test_fastapi_sync_and_async_stores_saved_together(fastapi_client: httpx.Client) -> None:
    """FastAPI: a sync and an async store's sessions are both saved (S-9.12, S-5.7)."""
    both = fastapi_client.post("/cart")
    assert _names(both) == ["auth", "cart"]
    assert fastapi_client.get("/cart").json() == {"n": 1, "items": ["apple"]}


def test_fastapi_save_error_is_a_500_with_no_cookie(fastapi_client: httpx.Client) -> None:
    """FastAPI: one unsavable session (S-9.11) means no cookie at all, not half."""
    fastapi_client.post("/login")
    failed = fastapi_client.post("/too-long")
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert fastapi_client.get("/whoami").json() == {"user": "bob"}


# -- misuse -----------------------------------------------------------------------


def test_a_session_without_the_middleware_is_refused() -> None:
    """Without the middleware nothing would save the session: ConfigurationError."""
    request = StarletteRequest({"type": "http", "headers": [], "method": "GET", "path": "/"})
    with pytest.raises(ConfigurationError, match="SessionMiddleware is not installed"):
        asyncio.run(get_session(request, COOKIES, "auth"))


def test_a_bad_name_is_refused_when_the_dependency_is_built() -> None:
    """InvalidCookieNameError at app build time, not per request (S-5.3)."""
    with pytest.raises(InvalidCookieNameError):
        session_dependency(COOKIES, "bad name")
