"""A view gets a typed session in one line: Flask, FastAPI (a dependency), Django (issue 18).

Each app runs under a real server (werkzeug, uvicorn with lifespan on,
wsgiref) and is driven by an HTTP client; the cart is a pydantic model with
a datetime and a list. Django is configured per process, so its app runs
in a child interpreter of its own.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations
# as objects, and these endpoints are defined inside a test function.
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
from pydantic import BaseModel, Field

from reference_impl.aio.memory import AsyncMemoryStore
from reference_impl.memory import MemoryStore
from spec import Options, TypedSession
from tests.integrations._servers import require, serve_asgi, serve_werkzeug

ROOT = Path(__file__).parents[2]
KEY = b"k" * 32
STAMP = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)


class Cart(BaseModel):
    items: list[str] = Field(default_factory=list)
    updated: datetime | None = None


def _drive(base: str) -> None:
    """Add two items, then read the cart back, across three requests sharing one cookie jar."""
    with httpx.Client(base_url=base) as client:
        assert client.get("/cart").json() == {"items": [], "updated": None}
        assert client.post("/cart", params={"item": "tea"}).json()["items"] == ["tea"]
        client.post("/cart", params={"item": "mug"})
        assert client.get("/cart").json() == {
            "items": ["tea", "mug"],
            "updated": "2026-12-03T13:00:00Z",
        }
    with httpx.Client(base_url=base, cookies={"cart": "forged"}) as client:
        assert client.get("/cart").json() == {"items": [], "updated": None}  # never a 500


def test_flask_view_gets_a_typed_session_in_one_line() -> None:
    require("flask")
    import flask

    from reference_impl.integrations.flask import (
        SessionspecInterface,
        save_typed_session,
        typed_session,
    )

    carts = TypedSession(MemoryStore(KEY), "cart", Cart)
    app = flask.Flask(__name__)
    app.secret_key = "typed sessions test secret, long enough for HKDF"
    app.session_interface = SessionspecInterface()

    @app.get("/cart")
    def show() -> dict[str, object]:
        return typed_session(carts).model_dump(mode="json")

    @app.post("/cart")
    def add() -> dict[str, object]:
        cart = typed_session(carts)
        cart.items.append(flask.request.args["item"])
        cart.updated = STAMP
        save_typed_session(carts, cart)
        return cart.model_dump(mode="json")

    with serve_werkzeug(app) as base:
        _drive(base)


def test_fastapi_dependency_gives_a_typed_session() -> None:
    require("fastapi")
    from fastapi import Depends, FastAPI, Request
    from starlette.middleware import Middleware

    from reference_impl.integrations.starlette import (
        STARLETTE_MAX_AGE,
        SessionMiddleware,
        save_typed_session,
        typed_session_dependency,
    )

    for store in (MemoryStore(KEY), AsyncMemoryStore(KEY)):
        carts: TypedSession[Cart] = TypedSession(store, "cart", Cart)
        TypedCart = Annotated[Cart, Depends(typed_session_dependency(carts))]
        main = MemoryStore(KEY, options=Options(max_age=STARLETTE_MAX_AGE))  # request.session
        app = FastAPI(middleware=[Middleware(SessionMiddleware, store=main)])

        @app.get("/cart")
        async def show(cart: TypedCart) -> Cart:
            return cart

        @app.post("/cart")
        async def add(request: Request, item: str, cart: TypedCart) -> Cart:
            cart.items.append(item)
            cart.updated = STAMP
            await save_typed_session(request, carts, cart)  # noqa: B023 (served in this loop turn)
            return cart

        with serve_asgi(app, lifespan="on") as base:
            _drive(base)


DJANGO_APP = """
import os, sys
from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from pydantic import BaseModel, Field

from reference_impl.integrations.django import save_typed_session, typed_session
from reference_impl.memory import MemoryStore
from spec import Options, TypedSession
from tests.integrations._servers import serve_wsgi
from tests.spec.test_typed_integrations import Cart, STAMP, _drive

carts = TypedSession(MemoryStore(b"k" * 32), "cart", Cart)


def cart_view(request: HttpRequest) -> JsonResponse:
    cart = typed_session(request, carts)
    if request.method == "POST":
        cart.items.append(request.GET["item"])
        cart.updated = STAMP
        save_typed_session(request, carts, cart)
    return JsonResponse(cart.model_dump(mode="json"))


settings.configure(
    DEBUG=False,
    SECRET_KEY="typed sessions test",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["reference_impl.integrations.django.SessionspecMiddleware"],
)
urlpatterns = [path("cart", cart_view)]

from django.core.wsgi import get_wsgi_application

with serve_wsgi(get_wsgi_application()) as base:
    _drive(base)
print("ok")
"""


def test_django_view_gets_a_typed_session_in_one_line() -> None:
    require("django")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DJANGO_APP)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
