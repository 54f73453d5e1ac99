"""'Remember me: off' stays a browser-session cookie across later writes (S-9.21).

The generic WSGI and ASGI middlewares under real servers (wsgiref, uvicorn
with lifespan on), on a cookie store and two server-side stores: the login
sets ``max_age=0`` and a flash; the next request reads the flash, which is
a write, and must still send a cookie without ``Max-Age``/``Expires``. The
framework integrations prove the same through their own idioms
(test_flask_native.py, test_starlette_native.py, test_django_engine_app.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_impl import CookieStore, FilesystemStore, MemoryStore
from reference_impl.integrations import asgi, wsgi
from spec import Session, Store
from tests.integrations._servers import serve_asgi, serve_wsgi, set_cookies

KEY = bytes(range(32))


def _step(path: str, session: Session) -> bytes:
    if path == "/login":
        session["user"] = "alice"
        session.options = session.options.replace(max_age=0)  # remember me: off
        session.add_flash("Welcome back!")
    messages = session.flashes() if path == "/" else []
    return f"{session.get('user')} {messages}".encode()


def _wsgi(store: Store) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = _step(environ["PATH_INFO"], store.get(wsgi.request_of(environ), "auth"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return wsgi.SessionMiddleware(app)


def _asgi(store: Store) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = _step(scope["path"], store.get(asgi.request_of(scope), "auth"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return asgi.SessionMiddleware(app)


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
@pytest.mark.parametrize("kind", ["cookie", "memory", "filesystem"])
def test_remember_me_off_survives_later_writes(server: str, kind: str, tmp_path: Path) -> None:
    """The flash read after login re-sends a browser-session cookie, not a 30-day one."""
    store: Store = {
        "cookie": lambda: CookieStore(KEY),
        "memory": lambda: MemoryStore(KEY),
        "filesystem": lambda: FilesystemStore(tmp_path, KEY),
    }[kind]()
    serving = (
        serve_wsgi(_wsgi(store)) if server == "wsgi" else serve_asgi(_asgi(store), lifespan="on")
    )
    with serving as url, httpx.Client(base_url=url, timeout=10) as browser:
        for path, body in (("/login", "alice []"), ("/", "alice ['Welcome back!']")):
            response = browser.get(path)
            assert response.text == body
            (line,) = set_cookies(response)
            assert line.startswith("auth=")
            assert "Max-Age" not in line and "Expires" not in line, f"{path}: {line}"
        assert browser.get("/").text == "alice []"  # still signed in, flash gone
