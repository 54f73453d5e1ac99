"""``request.session`` as Starlette's own: the same app, Starlette's middleware or ours, compared.

One app body, written only with Starlette and FastAPI idioms
(``request.session[...] = ...``, ``.get``, ``.pop``, ``.setdefault``,
``.update``, ``.clear()``, ``JSONResponse(request.session)``, FastAPI's
``Request`` parameter), runs under a real uvicorn (lifespan on) twice: with
``starlette.middleware.sessions.SessionMiddleware`` and with ours over
``AsyncCookieStore``, ``CookieStore`` (sync) and ``FilesystemStore`` (server
side, blocking file I/O in a worker thread, S-5.7). A real httpx client plays
the same script against both and every observable is compared: status,
body, whether a ``Set-Cookie`` is sent or deletes the cookie, its
``Max-Age``, ``Path``, ``Domain``, ``SameSite``, ``Secure``, ``HttpOnly``,
and ``Vary: Cookie``. Only modified sessions are saved (S-5.6); the lifespan
scope passes through untouched (S-5.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.integrations._servers import require, serve_asgi, set_cookies

require("starlette")
require("fastapi")

from fastapi import FastAPI  # noqa: E402
from fastapi import Request as FastAPIRequest  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.sessions import (  # noqa: E402
    SessionMiddleware as StarletteSessionMiddleware,
)
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402

from reference_impl import CookieStore, FilesystemStore, MemoryStore  # noqa: E402
from reference_impl.aio import AsyncCookieStore  # noqa: E402
from reference_impl.integrations.starlette import (  # noqa: E402
    STARLETTE_MAX_AGE,
    SessionDict,
    SessionMiddleware,
    get_session,
)
from spec import AsyncStore, Options, Registry, ResponseWriter, Session, Store  # noqa: E402
from spec import Request as SpecRequest  # noqa: E402
from spec.errors import ConfigurationError  # noqa: E402
from spec.http import RecordingResponse, SimpleRequest  # noqa: E402

HASH, BLOCK = bytes(range(32)), bytes(range(100, 132))
SECRET = "s" * 32  # Starlette's own middleware

# -- the app body: Starlette idioms only -------------------------------------------


async def static(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"static {request.state.greeting}")  # the lifespan's state


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user")})


async def login(request: Request) -> JSONResponse:
    body = await request.json()
    request.session["user"] = body["user"]
    request.session["visits"] = 0
    return JSONResponse({"ok": True})


async def visit(request: Request) -> JSONResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JSONResponse({"visits": request.session["visits"]})


async def pop_user(request: Request) -> JSONResponse:
    return JSONResponse({"popped": request.session.pop("user", None)})


async def pop_missing(request: Request) -> JSONResponse:
    return JSONResponse({"popped": request.session.pop("nope", None)})


async def prefs(request: Request) -> JSONResponse:
    request.session.setdefault("theme", "dark")
    request.session.update({"lang": "en"})
    return JSONResponse(request.session)


async def unsavable(request: Request) -> JSONResponse:
    request.session["user"] = "mallory"
    request.session["tags"] = {"a", "b"}  # a set: no JSON for it, the save fails
    return JSONResponse({"ok": True})


async def logout(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"ok": True})


async def ws_whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(str(websocket.session.get("user")))
    await websocket.close()


@contextlib.asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[dict[str, str]]:
    yield {"greeting": "hello"}


ROUTES = [
    Route("/static", static),
    Route("/whoami", whoami),
    Route("/login", login, methods=["POST"]),
    Route("/visit", visit, methods=["POST"]),
    Route("/pop", pop_user, methods=["POST"]),
    Route("/pop-missing", pop_missing, methods=["POST"]),
    Route("/prefs", prefs, methods=["POST"]),
    Route("/unsavable", unsavable, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    WebSocketRoute("/ws", ws_whoami),
]


def starlette_app(middleware: Middleware) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[middleware], lifespan=lifespan)


def fastapi_app(middleware: Middleware) -> FastAPI:
    """The same body as FastAPI endpoints taking FastAPI's ``Request``."""
    api = FastAPI(middleware=[middleware], lifespan=lifespan)

    @api.get("/static")
    async def api_static(request: FastAPIRequest) -> PlainTextResponse:
        return PlainTextResponse(f"static {request.state.greeting}")

    @api.get("/whoami")
    async def api_whoami(request: FastAPIRequest) -> dict[str, Any]:
        return {"user": request.session.get("user")}

    @api.post("/login")
    async def api_login(request: FastAPIRequest) -> dict[str, Any]:
        body = await request.json()
        request.session["user"] = body["user"]
        request.session["visits"] = 0
        return {"ok": True}

    @api.post("/visit")
    async def api_visit(request: FastAPIRequest) -> dict[str, Any]:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"]}

    @api.post("/pop")
    async def api_pop(request: FastAPIRequest) -> dict[str, Any]:
        return {"popped": request.session.pop("user", None)}

    @api.post("/pop-missing")
    async def api_pop_missing(request: FastAPIRequest) -> dict[str, Any]:
        return {"popped": request.session.pop("nope", None)}

    @api.post("/prefs")
    async def api_prefs(request: FastAPIRequest) -> dict[str, Any]:
        request.session.setdefault("theme", "dark")
        request.session.update({"lang": "en"})
        return dict(request.session)

    @api.post("/unsavable")
    async def api_unsavable(request: FastAPIRequest) -> dict[str, Any]:
        request.session["user"] = "mallory"
        request.session["tags"] = {"a", "b"}
        return {"ok": True}

    @api.post("/logout")
    async def api_logout(request: FastAPIRequest) -> dict[str, Any]:
        request.session.clear()
        return {"ok": True}

    return api


