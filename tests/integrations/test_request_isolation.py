"""No two requests ever share a session registry, whatever the app does (S-5.1, S-5.8).

The attack this guards against (issue 12, item 1): an ASGI app loads a
session while handling the ``lifespan`` scope. The registry lands in the
lifespan ``state``, uvicorn copies that state (shallowly) into every HTTP
request's ``scope["state"]``, and before the fix every request reused it: a
visitor with no cookie was served the session of whoever logged in first.
Each test runs a real uvicorn with the lifespan protocol on and drives it
with several HTTP clients, each with its own cookie jar.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_impl import CookieStore, MemoryStore
from reference_impl.aio import AsyncMemoryStore
from reference_impl.integrations import asgi as asgi_mw
from reference_impl.integrations import wsgi as wsgi_mw
from reference_impl.integrations.starlette import SessionMiddleware as StarletteSessions
from spec import Registry
from spec.errors import ConfigurationError
from spec.http import SimpleRequest
from spec.registry import REGISTRY_STATE_KEY
from tests.integrations._servers import require, serve_asgi, serve_wsgi

HASH = b"isolation-test-hash-key-32-bytes"
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")


class _StateRequest:
    """A ``spec.Request`` over a bare state mapping, as an app might hand-roll one."""

    def __init__(self, state: MutableMapping[str, object]) -> None:
        self._state = state

    def cookie_values(self, name: str) -> Sequence[str]:
        return []

    @property
    def state(self) -> MutableMapping[str, object]:
        return self._state


def _greeter(store: Any, *, plant: str) -> Any:
    """An ASGI app that loads a session during lifespan startup (``plant`` says how).

    ``/login?user=X`` stores X; every path answers with the stored user.
    """

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if plant == "registry":  # a hand-made Request over the lifespan state
                        Registry.of(_StateRequest(scope["state"])).get(store, "auth")
                    elif plant == "junk-owner":  # a registry made for some other request
                        scope["state"][REGISTRY_STATE_KEY] = Registry(SimpleRequest())
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        request = asgi_mw.request_of(scope)
        session = store.get(request, "auth")
        if scope["path"] == "/login":
            session.values["user"] = scope["query_string"].decode().removeprefix("user=")
        body = str(session.values.get("user"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    return asgi_mw.SessionMiddleware(app)


def _check_isolated(url: str) -> None:
    """Alice logs in; a fresh client, and several concurrent users, each see only their own."""
    with httpx.Client(base_url=url, timeout=10) as alice:
        assert alice.get("/login", params={"user": "alice"}).text == "alice"
        assert alice.get("/").text == "alice"
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").text == "None"
        assert alice.get("/").text == "alice"

    def visit(user: str) -> list[str]:
        with httpx.Client(base_url=url, timeout=10) as client:
            seen = [client.get("/").text, client.get("/login", params={"user": user}).text]
            seen += [client.get("/").text for _ in range(5)]
            return seen

    with ThreadPoolExecutor(len(USERS)) as pool:
        for user, seen in zip(USERS, pool.map(visit, USERS), strict=True):
            assert seen == ["None", user, *[user] * 5]


@pytest.mark.parametrize("plant", ["registry", "junk-owner"])
def test_s5_8_registry_in_lifespan_state_is_never_reused(plant: str) -> None:
    """S-5.8: a registry planted in the lifespan state never reaches an HTTP request."""
    with serve_asgi(_greeter(MemoryStore(HASH), plant=plant), lifespan="on") as url:
        _check_isolated(url)


def test_s5_8_cookie_store_sessions_are_isolated_too() -> None:
    """S-5.8: the same with the session in the cookie (the cached session is what leaked)."""
    with serve_asgi(_greeter(CookieStore(HASH), plant="registry"), lifespan="on") as url:
        _check_isolated(url)


# The example of docs/async.md as it was printed when the bug was reported: no
# scope-type guard, so it ran on the lifespan scope too.
UNGUARDED_EXAMPLE = """
from reference_impl.aio import AsyncMemoryStore
from reference_impl.integrations.asgi import SessionMiddleware, request_of

