"""A cookie set through Starlette's ``request.session`` loads in Go's gorilla, and back.

The Starlette app uses only Starlette idioms and runs under uvicorn
(lifespan on) with ``SessionMiddleware(store=CookieStore(..., serializer=GobSerializer()))``.
The Go side is the oracle of tests/interop (the unmodified gorilla/sessions
``CookieStore``, gob, built from the Debian sources): it loads the cookie
the app wrote and sees the same keys and typed values; it saves a session
the app then reads and changes, and loads the change. A JSON-serialized
cookie is read by gorilla/securecookie's ``JSONEncoder`` too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integrations._servers import require, serve_asgi, set_cookies

require("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from reference_impl import CookieStore  # noqa: E402
from reference_impl.integrations.starlette import STARLETTE_MAX_AGE, SessionMiddleware  # noqa: E402
from reference_impl.serializers import GobSerializer, JSONSerializer  # noqa: E402
from spec import Options  # noqa: E402
from tests.interop.goracle import (  # noqa: E402
    GoOracle,
    canonical,
    missing_prerequisites,
    to_typed,
)

HASH_KEY = bytes(range(32))
BLOCK_KEY = bytes(range(100, 132))
KEY_PAIRS = [{"hash_key_hex": HASH_KEY.hex(), "block_key_hex": BLOCK_KEY.hex()}]
OPTIONS = Options(max_age=STARLETTE_MAX_AGE)


async def login(request: Request) -> JSONResponse:
    request.session["user"] = "alice"
    request.session["roles"] = ["admin", "ops"]
    request.session["visits"] = 3
    return JSONResponse({"ok": True})


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def visit(request: Request) -> JSONResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JSONResponse({"visits": request.session["visits"]})


ROUTES = [
    Route("/login", login, methods=["POST"]),
    Route("/whoami", whoami),
    Route("/visit", visit, methods=["POST"]),
]


def app_with(serializer: Any) -> Starlette:
    store = CookieStore(HASH_KEY, BLOCK_KEY, options=OPTIONS, serializer=serializer)
    return Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, store=store)])


@pytest.fixture(scope="module")
def go_oracle() -> Iterator[GoOracle]:
    """The Go oracle, as tests/interop/conftest.py gives it (a failure, not a skip, on CI)."""
    reason = missing_prerequisites()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Go oracle cannot be built: {reason}")
        pytest.skip(reason)
    with GoOracle.start() as oracle:
        yield oracle


@pytest.fixture(scope="module")
def gob_url() -> Iterator[str]:
    with serve_asgi(app_with(GobSerializer()), lifespan="on") as url:
        yield url


def session_cookie(response: httpx.Response) -> str:
    (line,) = set_cookies(response)
    name, _, rest = line.partition("=")
    assert name == "session"
    return rest.partition(";")[0]


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"] is True, reply
    return reply


def test_go_loads_what_request_session_saved(gob_url: str, go_oracle: GoOracle) -> None:
    """gorilla/sessions (gob) reads the app's cookie: same keys, same Go types, no extra key."""
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        cookie = session_cookie(client.post("/login"))
    reply = ok(
        go_oracle.call(
            {
                "op": "session-load",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "cookie_header": f"session={cookie}",
            }
        )
    )
    assert reply["load_error"] is None and reply["is_new"] is False
    expected = {"user": "alice", "roles": ["admin", "ops"], "visits": 3}
    assert canonical(reply["values"]) == canonical(to_typed(expected, top=True))


def test_go_saves_the_app_reads_changes_and_go_reads_back(
    gob_url: str, go_oracle: GoOracle
) -> None:
    """A Go session is ``request.session`` in the app; the app's change is Go's next load."""
    saved = ok(
        go_oracle.call(
            {
                "op": "session-save",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "values": to_typed({"user": "gopher", "visits": 41}, top=True),
            }
        )
    )
    headers = {"cookie": f"session={saved['cookie']}"}
    with httpx.Client(base_url=gob_url, timeout=10) as client:
        assert client.get("/whoami", headers=headers).json() == {"user": "gopher", "visits": 41}
        changed = client.post("/visit", headers=headers)
    assert changed.json() == {"visits": 42}
    reply = ok(
        go_oracle.call(
            {
                "op": "session-load",
                "key_pairs": KEY_PAIRS,
                "name": "session",
                "cookie_header": f"session={session_cookie(changed)}",
            }
        )
    )
    assert reply["load_error"] is None
    expected = {"user": "gopher", "visits": 42}
    assert canonical(reply["values"]) == canonical(to_typed(expected, top=True))


def test_json_cookie_reads_in_securecookie_json(go_oracle: GoOracle) -> None:
    """With JSONSerializer, Go's ``securecookie.JSONEncoder`` decodes the same map."""
    with (
        serve_asgi(app_with(JSONSerializer()), lifespan="on") as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        cookie = session_cookie(client.post("/login"))
    reply = ok(
        go_oracle.call(
            {
                "op": "decode",
                "hash_key_hex": HASH_KEY.hex(),
                "block_key_hex": BLOCK_KEY.hex(),
                "name": "session",
                "serializer": "json",
                "cookie": cookie,
            }
        )
    )
    assert reply["value"] == {"user": "alice", "roles": ["admin", "ops"], "visits": 3}
