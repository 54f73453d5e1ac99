"""Every performance figure of docs/performance.md in one command, each with its target.

Run from the repository root::

    python bench/run.py              # about 3 minutes
    python bench/run.py --quick      # fewer rounds, shorter load runs
    python bench/run.py --backends   # also Redis and SQLite (starts a redis-server)

Each row times our side and its reference side in the same process (the
uvicorn rows: the same server command and load generator), in interleaved
rounds, and prints the median of the per-round ratios beside the target.
A ratio is ours / reference for time per request (lower is better) and
ours / reference for requests per second (higher is better); the target
column says which. PASS/MISS is informational: the exit status is 0 unless
a row could not run correctly (no test asserts a timing; see CONTRIBUTING).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import _apps  # noqa: E402
from _apps import HASH_KEY, SESSION  # noqa: E402


@dataclass
class Row:
    figure: str
    ours: str
    reference: str
    ratio: float | None
    target: str
    limit: float
    higher_is_better: bool = False
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "not measured"
        good = self.ratio >= self.limit if self.higher_is_better else self.ratio <= self.limit
        return "PASS" if good else "MISS"


ROWS: list[Row] = []


def per_call(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def paired(ours: Callable[[], object], ref: Callable[[], object], rounds: int) -> tuple[float, ...]:
    """(ours µs, reference µs, median ratio): best times, ratio per interleaved round."""
    n_ours = max(1, timeit.Timer(ours).autorange()[0] // 2)
    n_ref = max(1, timeit.Timer(ref).autorange()[0] // 2)
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        a.append(per_call(ours, n_ours))
        b.append(per_call(ref, n_ref))
    ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
    return min(a) * 1e6, min(b) * 1e6, ratio


def add(figure: str, ours: float, ref: float, ratio: float, target: str, limit: float) -> None:
    ROWS.append(Row(figure, f"{ours:,.1f} µs", f"{ref:,.1f} µs", ratio, target, limit))


# -- 1. the request path ------------------------------------------------------------


def bench_request_path(rounds: int) -> None:
    from reference_impl import CookieStore
    from reference_impl.securecookie import SecureCookie
    from spec import Cookie, Session, save_all
    from spec.cookie import cookie_values
    from spec.http import RecordingResponse, SimpleRequest

    codec = SecureCookie(HASH_KEY)
    store = CookieStore(HASH_KEY)
    options = store.options
    seed_request, seed_response = SimpleRequest(), RecordingResponse()
    seed = store.new(seed_request, "session")
    seed.values.update(SESSION)
    store.save(seed_request, seed_response, seed)
    header = f"session={seed_response.cookies[0].value}"

    def request() -> list[str]:
        req, resp = SimpleRequest(header), RecordingResponse()
        session = store.get(req, "session")
        session["user_id"] = 43
        save_all(req, resp, only_modified=True)
        return [cookie.render() for cookie in resp.cookies]

    def floor() -> list[str]:
        # The same objects with nothing between them: read the cookie, decode,
        # a trusted Session, change one key, encode, a Cookie, render. What the
        # registry, the plans and the stored metadata add is the gap to this.
        req, resp = SimpleRequest(header), RecordingResponse()
        values = codec.decode("session", cookie_values(req.cookie_header, "session")[0])
        session = Session.trusted("session", "", values, options, False, None, store)  # type: ignore[arg-type]
        session["user_id"] = 43
        encoded = codec.encode("session", dict(session.values))
        resp.set_cookie(Cookie.for_session("session", encoded, options, time.time()))
        return [cookie.render() for cookie in resp.cookies]

    assert len(request()) == 1 and len(floor()) == 1
    round_trip = lambda: codec.decode("session", codec.encode("session", SESSION))  # noqa: E731
    ours, ref, ratio = paired(request, round_trip, rounds)
    _, _, floor_ratio = paired(floor, round_trip, rounds)
    add("CookieStore request via registry / codec round trip", ours, ref, ratio, "<= 2.0x", 2.0)
    ROWS[-1].note = f"the same objects with no registry or plan in between: {floor_ratio:.2f}x"


# -- 4. the codec, and 5. gob -------------------------------------------------------------


def bench_codec(rounds: int) -> None:
    import codec as peers  # bench/codec.py

    for name, ours_factory, ref_factory, limit in (
        ("codec signed / Starlette (6 keys)", lambda: peers.ours(None), peers.starlette, 0.5),
        (
            "codec encrypted / aiohttp-session Fernet",
            lambda: peers.ours(peers.BLOCK_KEY),
            peers.aiohttp_fernet,
            0.5,
        ),
    ):
        try:
            (enc, dec), (renc, rdec) = ours_factory(), ref_factory()
        except ImportError as exc:
            ROWS.append(Row(name, "-", "-", None, f"<= {limit}x", limit, note=str(exc)))
            continue
        ours, ref, ratio = paired(
            lambda e=enc, d=dec: d(e(SESSION)), lambda e=renc, d=rdec: d(e(SESSION)), rounds
        )
        add(name, ours, ref, ratio, f"<= {limit}x", limit)
    try:
        enc, dec = peers.ours(None)
        renc, rdec = peers.starlette()
    except ImportError:
        return
    for pad in (500, 1000, 1500, 2000):
        value = dict(SESSION, pad="p" * pad)
        cookie = enc(value)
        if len("session=") + len(cookie) > 4096:
            break
        ours, ref, ratio = paired(
            lambda v=value: dec(enc(v)), lambda v=value: rdec(renc(v)), rounds
        )
        add(
            f"codec signed / Starlette, {len(cookie)}-char cookie", ours, ref, ratio, "<= 1.0x", 1.0
        )


def bench_gob(rounds: int) -> None:
    from reference_impl.serializers import GobSerializer, JSONSerializer

    flat = {
        "user_id": 42,
        "username": "alice",
        "csrf": "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
        "admin": True,
        "lang": "en",
        "visits": 17,
    }
    gob, plain = GobSerializer(), JSONSerializer()
    assert gob.deserialize(gob.serialize(flat)) == flat
    ours, ref, ratio = paired(
        lambda: gob.deserialize(gob.serialize(flat)),
        lambda: plain.deserialize(plain.serialize(flat)),
        rounds,
    )
    add("gob / JSON serializer, flat 6-key session", ours, ref, ratio, "<= 8.0x", 8.0)

    # Go's own gob/JSON ratio on the same session (bench/go/gobjson), for
    # scale: a note only, never a failure of the row.
    import json
    import shutil

    go = shutil.which("go")
    if go is None:
        ROWS[-1].note = "Go gob/JSON: not measured (no `go` on PATH)"
        return
    env = dict(os.environ, GOFLAGS="", GOPROXY="off", GO111MODULE="on", GOTOOLCHAIN="local")
    env.setdefault("GOCACHE", str(Path(tempfile.gettempdir()) / "sessionspec-bench-gocache"))
    try:
        done = subprocess.run(
            [go, "run", ".", "-rounds", str(max(rounds, 5))],
            cwd=BENCH / "go" / "gobjson",
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        note = (
            f"Go gob/JSON: {figures['ratio']:.1f}x "
            f"({figures['gob_ns'] / 1000:,.1f} µs / {figures['json_ns'] / 1000:,.1f} µs, "
            f"{figures['go']})"
        )
    except (OSError, subprocess.SubprocessError, ValueError, LookupError, TypeError) as exc:
        lines = str(getattr(exc, "stderr", None) or exc).strip().splitlines()
        note = f"Go gob/JSON: not measured ({(lines or [type(exc).__name__])[-1][:120]})"
    ROWS[-1].note = note


# -- 2. frameworks: direct calls ----------------------------------------------------


def _asgi_scope(headers: list[tuple[bytes, bytes]], path: str = "/") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def _asgi_call(app: Any, headers: list[tuple[bytes, bytes]], path: str = "/") -> list[str]:
    cookies: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
            for key, value in message.get("headers", ()):
                if key.lower() == b"set-cookie":
                    cookies.append(value.decode().split(";", 1)[0])

    await app(_asgi_scope(headers, path), receive, send)
    return cookies


def starlette_cookie(app: Any) -> str:
    return asyncio.run(_asgi_call(app, [(b"host", b"bench")], "/seed"))[0]


def bench_asgi_direct(rounds: int) -> None:
    ours_app, native_app = _apps.ours_starlette, _apps.native_starlette
    headers = {
        app: [(b"host", b"bench"), (b"cookie", starlette_cookie(app).encode())]
        for app in (ours_app, native_app)
    }

    async def timed(app: Any, number: int) -> float:
        hdrs = headers[app]
        start = time.perf_counter()
        for _ in range(number):
            await _asgi_call(app, hdrs)
        return (time.perf_counter() - start) / number

    async def main() -> tuple[float, float, float]:
        assert len(await _asgi_call(ours_app, headers[ours_app])) == 1
        assert len(await _asgi_call(native_app, headers[native_app])) == 1
        a: list[float] = []
        b: list[float] = []
        for _ in range(rounds):
            a.append(await timed(ours_app, 2000))
            b.append(await timed(native_app, 2000))
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        return min(a) * 1e6, min(b) * 1e6, ratio

    ours, ref, ratio = asyncio.run(main())
    add("Starlette request.session, ASGI call: ours / native", ours, ref, ratio, "<= 1.2x", 1.2)


def _wsgi_call(app: Any, cookie: str, path: str = "/") -> list[str]:
    cookies: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert status.startswith("200"), status
        for key, value in headers:
            if key.lower() == "set-cookie":
                cookies.append(value.split(";", 1)[0])
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    body = app(environ, start_response)
    try:
        b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return cookies


def bench_wsgi(name: str, native: Any, ours: Any, rounds: int) -> None:
    cookies = {app: _wsgi_call(app, "", "/seed")[0] for app in (native, ours)}
    for app in (native, ours):
        assert len(_wsgi_call(app, cookies[app])) == 1
    ours_us, ref_us, ratio = paired(
        lambda: _wsgi_call(ours, cookies[ours]), lambda: _wsgi_call(native, cookies[native]), rounds
    )
    ROWS.append(
        Row(
            f"{name} session, WSGI call: requests/s ours / native",
            f"{ours_us:,.1f} µs",
            f"{ref_us:,.1f} µs",
            1 / ratio,
            ">= 0.95x",
            0.95,
            higher_is_better=True,
        )
    )


# -- 2. uvicorn under load ---------------------------------------------------------------


async def _load(port: int, cookie: str, seconds: float, connections: int) -> int:
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode()
    deadline = time.perf_counter() + seconds
    counts = [0] * connections
    length = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            found = length.search(head)
            if found:
                await reader.readexactly(int(found.group(1)))
            counts[index] += 1
        writer.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    return sum(counts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(BENCH),
            f"_apps:{app}",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "on",
        ],
        cwd=ROOT,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"uvicorn did not start {app}")


def _seed_over_http(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /seed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    found = re.search(rb"set-cookie: *([^;\r\n]+)", data, re.IGNORECASE)
    assert found, data[:300]
    return found.group(1).decode()


def bench_uvicorn(rounds: int, seconds: float) -> None:
    servers = {name: _serve(name) for name in ("native_starlette", "ours_starlette")}
    try:
        cookies = {name: _seed_over_http(port) for name, (_, port) in servers.items()}
        rates: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(rounds):
            for name, (_, port) in servers.items():
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--loadgen",
                        str(port),
                        cookies[name],
                        str(seconds),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rates[name].append(int(done.stdout.strip()) / seconds)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    ours, native = rates["ours_starlette"], rates["native_starlette"]
    ratio = statistics.median(x / y for x, y in zip(ours, native, strict=True))
    ROWS.append(
        Row(
            "Starlette request.session under uvicorn: requests/s ours / native",
            f"{max(ours):,.0f} req/s",
            f"{max(native):,.0f} req/s",
            ratio,
            ">= 0.9x",
            0.9,
            higher_is_better=True,
            note="one uvicorn worker, 8 keep-alive connections",
        )
    )


# -- 6. import time ---------------------------------------------------------------------


def bench_imports() -> None:
    forbidden = ("sqlalchemy", "redis", "starlette", "flask", "django", "reference_impl.gob")
    code = f"import sys, reference_impl; print([m for m in {forbidden!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = done.stdout.strip()
    times = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import reference_impl"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stderr
        top = [line for line in out.splitlines() if line.rstrip().endswith("| reference_impl")]
        times.append(int(top[-1].split("|")[1]) / 1000)
    ROWS.append(
        Row(
            "import reference_impl: gob/SQLAlchemy/redis/framework modules loaded",
            loaded,
            "[]",
            0.0 if loaded == "[]" else 1.0,
            "none",
            0.0,
            note=f"import time {min(times):.0f} ms (best of 5, cumulative, -X importtime)",
        )
    )


# -- 3. server-side stores (optional) ----------------------------------------------------


def bench_backends(rounds: int) -> None:
    import shutil

    from reference_impl.redis import RedisStore
    from reference_impl.securecookie import SecureCookie
    from reference_impl.sql import SQLStore

    binary = shutil.which("redis-server")
    if binary is None:
        ROWS.append(Row("RedisStore", "-", "-", None, "<= 1.3x", 1.3, note="no redis-server"))
        return
    codec = SecureCookie(HASH_KEY)
    record = codec.encode("session", SESSION)

    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            store = RedisStore(HASH_KEY, url=f"redis://127.0.0.1:{port}/0")
            client = store.client
            client.set("raw", record, ex=3600)

            def raw_redis() -> None:
                data = client.get("raw")
                value = codec.decode("session", data.decode())  # type: ignore[union-attr]
                client.set("raw", codec.encode("session", value), ex=3600)

            ours, ref, ratio = paired(_apps.store_request(store), raw_redis, rounds)
            add("RedisStore / raw redis-py GET+SET + codec", ours, ref, ratio, "<= 1.3x", 1.3)
            bench_async_redis(port, rounds, codec, record)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        sql_store = SQLStore(HASH_KEY, url=f"sqlite:///{tmp}/store.db")
        raw_sql, _ = _apps.raw_sqlite_request(f"sqlite:///{tmp}/raw.db", codec, record)
        ours, ref, ratio = paired(_apps.store_request(sql_store), raw_sql, rounds)
        add("SQLStore (SQLite) / raw SQLAlchemy Core + codec", ours, ref, ratio, "<= 1.3x", 1.3)


def bench_async_redis(port: int, rounds: int, codec: Any, record: str) -> None:
    from reference_impl.aio.redis import AsyncRedisStore
    from spec.http import RecordingResponse, SimpleRequest

    async def main() -> tuple[float, float, float]:
        store = AsyncRedisStore(HASH_KEY, url=f"redis://127.0.0.1:{port}/0")
        client = store.client
        req, resp = SimpleRequest(), RecordingResponse()
        session = await store.new(req, "session")
        session.values.update(SESSION)
        await store.save(req, resp, session)
        header = f"session={resp.cookies[0].value}"
        await client.set("araw", record, ex=3600)

        async def ours() -> None:
            r, w = SimpleRequest(header), RecordingResponse()
            s = await store.new(r, "session")
            s["user_id"] = 43
            await store.save(r, w, s)

        async def raw() -> None:
            data = await client.get("araw")
            value = codec.decode("session", data.decode())
            await client.set("araw", codec.encode("session", value), ex=3600)

        async def timed(fn: Callable[[], Awaitable[None]], number: int) -> float:
            start = time.perf_counter()
            for _ in range(number):
                await fn()
            return (time.perf_counter() - start) / number

        a, b = [], []
        for _ in range(rounds):
            a.append(await timed(ours, 300))
            b.append(await timed(raw, 300))
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        return min(a) * 1e6, min(b) * 1e6, ratio

    ours, ref, ratio = asyncio.run(main())
    add("AsyncRedisStore / raw redis.asyncio + codec", ours, ref, ratio, "<= 1.3x", 1.3)


# -- main ---------------------------------------------------------------------------


def print_table() -> None:
    print("| figure | ours | reference | ratio | target | verdict | note |")
    print("|---|--:|--:|--:|---|---|---|")
    for row in ROWS:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        if row.target == "none":
            ratio = "-"
        print(
            f"| {row.figure} | {row.ours} | {row.reference} | {ratio} | {row.target} "
            f"| {row.verdict} | {row.note} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2 s load runs")
    parser.add_argument("--backends", action="store_true", help="also Redis and SQLite")
    parser.add_argument("--only", help="run only sections whose name contains this")
    parser.add_argument("--loadgen", nargs=3, metavar=("PORT", "COOKIE", "SECONDS"))
    args = parser.parse_args()
    if args.loadgen:  # the load generator's own process
        port, cookie, seconds = args.loadgen
        print(asyncio.run(_load(int(port), cookie, float(seconds), 8)))
        return 0
    rounds = 3 if args.quick else 7
    seconds = 2.0 if args.quick else 4.0
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {rounds} rounds")
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    sections: list[tuple[str, Callable[[], None]]] = [
        ("request", lambda: bench_request_path(rounds)),
        ("codec", lambda: bench_codec(rounds)),
        ("gob", lambda: bench_gob(rounds)),
        ("asgi", lambda: bench_asgi_direct(rounds)),
        ("uvicorn", lambda: bench_uvicorn(rounds, seconds)),
        (
            "flask",
            lambda: bench_wsgi("Flask", _apps.flask_app(False), _apps.flask_app(True), rounds),
        ),
        ("django", lambda: bench_wsgi("Django", *_apps.django_apps(), rounds)),
        ("imports", bench_imports),
    ]
    if args.backends:
        sections.append(("backends", lambda: bench_backends(rounds)))
    failed = False
    for name, run in sections:
        if args.only and args.only not in name:
            continue
        try:
            run()
        except Exception as exc:  # one broken section must not hide the others
            failed = True
            ROWS.append(Row(name, "-", "-", None, "", 0, note=f"failed: {exc!r}"))
    print_table()
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