# -- observing a response ------------------------------------------------------------


def cookie_attributes(line: str) -> tuple[str, str, dict[str, str]]:
    """``(name, value, {lower-cased attribute: value})`` of one ``Set-Cookie`` line."""
    first, *rest = (part.strip() for part in line.split(";"))
    name, _, value = first.partition("=")
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.strip().lower()] = val.strip()
    return name, value, attributes


def observe_cookie(line: str) -> dict[str, object]:
    """What a browser learns from a ``Set-Cookie``, ignoring the encoding of the value.

    A deletion is ``Max-Age<=0`` or an ``Expires`` in 1970, however spelled.
    """
    _, _, attributes = cookie_attributes(line)
    deleted = "1970" in attributes.get("expires", "") or int(attributes.get("max-age", "1")) <= 0
    return {
        "deleted": deleted,
        "max-age": None if deleted else attributes.get("max-age"),
        "path": attributes.get("path"),
        "domain": attributes.get("domain", "").lstrip(".") or None,
        "samesite": attributes.get("samesite", "").lower() or None,
        "secure": "secure" in attributes,
        "httponly": "httponly" in attributes,
    }


@dataclass
class Browser:
    """An httpx client that keeps the session cookie itself (Secure or not, any path)."""

    client: httpx.Client
    cookie_name: str
    jar: dict[str, str] = field(default_factory=dict)

    def send(self, method: str, path: str, **kwargs: Any) -> dict[str, object]:
        headers = {"cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())}
        response = self.client.request(method, path, headers=headers, **kwargs)
        seen: list[dict[str, object]] = []
        for line in set_cookies(response):
            name, value, _ = cookie_attributes(line)
            assert name == self.cookie_name, line
            observed = observe_cookie(line)
            seen.append(observed)
            if observed["deleted"]:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        vary = {v.strip().lower() for v in response.headers.get("vary", "").split(",")}
        return {
            "request": f"{method} {path}",
            "status": response.status_code,
            "body": (
                response.json()
                if response.headers.get("content-type") == "application/json"
                else response.text
            ),
            "set-cookie": seen,
            "vary-cookie": "cookie" in vary,
            "has-cookie": self.cookie_name in self.jar,
        }


def script(browser: Browser) -> list[dict[str, object]]:
    """Every idiom, in the order a user meets them; returns what was observed."""
    out = [
        browser.send("GET", "/static"),
        browser.send("GET", "/whoami"),
        browser.send("POST", "/logout"),  # clear() on a session never stored: no cookie
        browser.send("POST", "/pop-missing"),
        browser.send("POST", "/login", json={"user": "alice"}),
        browser.send("GET", "/whoami"),  # read only: no Set-Cookie
        browser.send("GET", "/static"),
        browser.send("POST", "/visit"),
        browser.send("POST", "/visit"),
        browser.send("POST", "/pop-missing"),  # nothing popped: not a change
        browser.send("POST", "/prefs"),
        browser.send("POST", "/unsavable"),  # a failed save: 500, and no cookie at all
        browser.send("GET", "/whoami"),
        browser.send("POST", "/pop"),
        browser.send("GET", "/whoami"),
        browser.send("POST", "/login", json={"user": "bob"}),
        browser.send("POST", "/logout"),  # clear(): the cookie is deleted
        browser.send("GET", "/whoami"),
    ]
    browser.jar[browser.cookie_name] = "forged-or-stale"
    out.append(browser.send("GET", "/whoami"))
    out.append(browser.send("POST", "/logout"))  # a bad cookie loads empty: nothing to delete
    return out


def run_script(app: Any, cookie_name: str) -> list[dict[str, object]]:
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        return script(Browser(client, cookie_name))


# -- stores -------------------------------------------------------------------------

STORE_KINDS = ["async-cookie", "sync-cookie", "filesystem"]


@pytest.fixture
def session_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield directory


def make_store(kind: str, max_age: int, directory: str) -> Store | AsyncStore:
    """A store whose lifetime matches the middleware's (0: browser session)."""
    options = Options(max_age=max_age)
    if kind == "async-cookie":
        return AsyncCookieStore(HASH, BLOCK, options=options)
    if kind == "sync-cookie":
        return CookieStore(HASH, BLOCK, options=options)
    return FilesystemStore(directory, HASH, BLOCK, options=options)


KNOBS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "every-knob": {
        "session_cookie": "sid",
        "max_age": 3600,
        "path": "/",
        "same_site": "strict",
        "https_only": True,
        "domain": "127.0.0.1",
    },
    "browser-session": {"max_age": None, "same_site": "none", "https_only": True},
}