store = AsyncMemoryStore(b"a 32-byte hash key, from config!")


async def app(scope, receive, send):
    session = await store.get(request_of(scope), "auth")
    visits = session.values.get("visits", 0) + 1
    session.values["visits"] = visits
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": f"visit {visits}".encode()})


application = SessionMiddleware(app)
"""


def test_s5_8_unguarded_app_under_lifespan_auto_does_not_share() -> None:
    """S-5.8: the reported app under uvicorn's default (lifespan auto): visits never mix."""
    namespace: dict[str, Any] = {}
    exec(UNGUARDED_EXAMPLE, namespace)
    with serve_asgi(namespace["application"], lifespan="auto") as url:
        with httpx.Client(base_url=url, timeout=10) as first:
            assert [first.get("/").text for _ in range(3)] == ["visit 1", "visit 2", "visit 3"]
        for _ in range(3):
            with httpx.Client(base_url=url, timeout=10) as fresh:
                assert fresh.get("/").text == "visit 1"


@pytest.mark.parametrize("kind", ["lifespan", "unknown.protocol"])
def test_s5_8_request_of_refuses_non_http_scopes(kind: str) -> None:
    """S-5.8: ``request_of`` on a lifespan (or unknown) scope raises a ConfigurationError."""
    scope: dict[str, Any] = {"type": kind, "state": {}}
    with pytest.raises(ConfigurationError, match=r"scope\[\"type\"\] != \"http\""):
        asgi_mw.request_of(scope)
    with pytest.raises(ConfigurationError, match="lifespan"):
        asgi_mw.ScopeRequest(scope)
    assert scope["state"] == {}  # nothing was planted


def test_s5_8_request_of_accepts_websocket_scopes() -> None:
    """S-5.8: a websocket handshake carries cookies, so its session can be read."""
    store = CookieStore(HASH)
    scope: dict[str, Any] = {"type": "websocket", "headers": [], "state": {}}
    session = store.get(asgi_mw.request_of(scope), "auth")
    assert session.is_new
    assert Registry.of(asgi_mw.request_of(scope)).sessions() == [session]


async def _http(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_s5_8_asgi_middleware_installs_a_registry_owned_by_the_scope() -> None:
    """S-5.8: at request start the middleware replaces a registry the scope does not own."""
    import asyncio

    store = AsyncMemoryStore(HASH)
    foreign = Registry(SimpleRequest())
    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["state"][REGISTRY_STATE_KEY])
        session = await store.get(asgi_mw.request_of(scope), "auth")
        session.values["user"] = "alice"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    shared_state = {REGISTRY_STATE_KEY: foreign}
    for _ in range(2):
        scope = {"type": "http", "path": "/", "headers": [], "state": dict(shared_state)}
        sent = asyncio.run(_http(asgi_mw.SessionMiddleware(app), scope))
        assert any(k == b"set-cookie" for k, _ in sent[0]["headers"])
    assert len(seen) == 2 and seen[0] is not foreign and seen[1] is not foreign
    assert seen[0] is not seen[1]
    assert foreign.sessions() == []


def test_s5_8_wsgi_middleware_replaces_a_foreign_registry() -> None:
    """S-5.8: a registry carried over in a (shared) WSGI state dict is never reused."""
    store = CookieStore(HASH)
    shared: dict[str, object] = {}

    def app(environ: Any, start_response: Any) -> list[bytes]:
        # A (broken) server or outer layer that hands every request one state dict.
        request = wsgi_mw.request_of(environ)
        session = store.get(request, "auth")
        if environ["PATH_INFO"] == "/login":
            session.values["user"] = "alice"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(session.values.get("user")).encode()]

    def sharing_server(environ: Any, start_response: Any) -> Any:
        environ[wsgi_mw.ENVIRON_STATE_KEY] = shared
        return wsgi_mw.SessionMiddleware(app)(environ, start_response)

    with serve_wsgi(sharing_server) as url:
        with httpx.Client(base_url=url, timeout=10) as alice:
            assert alice.get("/login").text == "alice"
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").text == "None"


