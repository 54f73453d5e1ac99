"""The example of every page in docs/integrations/ runs, under a real server.

Each page's ``python`` blocks are executed in order, as a reader would paste
them, and the app they build is served on 127.0.0.1 and driven by a real
HTTP client: log in, see the flash once (S-9.8), read without a
``Set-Cookie`` (S-5.6), and a second client with its own cookie jar never
sees the first one's session (S-5.8). ASGI apps run under uvicorn with the
lifespan protocol on. The Django page configures Django's global settings,
so it runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integrations._servers import require, serve_asgi, serve_werkzeug, serve_wsgi, set_cookies

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "integrations"
ENV = {
    "SESSION_HASH_KEY": "11" * 32,
    "SESSION_BLOCK_KEY": "22" * 32,
    "FLASK_SECRET_KEY": "docs example secret, long and random in real life",
    "DJANGO_SECRET_KEY": "docs example django secret",
}


def _example(page: str) -> str:
    text = (DOCS / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, page
    return "\n".join(blocks)


def _run(page: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    exec(compile(_example(page), str(DOCS / page), "exec"), namespace)
    return namespace


def _check_greeter(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        login = client.get("/login")
        assert [c.partition("=")[0] for c in set_cookies(login)] == ["auth"]
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").text == "hello stranger []"
        first = client.get("/")
        assert first.text == "hello alice ['Welcome back!']"
        again = client.get("/")
        assert again.text == "hello alice []"
        assert set_cookies(again) == []
        client.get("/logout")
        assert client.get("/").text == "hello stranger []"


def test_wsgi_asgi_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/integrations/wsgi-asgi.md: the WSGI and the ASGI app, under wsgiref and uvicorn."""
    require("uvicorn")
    namespace = _run("wsgi-asgi.md", monkeypatch)
    with serve_wsgi(namespace["app"]) as url:
        _check_greeter(url)
    with serve_asgi(namespace["asgi_app"], lifespan="on") as url:
        _check_greeter(url)


def test_flask_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/integrations/flask.md: the Flask app under werkzeug's server."""
    require("flask")
    app = _run("flask.md", monkeypatch)["app"]
    with serve_werkzeug(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        login = client.post("/login")
        assert login.status_code == 302 and set_cookies(login)
        assert client.get("/").json() == {"user": "alice", "messages": ["Welcome back!"]}
        read = client.get("/")
        assert read.json() == {"user": "alice", "messages": []}
        assert set_cookies(read) == []
        client.post("/logout")
        assert client.get("/").json() == {"user": None, "messages": []}


def test_starlette_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/integrations/starlette.md: the Starlette and the FastAPI app under uvicorn."""
    require("fastapi")
    namespace = _run("starlette.md", monkeypatch)
    with serve_asgi(namespace["app"], lifespan="on") as url:
        _check_starlette_app(url)
    with serve_asgi(namespace["api"], lifespan="on") as url:
        _check_fastapi_app(url)


def _check_starlette_app(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/login")
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").json() == {"user": None, "messages": []}
        assert client.get("/").json() == {"user": "alice", "messages": ["Welcome back!"]}
        read = client.get("/")
        assert read.json() == {"user": "alice", "messages": []}
        assert set_cookies(read) == []


def _check_fastapi_app(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        assert set_cookies(client.post("/login"))
        with httpx.Client(base_url=url, timeout=10) as stranger:
            assert stranger.get("/").json() == {"user": None}
        read = client.get("/")
        assert read.json() == {"user": "alice"}
        assert set_cookies(read) == []


DJANGO_HARNESS = textwrap.dedent(
    """
    import http.cookiejar, json, sys, threading, types, urllib.request
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    module = types.ModuleType("django_docs_example")
    sys.modules[module.__name__] = module
    exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), module.__dict__)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, module.application, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    after_login = json.load(opener.open(base + "/login"))   # follows the redirect
    again = opener.open(base + "/")
    print(json.dumps({
        "after_login": after_login,
        "again": json.load(again),
        "again_set_cookie": again.headers.get_all("Set-Cookie") or [],
    }))
    server.shutdown()
    server.server_close()
    """
)


def test_django_page(tmp_path: Path) -> None:
    """docs/integrations/django.md: the single-file Django app, in a fresh interpreter."""
    require("django")
    example = tmp_path / "django_example.py"
    example.write_text(_example("django.md"))
    result = subprocess.run(
        [sys.executable, "-c", DJANGO_HARNESS, str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **ENV, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["after_login"] == {"user": "alice", "messages": ["Welcome back!"]}
    assert outcome["again"] == {"user": "alice", "messages": []}
    assert outcome["again_set_cookie"] == []
