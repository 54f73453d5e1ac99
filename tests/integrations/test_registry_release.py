"""The ASGI middlewares take their registry out of the request state when the request ends.

A registry refers to its request and the request's state holds the
registry: left in place, every request would leave a reference cycle for
the garbage collector, with the request's sessions inside it (issue 19).
The middleware that installed the registry removes it; a registry an outer
layer installed for the same request is left to that layer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reference_impl import CookieStore
from reference_impl.integrations import asgi as asgi_mw
from reference_impl.integrations.asgi import request_of
from reference_impl.integrations.starlette import SessionMiddleware as StarletteSessions
from spec import Registry
from spec.registry import REGISTRY_STATE_KEY

HASH = b"release-test-hash-key-32-bytes!!"


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}}


async def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _app(store: CookieStore, seen: list[Registry]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = request_of(scope)
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
    scope = _scope()
    sent = asyncio.run(_call(asgi_mw.SessionMiddleware(_app(store, seen)), scope))
    headers = dict(sent[0]["headers"])
    assert headers[b"set-cookie"].startswith(b"s=")  # saved through the registry
    assert len(seen) == 1 and seen[0].owned_by(request_of(scope))
    assert REGISTRY_STATE_KEY not in scope["state"]


def test_starlette_middleware_releases_its_registry() -> None:
    """S-5.1: Starlette's request.session middleware leaves no registry in the state either."""
    store = CookieStore(HASH)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["n"] = 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = _scope()
    sent = asyncio.run(_call(StarletteSessions(app, store=store), scope))
    assert any(name == b"set-cookie" for name, _ in sent[0]["headers"])
    assert REGISTRY_STATE_KEY not in scope["state"]


def test_an_outer_layers_registry_is_left_in_place() -> None:
    """S-5.8: a registry installed for this request by an outer layer stays for that layer."""
    store = CookieStore(HASH)
    seen: list[Registry] = []
    scope = _scope()
    outer = Registry.of(request_of(scope))
    asyncio.run(_call(asgi_mw.SessionMiddleware(_app(store, seen)), scope))
    assert seen == [outer]
    assert scope["state"][REGISTRY_STATE_KEY] is outer
