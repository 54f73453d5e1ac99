"""The WSGI and ASGI middleware under real servers (wsgiref, uvicorn) and a real client.

Both middlewares run the same scenarios through the same routes: one app is
a raw WSGI callable, the other a raw ASGI callable with an *async* store for
the second session, so the async path of the registry (S-5.7) is exercised
too. Clauses: only modified sessions are saved (S-4.7, S-5.6, S-9.20),
several stores per request (S-9.12), flashes once (S-9.8), a save error
(S-9.11) answers 500 with no cookie, expiry slides when every request saves
(S-9.4).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import httpx
import pytest

from reference_impl import CookieStore, MemoryStore
from reference_impl.integrations import asgi as asgi_mw
from reference_impl.integrations import wsgi as wsgi_mw
from reference_impl.integrations._common import vary_with_cookie
from spec import ManualClock, Registry, Request, ResponseWriter, Session
from tests.integrations._servers import serve_asgi, serve_wsgi, set_cookies

HASH, BLOCK = b"h" * 32, b"b" * 32
CLOCK = ManualClock(1_700_000_000)
COOKIES = CookieStore(HASH, BLOCK, clock=CLOCK)
MEMORY = MemoryStore(HASH, clock=CLOCK)
TOO_LONG = "x" * 5000  # past the CookieStore's 4096-byte limit (S-9.11)


class AsyncMemoryStore:
    """An AsyncStore over a MemoryStore: the ASGI app's second store."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    async def get(self, request: Request, name: str) -> Session:
        return await Registry.of(request).aget(self, name)

    async def new(self, request: Request, name: str) -> Session:
        return await asyncio.to_thread(self.inner.new, request, name)

    async def save(self, request: Request, response: ResponseWriter, session: Session) -> None:
        await asyncio.to_thread(self.inner.save, request, response, session)


ASYNC_MEMORY = AsyncMemoryStore(MEMORY)


def route(path: str, auth: Callable[[], Session], cart: Callable[[], Session]) -> str:
    """The app's logic, shared by both apps; raises KeyError for unknown paths."""
    path = path.removeprefix("/sliding")
    if path == "/login":
        session = auth()
        session.values["user"] = "alice"
        session.add_flash("Welcome, alice")
        return "logged in"
    if path == "/whoami":
        return str(auth().values.get("user", "anonymous"))
    if path == "/flash":
        return json.dumps(auth().flashes())
    if path == "/both":
        auth().values["n"] = 1
        cart().values["items"] = ["apple"]
        return "both"
    if path == "/both/read":
        return json.dumps([auth().values.get("n"), cart().values.get("items")])
    if path == "/too-long":
        cart().values["items"] = ["pear"]  # saves fine...
        auth().values["blob"] = TOO_LONG  # ...but this one cannot
        return "unreachable"
    if path == "/static":
        return "no session here"
    raise KeyError(path)


# -- the WSGI app ---------------------------------------------------------------


def wsgi_inner(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    request = wsgi_mw.request_of(environ)
    path = environ["PATH_INFO"]
    if path == "/catches":  # an app that answers our save error with its own 500
        COOKIES.get(request, "auth").values["blob"] = TOO_LONG
        try:
            start_response("200 OK", [("Content-Type", "text/plain")])
        except Exception:
            import sys

            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
            return [b"handled"]
        return [b"unreachable"]
    try:
        body = route(
            path,
            lambda: COOKIES.get(request, "auth"),
            lambda: MEMORY.get(request, "cart"),
        )
    except KeyError:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Vary", "Accept-Encoding")])
    return [body.encode()]


NORMAL_WSGI = wsgi_mw.SessionMiddleware(wsgi_inner)
SLIDING_WSGI = wsgi_mw.SessionMiddleware(wsgi_inner, save_every_request=True)


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    sliding = environ["PATH_INFO"].startswith("/sliding/")
    return (SLIDING_WSGI if sliding else NORMAL_WSGI)(environ, start_response)


# -- the ASGI app ---------------------------------------------------------------

LIFESPAN_EVENTS: list[str] = []


async def asgi_inner(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            LIFESPAN_EVENTS.append(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["from_lifespan"] = "hello"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    request = asgi_mw.request_of(scope)
    path = scope["path"]
    if path == "/catches":  # an app that answers our save error with its own 500
        COOKIES.get(request, "auth").values["blob"] = TOO_LONG
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except Exception:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"handled"})
        return
    if path == "/lifespan-state":
        body = str(request.state.get("from_lifespan"))
    else:
        cart: Session | None = None
        if path.removeprefix("/sliding") in ("/both", "/both/read", "/too-long"):
            cart = await ASYNC_MEMORY.get(request, "cart")
        try:
            body = route(path, lambda: COOKIES.get(request, "auth"), lambda: _some(cart))
        except KeyError:
            body = None
    status = 200 if body is not None else 404
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"vary", b"Accept-Encoding")],
        }
    )
    await send({"type": "http.response.body", "body": (body or "not found").encode()})


def _some(session: Session | None) -> Session:
    assert session is not None
    return session


NORMAL_ASGI = asgi_mw.SessionMiddleware(asgi_inner)
SLIDING_ASGI = asgi_mw.SessionMiddleware(asgi_inner, save_every_request=True)


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    sliding = scope["type"] == "http" and scope["path"].startswith("/sliding/")
    await (SLIDING_ASGI if sliding else NORMAL_ASGI)(scope, receive, send)


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def wsgi_url() -> Iterator[str]:
    with serve_wsgi(wsgi_app) as url:
        yield url


@pytest.fixture(scope="module")
def asgi_url() -> Iterator[str]:
    with serve_asgi(asgi_app, lifespan="on") as url:
        yield url