def ours(knobs: dict[str, Any], kind: str, directory: str) -> Middleware:
    max_age = knobs.get("max_age", STARLETTE_MAX_AGE)
    store = make_store(kind, 0 if max_age is None else max_age, directory)
    return Middleware(SessionMiddleware, store=store, **knobs)


def theirs(knobs: dict[str, Any]) -> Middleware:
    return Middleware(StarletteSessionMiddleware, secret_key=SECRET, **knobs)


@pytest.fixture(scope="module")
def native_defaults() -> list[dict[str, object]]:
    return run_script(starlette_app(theirs({})), "session")


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_same_observations_as_starlette(
    kind: str, session_dir: str, native_defaults: list[dict[str, object]]
) -> None:
    """Starlette's own middleware and ours, same app, same script: every observable equal."""
    observed = run_script(starlette_app(ours({}, kind, session_dir)), "session")
    assert observed == native_defaults
    login = observed[4]
    assert login["set-cookie"] == [
        {
            "deleted": False,
            "max-age": "1209600",
            "path": "/",
            "domain": None,
            "samesite": "lax",
            "secure": False,
            "httponly": True,
        }
    ]
    assert observed[-4]["set-cookie"][0]["deleted"] is True  # type: ignore[index]
    at = next(i for i, o in enumerate(observed) if o["request"] == "POST /unsavable")
    assert observed[at]["status"] == 500 and observed[at]["set-cookie"] == []
    assert observed[at + 1]["body"] == {"user": "alice"}  # the failed change never landed
    assert observed[0]["body"] == "static hello" and observed[0]["set-cookie"] == []


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_same_observations_in_fastapi(
    kind: str, session_dir: str, native_defaults: list[dict[str, object]]
) -> None:
    """FastAPI endpoints taking ``Request``: Starlette's middleware and ours agree."""
    native = run_script(fastapi_app(theirs({})), "session")
    assert native == native_defaults  # the FastAPI body is the same app
    assert run_script(fastapi_app(ours({}, kind, session_dir)), "session") == native


