"""save_every_request is a touch: a read-only request never undoes a concurrent save (S-9.25).

Under a real uvicorn (lifespan on): request A reads the cart and then waits;
request B, from another tab of the same browser, changes the cart and
returns; then A ends. Before, A's end re-saved the cart it had read, so B's
change was lost. Now A's end touches the record only if nobody changed it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from reference_impl import MemoryStore
from tests.integrations._servers import require, serve_asgi

starlette_applications = require("starlette.applications")
starlette_middleware = require("starlette.middleware")
starlette_responses = require("starlette.responses")
starlette_routing = require("starlette.routing")

from reference_impl.integrations.starlette import SessionMiddleware  # noqa: E402

KEY = bytes(range(32))


def _app(store: MemoryStore) -> Any:
    release = asyncio.Event()
    reading = asyncio.Event()

    async def set_cart(request: Any) -> Any:
        request.session["cart"] = request.query_params["to"]
        return starlette_responses.PlainTextResponse("set")

    async def slow_read(request: Any) -> Any:
        cart = request.session.get("cart")
        reading.set()
        await release.wait()
        return starlette_responses.PlainTextResponse(str(cart))

    async def wait_reading(request: Any) -> Any:
        await reading.wait()
        return starlette_responses.PlainTextResponse("reading")

    async def let_go(request: Any) -> Any:
        release.set()
        return starlette_responses.PlainTextResponse("released")

    async def show(request: Any) -> Any:
        return starlette_responses.PlainTextResponse(str(request.session.get("cart")))

    routes = [
        starlette_routing.Route(path, view)
        for path, view in (
            ("/set", set_cart),
            ("/slow-read", slow_read),
            ("/wait-reading", wait_reading),
            ("/release", let_go),
            ("/show", show),
        )
    ]
    middleware = [
        starlette_middleware.Middleware(
            SessionMiddleware, store=store, max_age=store.options.max_age, save_every_request=True
        )
    ]
    return starlette_applications.Starlette(routes=routes, middleware=middleware)


@pytest.mark.parametrize("idle_timeout", [0, 600])
def test_a_refreshing_read_never_undoes_a_concurrent_write(idle_timeout: int) -> None:
    """The slow read ends after the write, refreshes the cookie, and the write stays (S-9.25)."""
    store = MemoryStore(KEY, idle_timeout=idle_timeout)
    with (
        serve_asgi(_app(store), lifespan="on") as url,
        httpx.Client(base_url=url, timeout=10) as browser,
    ):
        assert browser.get("/set", params={"to": "empty"}).text == "set"
        cookies = dict(browser.cookies)
        outcome: dict[str, httpx.Response] = {}

        def tab_a() -> None:
            with httpx.Client(base_url=url, timeout=10, cookies=cookies) as tab:
                outcome["read"] = tab.get("/slow-read")

        reader = threading.Thread(target=tab_a)
        reader.start()
        assert browser.get("/wait-reading").text == "reading"
        assert browser.get("/set", params={"to": "full"}).text == "set"
        assert browser.get("/release").text == "released"
        reader.join(10)
        assert outcome["read"].text == "empty"  # it read before the write
        assert outcome["read"].headers.get_list("set-cookie") == []  # nothing to refresh
        assert browser.get("/show").text == "full"
        refreshed = browser.get("/show")
        assert refreshed.text == "full"
        assert refreshed.headers.get_list("set-cookie"), "save_every_request re-sends"