@pytest.fixture(params=["wsgi", "asgi"])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    url = request.getfixturevalue(f"{request.param}_url")
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


def _cookie_names(response: httpx.Response) -> list[str]:
    return [line.partition("=")[0] for line in set_cookies(response)]


# -- scenarios ------------------------------------------------------------------


def test_login_sets_a_cookie_that_later_requests_see(client: httpx.Client) -> None:
    """A modified session is saved and its cookie sent back next time (S-5.6, S-9.1)."""
    login = client.post("/login")
    assert login.status_code == 200
    (line,) = set_cookies(login)
    assert re.fullmatch(
        r"auth=[A-Za-z0-9_=-]+; Path=/; Expires=[^;]+ GMT; Max-Age=2592000; HttpOnly; "
        r"SameSite=Lax",
        line,
    ), line
    assert client.get("/whoami").text == "alice"


def test_a_request_that_only_reads_sends_no_set_cookie(client: httpx.Client) -> None:
    """Reading a session is not a change: no Set-Cookie, but Vary: Cookie (S-4.7, S-9.20)."""
    client.post("/login")
    read = client.get("/whoami")
    assert read.text == "alice"
    assert set_cookies(read) == []
    assert read.headers["vary"] == "Accept-Encoding, Cookie"


def test_a_request_that_never_touches_a_session_is_left_alone(client: httpx.Client) -> None:
    """No session accessed: neither Set-Cookie nor Vary: Cookie (S-5.6)."""
    client.post("/login")
    response = client.get("/static")
    assert set_cookies(response) == []
    assert response.headers["vary"] == "Accept-Encoding"


def test_a_flash_shows_once(client: httpx.Client) -> None:
    """Reading flashes removes them, and the removal is saved (S-9.8)."""
    client.post("/login")
    first = client.get("/flash")
    assert json.loads(first.text) == ["Welcome, alice"]
    assert _cookie_names(first) == ["auth"]  # the removal is a change
    assert json.loads(client.get("/flash").text) == []
    assert client.get("/whoami").text == "alice"


def test_two_sessions_from_two_stores_are_both_saved(client: httpx.Client) -> None:
    """Sessions of two stores in one request are saved together (S-9.12, S-5.7)."""
    both = client.post("/both")
    assert sorted(_cookie_names(both)) == ["auth", "cart"]
    assert json.loads(client.get("/both/read").text) == [1, ["apple"]]


def test_a_save_error_is_a_500_with_no_cookie_at_all(client: httpx.Client) -> None:
    """A session too long to save (S-9.11) fails the request: 500, no Set-Cookie."""
    client.post("/login")
    failed = client.post("/too-long")
    assert failed.status_code == 500
    assert set_cookies(failed) == []
    assert client.get("/whoami").text == "alice"  # the browser kept its old cookie


def test_save_every_request_resends_the_cookie_with_a_later_expiry(
    client: httpx.Client,
) -> None:
    """With save_every_request, a read re-stamps the cookie: expiry slides (S-9.4)."""
    client.post("/login")
    first = client.get("/sliding/whoami")
    CLOCK.advance(120)
    second = client.get("/sliding/whoami")
    assert second.text == "alice"
    expiries = [
        parsedate_to_datetime(re.search(r"Expires=([^;]+)", set_cookies(r)[0]).group(1))  # type: ignore[union-attr]
        for r in (first, second)
    ]
    assert (expiries[1] - expiries[0]).total_seconds() == 120


def test_an_app_answering_the_save_error_itself_gets_no_cookie(client: httpx.Client) -> None:
    """An app that catches the save error and sends its own 500 still gets no cookie."""
    response = client.get("/catches")
    assert (response.status_code, response.text) == (500, "handled")
    assert set_cookies(response) == []
    assert "Cookie" in response.headers["vary"]


def test_asgi_lifespan_passes_through(asgi_url: str) -> None:
    """Non-HTTP scopes reach the app untouched; lifespan state reaches requests."""
    assert LIFESPAN_EVENTS[0] == "lifespan.startup"
    response = httpx.get(f"{asgi_url}/lifespan-state")
    assert response.text == "hello"
    assert set_cookies(response) == []


# -- header merging -------------------------------------------------------------


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        (None, "Cookie"),
        ("", "Cookie"),
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("accept-encoding, cookie", "accept-encoding, cookie"),
        ("*", "*"),
    ],
)
def test_vary_with_cookie(vary: str | None, expected: str) -> None:
    """Cookie is added to Vary once, and never next to ``*``."""
    assert vary_with_cookie(vary) == expected


def test_header_merging_adds_nothing_when_no_session_was_used() -> None:
    """Headers are copied unchanged when the request used no session."""
    from reference_impl.integrations._common import PendingHeaders

    headers = [("Vary", "Accept")]
    assert wsgi_mw.with_session_headers(headers, PendingHeaders()) == headers
    assert asgi_mw.with_session_headers([(b"vary", b"Accept")], PendingHeaders()) == [
        (b"vary", b"Accept")
    ]


def test_request_doubles_read_every_cookie_in_order() -> None:
    """The WSGI and ASGI requests see duplicate cookies in header order (S-3.9, S-9.5)."""
    environ: dict[str, Any] = {"HTTP_COOKIE": "a=1; b=2; a=3"}
    assert wsgi_mw.request_of(environ).cookie_values("a") == ["1", "3"]
    scope: dict[str, Any] = {
        "type": "http",
        "headers": [(b"cookie", b"a=1"), (b"Cookie", b"b=2; a=3")],
    }
    assert asgi_mw.request_of(scope).cookie_values("a") == ["1", "3"]
    assert asgi_mw.request_of(scope).state is scope["state"]
    assert wsgi_mw.request_of(environ).state is wsgi_mw.request_of(environ).state