@pytest.mark.parametrize("knobs", sorted(KNOBS))
@pytest.mark.parametrize("kind", ["async-cookie", "filesystem"])
def test_every_constructor_knob_gives_starlettes_cookie(
    knobs: str, kind: str, session_dir: str
) -> None:
    """Each knob: session_cookie, max_age (None too), path, same_site, https_only, domain."""
    chosen = KNOBS[knobs]
    name = chosen.get("session_cookie", "session")
    native = run_script(starlette_app(theirs(chosen)), name)
    observed = run_script(starlette_app(ours(chosen, kind, session_dir)), name)
    assert observed == native
    (cookie,) = observed[4]["set-cookie"]  # type: ignore[misc]
    if knobs == "browser-session":
        assert cookie["max-age"] is None and cookie["samesite"] == "none"
    if knobs == "every-knob":
        assert cookie["max-age"] == "3600" and cookie["secure"] is True
        assert cookie["domain"] == "127.0.0.1" and cookie["samesite"] == "strict"


# -- ours only: several sessions, stores, websocket -----------------------------------


@pytest.mark.parametrize("kind", ["sync-cookie", "filesystem"])
def test_save_every_request_refreshes_non_empty_sessions(kind: str, session_dir: str) -> None:
    """``save_every_request=True``: a read re-sends a session with data, never an empty one."""
    store = make_store(kind, STARLETTE_MAX_AGE, session_dir)
    app = starlette_app(Middleware(SessionMiddleware, store=store, save_every_request=True))
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        browser = Browser(client, "session")
        assert browser.send("GET", "/whoami")["set-cookie"] == []
        browser.send("POST", "/login", json={"user": "erin"})
        refreshed = browser.send("GET", "/static")
        assert [c["max-age"] for c in refreshed["set-cookie"]] == ["1209600"]  # type: ignore[union-attr]
        assert refreshed["vary-cookie"] is True  # it carries a session cookie: never cache it
        assert browser.send("GET", "/whoami")["body"] == {"user": "erin"}
        browser.send("POST", "/logout")
        assert browser.send("GET", "/whoami")["set-cookie"] == []


@pytest.mark.parametrize("kind", ["sync-cookie", "filesystem"])
def test_a_sessions_own_max_age_outlives_request_session_writes(
    kind: str, session_dir: str
) -> None:
    """S-9.21: "remember me: off", chosen by a service sharing the store, stays off.

    The login service gave the session its own ``max_age=0`` (a browser-session
    cookie); the Starlette app's next write through ``request.session`` keeps
    it instead of turning it into a 14-day cookie.
    """
    store = make_store(kind, STARLETTE_MAX_AGE, session_dir)
    assert isinstance(store, CookieStore | FilesystemStore)
    request, response = SimpleRequest(), RecordingResponse()
    session = store.get(request, "session")
    session.values["user"] = "frank"
    session.options = session.options.replace(max_age=0)
    session.save(request, response)
    app = starlette_app(Middleware(SessionMiddleware, store=store))
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        browser = Browser(client, "session", {"session": response.cookies[0].value})
        for _ in range(2):
            (cookie,) = browser.send("POST", "/visit")["set-cookie"]  # type: ignore[misc]
            assert cookie["deleted"] is False and cookie["max-age"] is None
        assert browser.send("GET", "/whoami")["body"] == {"user": "frank"}


LOADED_ON_LOOP: list[bool] = []


class ThreadRecordingStore(FilesystemStore):
    """A blocking store that records whether each load ran on the event loop's thread."""

    def new(self, request: SpecRequest, name: str) -> Session:
        try:
            asyncio.get_running_loop()
            LOADED_ON_LOOP.append(True)
        except RuntimeError:
            LOADED_ON_LOOP.append(False)
        return super().new(request, name)