def test_s5_8_flask_replaces_a_foreign_registry() -> None:
    """S-5.8: Flask's session interface installs the request's own registry too."""
    flask = require("flask")
    from reference_impl.integrations.flask import SessionspecInterface

    app = flask.Flask(__name__)
    app.session_interface = SessionspecInterface(CookieStore(HASH), name="auth")

    @app.get("/")
    def index() -> str:
        return str(flask.session.get("user"))

    @app.get("/login")
    def login() -> str:
        flask.session["user"] = "alice"
        return "alice"

    shared: dict[str, object] = {}

    def sharing_server(environ: Any, start_response: Any) -> Any:
        environ[wsgi_mw.ENVIRON_STATE_KEY] = shared  # every request, one state dict
        return app.wsgi_app(environ, start_response)

    with serve_wsgi(sharing_server) as url:
        with httpx.Client(base_url=url, timeout=10) as alice:
            assert alice.get("/login").text == "alice"
            assert alice.get("/").text == "alice"
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").text == "None"


def test_s5_8_the_demo_under_uvicorn_keeps_visitors_apart(tmp_path: Path) -> None:
    """S-5.8: examples/demo under uvicorn, lifespan on: a login stays with its client."""
    require("starlette")
    from examples.demo.app import build_app
    from examples.demo.config import DemoConfig

    keys = (bytes(range(32)), bytes(range(32, 64)))
    app = build_app(DemoConfig(key_pairs=keys, session_dir=tmp_path, secure_cookies=False))
    with serve_asgi(app, lifespan="on") as url:
        with httpx.Client(base_url=url, timeout=10, follow_redirects=True) as alice:
            token = re.findall(r'name="csrf_token" value="([^"]+)"', alice.get("/").text)[0]
            page = alice.post("/login", data={"csrf_token": token, "username": "alice"})
            assert "Signed in as <b>alice</b>" in page.text
        with httpx.Client(base_url=url, timeout=10) as stranger:
            page = stranger.get("/")
            assert "Not signed in." in page.text and "alice" not in page.text


# -- the middleware that installed a request's registry removes it when the app
# returns: the registry refers to its request and the request's state holds the
# registry, a reference cycle per request for the garbage collector (issue 19).


def _release_scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}}


def _app(store: CookieStore, seen: list[Registry]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = asgi_mw.request_of(scope)
        seen.append(Registry.of(request))
        session = store.get(request, "s")
        session["n"] = 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def test_asgi_middleware_releases_its_registry_after_saving() -> None:
    """S-5.1: the sessions were saved through the request's registry, which is then gone."""
    store = CookieStore(HASH)
    seen: list[Registry] = []
    scope = _release_scope()
    sent = asyncio.run(_http(asgi_mw.SessionMiddleware(_app(store, seen)), scope))
    headers = dict(sent[0]["headers"])
    assert headers[b"set-cookie"].startswith(b"s=")  # saved through the registry
    assert len(seen) == 1 and seen[0].owned_by(asgi_mw.request_of(scope))
    assert REGISTRY_STATE_KEY not in scope["state"]


def test_starlette_middleware_releases_its_registry() -> None:
    """S-5.1: Starlette's request.session middleware leaves no registry in the state either."""
    store = CookieStore(HASH)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["n"] = 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = _release_scope()
    sent = asyncio.run(_http(StarletteSessions(app, store=store), scope))
    assert any(name == b"set-cookie" for name, _ in sent[0]["headers"])
    assert REGISTRY_STATE_KEY not in scope["state"]


def test_an_outer_layers_registry_is_left_in_place() -> None:
    """S-5.8: a registry installed for this request by an outer layer stays for that layer."""
    store = CookieStore(HASH)
    seen: list[Registry] = []
    scope = _release_scope()
    outer = Registry.of(asgi_mw.request_of(scope))
    asyncio.run(_http(asgi_mw.SessionMiddleware(_app(store, seen)), scope))
    assert seen == [outer]
    assert scope["state"][REGISTRY_STATE_KEY] is outer
