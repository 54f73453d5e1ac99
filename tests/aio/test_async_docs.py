"""The example app of docs/async.md runs as written, behind the ASGI middleware (S-5.7).

It also runs under a real uvicorn with the lifespan protocol on, driven by
several clients with their own cookie jars: one visitor's session never
reaches another (S-5.8, issue 12 item 1).
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.integrations._servers import serve_asgi

DOC = Path(__file__).parents[2] / "docs" / "async.md"


def _example() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "the example app" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


async def _get(application: Any, cookie: str | None) -> tuple[str, list[str]]:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await application(scope, receive, send)
    start, body = sent
    cookies = [v.decode() for k, v in start["headers"] if k.lower() == b"set-cookie"]
    return body["body"].decode(), cookies


def test_the_example_app_counts_visits_in_its_session() -> None:
    """S-5.7: the documented app loads with aget and the middleware saves with asave_all."""
    application = _example()["application"]

    async def main() -> None:
        body, cookies = await _get(application, None)
        assert body == "visit 1" and len(cookies) == 1 and cookies[0].startswith("auth=")
        pair = cookies[0].split(";", 1)[0]
        body, _ = await _get(application, pair)
        assert body == "visit 2"
        body, _ = await _get(application, pair)
        assert body == "visit 3"

    asyncio.run(main())


def test_s5_8_the_example_app_under_uvicorn_keeps_visitors_apart() -> None:
    """S-5.8: under uvicorn (lifespan on) every client counts its own visits, and only those."""
    application = _example()["application"]

    def visits(_: int) -> list[str]:
        with httpx.Client(base_url=url, timeout=10) as client:
            return [client.get("/").text for _ in range(4)]

    with serve_asgi(application, lifespan="on") as url:
        with httpx.Client(base_url=url, timeout=10) as alice:
            assert [alice.get("/").text for _ in range(3)] == ["visit 1", "visit 2", "visit 3"]
            with httpx.Client(base_url=url, timeout=10) as stranger:
                assert stranger.get("/").text == "visit 1"
            assert alice.get("/").text == "visit 4"
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(visits, range(6))) == [[f"visit {n}" for n in range(1, 5)]] * 6
