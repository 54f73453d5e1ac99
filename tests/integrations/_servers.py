"""Real servers for the integration tests: wsgiref, werkzeug and uvicorn on 127.0.0.1.

Each helper binds a free port on 127.0.0.1 only, serves from a background
thread, yields the base URL and stops the server (and joins the thread) when
the ``with`` block ends.
"""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

import httpx
import pytest

__all__ = ["require", "serve_asgi", "serve_werkzeug", "serve_wsgi", "set_cookies"]

HOST = "127.0.0.1"


def require(module: str) -> ModuleType:
    """Import a framework, skipping the test module without it, failing under CI=true.

    CI installs every framework (the ``test`` extra), so there a missing one
    is a broken install, not a reason to skip.
    """
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        pass


@contextmanager
def serve_wsgi(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` with the standard library's ``wsgiref.simple_server``."""
    server = make_server(HOST, 0, app, server_class=WSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serve_werkzeug(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` with werkzeug's development server (what ``flask run`` uses)."""
    from werkzeug.serving import make_server as werkzeug_server

    server = werkzeug_server(HOST, 0, app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serve_asgi(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """Serve ``app`` with uvicorn (``uvicorn.Server`` in a thread, on a pre-bound socket)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="critical", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def set_cookies(response: httpx.Response) -> list[str]:
    """Every ``Set-Cookie`` header of ``response``, in order."""
    return response.headers.get_list("set-cookie")
