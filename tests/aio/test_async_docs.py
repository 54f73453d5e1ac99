"""The example app of docs/async.md runs as written, behind the ASGI middleware (S-5.7)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

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