def test_a_blocking_store_loads_request_session_off_the_loop(session_dir: str) -> None:
    """S-5.7: a sync store's load for ``request.session`` runs in a worker thread."""
    store = ThreadRecordingStore(session_dir, HASH, BLOCK, options=Options(max_age=3600))
    app = starlette_app(Middleware(SessionMiddleware, store=store, max_age=3600))
    LOADED_ON_LOOP.clear()
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        browser = Browser(client, "session")
        browser.send("POST", "/login", json={"user": "gina"})
        assert browser.send("GET", "/whoami")["body"] == {"user": "gina"}
    assert LOADED_ON_LOOP == [False, False]


class OptionlessStore:
    """A third-party async store that states no default options (over a MemoryStore)."""

    def __init__(self) -> None:
        self.inner = MemoryStore(HASH)

    async def get(self, request: SpecRequest, name: str) -> Session:
        return await Registry.of(request).aget(self, name)

    async def new(self, request: SpecRequest, name: str) -> Session:
        return await asyncio.to_thread(self.inner.new, request, name)

    async def save(self, request: SpecRequest, response: ResponseWriter, session: Session) -> None:
        await asyncio.to_thread(self.inner.save, request, response, session)


def test_a_store_without_options_gets_the_knobs() -> None:
    """A store with no ``options`` cannot be checked: every knob, ``max_age`` too, is applied."""
    middleware = Middleware(
        SessionMiddleware, store=OptionlessStore(), max_age=600, same_site="strict"
    )
    with (
        serve_asgi(starlette_app(middleware), lifespan="on") as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        browser = Browser(client, "session")
        (cookie,) = browser.send("POST", "/login", json={"user": "hal"})["set-cookie"]  # type: ignore[misc]
        assert cookie["max-age"] == "600" and cookie["samesite"] == "strict"
        assert browser.send("GET", "/whoami")["body"] == {"user": "hal"}


def test_server_side_clear_deletes_the_record(session_dir: str) -> None:
    """``clear()`` on a server-side session removes its file, not only the cookie."""
    store = FilesystemStore(session_dir, HASH, BLOCK, options=Options(max_age=STARLETTE_MAX_AGE))
    app = starlette_app(Middleware(SessionMiddleware, store=store))

    def records() -> list[str]:
        return [name for name in os.listdir(session_dir) if name.startswith("session_")]

    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        browser = Browser(client, "session")
        browser.send("POST", "/login", json={"user": "alice"})
        assert len(records()) == 1
        browser.send("POST", "/logout")
        assert records() == []


CART = MemoryStore(HASH)


async def both(request: Request) -> JSONResponse:
    request.session["user"] = "carol"
    cart = await get_session(request, CART, "cart")
    cart.values["items"] = ["apple"]
    return JSONResponse({"ok": True})


async def read_both(request: Request) -> JSONResponse:
    cart = await get_session(request, CART, "cart")
    return JSONResponse({"user": request.session.get("user"), "items": cart.values.get("items")})


def test_request_session_beside_named_sessions() -> None:
    """``get_session`` keeps working beside ``request.session``: two cookies, both saved."""
    store = AsyncCookieStore(HASH, BLOCK, options=Options(max_age=STARLETTE_MAX_AGE))
    app = Starlette(
        routes=[Route("/both", both, methods=["POST"]), Route("/both", read_both)],
        middleware=[Middleware(SessionMiddleware, store=store)],
    )
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        written = client.post("/both")
        assert sorted(line.partition("=")[0] for line in set_cookies(written)) == [
            "cart",
            "session",
        ]
        read = client.get("/both")
        assert read.json() == {"user": "carol", "items": ["apple"]}
        assert set_cookies(read) == []


async def websocket_text(app: Any, cookie_header: str) -> str:
    """Open ``/ws`` on ``app`` (an ASGI call, handshake cookies given) and return its text."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie_header.encode("latin-1"))],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "subprotocols": [],
        "state": {},
    }
    incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.accept", sent
    return next(str(m["text"]) for m in sent if m["type"] == "websocket.send")


@pytest.mark.parametrize("which", ["starlette", "sessionspec"])
def test_websocket_session(which: str) -> None:
    """``websocket.session`` reads the handshake's session, with either middleware.

    The login runs under uvicorn; the websocket is an ASGI call on the same
    app object, because uvicorn serves websockets only with the
    ``websockets`` or ``wsproto`` package, which the test extra does not
    install.
    """
    store = AsyncCookieStore(HASH, BLOCK, options=Options(max_age=STARLETTE_MAX_AGE))
    middleware = theirs({}) if which == "starlette" else Middleware(SessionMiddleware, store=store)
    app = starlette_app(middleware)
    with serve_asgi(app, lifespan="on") as url, httpx.Client(base_url=url, timeout=10) as client:
        login = client.post("/login", json={"user": "dave"})
        cookie = set_cookies(login)[0].partition(";")[0]
    assert asyncio.run(websocket_text(app, "")) == "None"
    assert asyncio.run(websocket_text(app, cookie)) == "dave"


# -- the knobs Starlette has and we refuse, and misuse --------------------------------


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    pass


def test_refused_knobs_raise_at_startup() -> None:
    """Refused settings raise ConfigurationError saying what to do, when the app is built."""
    store = CookieStore(HASH, options=Options(max_age=STARLETTE_MAX_AGE))
    with pytest.raises(ConfigurationError, match="not secret_key"):
        SessionMiddleware(_echo, store=store, secret_key=SECRET)
    with pytest.raises(ConfigurationError, match="differs from the store's max_age"):
        SessionMiddleware(_echo, store=CookieStore(HASH), max_age=STARLETTE_MAX_AGE)  # 14 vs 30 d


def test_max_age_left_out_follows_the_store() -> None:
    """Without max_age= the cookie lives as long as the store accepts it; no start-up error."""
    for store_max_age, expected in ((30 * 86400, 30 * 86400), (0, 0)):
        store = CookieStore(HASH, options=Options(max_age=store_max_age))
        middleware = SessionMiddleware(_echo, store=store)
        assert middleware._options.max_age == expected
    with pytest.raises(ConfigurationError, match="None for a cookie"):
        SessionMiddleware(_echo, store=store, max_age=0)
    with pytest.raises(ConfigurationError, match="requires secure=True"):
        SessionMiddleware(_echo, store=store, same_site="none")
    with pytest.raises(ConfigurationError, match="requires secure=True"):
        SessionMiddleware(_echo, store=store, partitioned=True)


def test_request_session_without_a_store_says_to_pass_one() -> None:
    """Without ``store=``, ``request.session`` names the fix, not "must be installed"."""
    seen: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            Request(scope).session  # noqa: B018
        except ConfigurationError as exc:
            seen.append(exc)

    scope = {"type": "http", "headers": [], "method": "GET", "path": "/"}
    asyncio.run(SessionMiddleware(app)(scope, _echo, _echo))
    assert len(seen) == 1 and "store=" in str(seen[0])


def test_lifespan_scope_gets_no_session() -> None:
    """The lifespan scope passes through: no session, no registry in its shared state (S-5.8)."""
    got: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.append(dict(scope))

    store = CookieStore(HASH, options=Options(max_age=STARLETTE_MAX_AGE))
    scope: dict[str, Any] = {"type": "lifespan", "state": {}}
    asyncio.run(SessionMiddleware(app, store=store)(scope, _echo, _echo))
    assert "session" not in got[0] and got[0]["state"] == {}


def test_session_dict_marks_changes_like_starlettes() -> None:
    """Every mutating dict method marks the session modified; reads and no-ops do not."""
    session = SessionDict({"a": 1})
    session.get("a"), session.pop("missing", None), session.setdefault("a", 2)
    assert not session.modified
    for change in (
        lambda s: s.__setitem__("b", 1),
        lambda s: s.__delitem__("a"),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("new", 1),
        lambda s: s.update(c=1),
        lambda s: s.__ior__({"d": 1}),
        lambda s: s.clear(),
    ):
        fresh = SessionDict({"a": 1})
        change(fresh)
        assert fresh.modified and fresh.accessed
