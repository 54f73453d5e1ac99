"""Plots for docs/performance.md: cookie cost against cookie size, and request cost per store.

Run from the repository root (the peers come with the ``bench`` extra)::

    python bench/plots.py                  # best of 15 short repeats; writes docs/img/*.svg
    python bench/plots.py --quick          # best of 5
    python bench/plots.py --out /tmp/img   # somewhere else

It writes two SVG files (drawn by bench/_svg.py, no plotting library):

* ``cost-by-size.svg``: µs per cookie round trip (encode, then decode) against the
  cookie's length, for our signed and encrypted codecs, Starlette's signed cookie and
  aiohttp-session's Fernet cookie (bench/codec.py's codecs). The session is the 6-key
  session of bench/_apps.py plus a ``pad`` string grown in steps until our signed
  cookie would pass 4096 characters; x is our signed cookie's length for that session.
* ``cost-by-store.svg``: µs per request (load the session from its cookie, change one
  key, save) for each store, beside the same work done directly: the bare codec round
  trip for the cookie and memory stores; for the filesystem store, read a file, the codec,
  then write a temporary file, fsync and rename it; raw SQLAlchemy Core SELECT+UPDATE
  plus the codec for SQLite, raw redis-py GET+SET plus the codec for Redis (only when
  ``redis-server`` is on PATH; a throwaway one is started and stopped).

Each figure is the best of N timeit repeats, taken in turns across the contenders so
load drift hits them alike. The absolute times depend on the machine; the ratios and
the shapes of the curves are what to read. A peer that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, TypeVar

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import _svg  # noqa: E402
import codec as peers  # noqa: E402
from _apps import HASH_KEY, SESSION, raw_sqlite_request, store_request  # noqa: E402

Call = Callable[[], object]
K = TypeVar("K", bound=Hashable)


def best_us(calls: dict[K, Call], repeats: int) -> dict[K, float]:
    """Best µs per call of each; short repeats (~1/8 of timeit's 0.2 s autorange) in turns."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: max(1, timer.autorange()[0] // 8) for name, timer in timers.items()}
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for name, timer in timers.items():
            us = timer.timeit(numbers[name]) / numbers[name] * 1e6
            best[name] = min(best[name], us)
    return best


# -- cost against cookie size ---------------------------------------------------------------


def round_trip(encode: Callable[[Any], str], decode: Callable[[str], Any], value: object) -> Call:
    return lambda: decode(encode(value))


def by_size(repeats: int) -> dict[str, list[tuple[float, float]]]:
    factories: dict[str, Callable[[], peers.Codec]] = {
        "ours signed": lambda: peers.ours(None),
        "ours encrypted": lambda: peers.ours(peers.BLOCK_KEY),
        "Starlette signed cookie": peers.starlette,
        "aiohttp-session Fernet": peers.aiohttp_fernet,
    }
    codecs: dict[str, peers.Codec] = {}
    for name, factory in factories.items():
        try:
            codecs[name] = factory()
        except ImportError as exc:
            print(f"note: skipping {name}: not installed ({exc.name})")
    from spec.errors import ValueTooLongError

    encode_ours = codecs["ours signed"][0]
    lengths: list[int] = []
    calls: dict[tuple[str, int], Call] = {}
    for pad in range(0, 10_000, 250):
        value = dict(SESSION, pad="p" * pad)
        try:
            length = len(encode_ours(value))
        except ValueTooLongError:  # our codec refuses what no browser would keep
            break
        if len("session=") + length > 4096:
            break
        lengths.append(length)
        for name, (encode, decode) in codecs.items():
            assert decode(encode(value)) == value, f"{name}: round trip changed the session"
            calls[name, length] = round_trip(encode, decode, value)
    best = best_us(calls, repeats)  # every size and codec in each turn: a slow spell hits all
    print("\n| our signed cookie, chars | " + " | ".join(f"{n}, µs" for n in codecs) + " |")
    print("|--:" * (len(codecs) + 1) + "|")
    for length in lengths:
        print(f"| {length} | " + " | ".join(f"{best[n, length]:,.1f}" for n in codecs) + " |")
    return {name: [(length, best[name, length]) for length in lengths] for name in codecs}


# -- cost per store ---------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(directory: str) -> Iterator[int | None]:
    """A throwaway redis-server on a free 127.0.0.1 port (None without one on PATH)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def by_store(repeats: int) -> list[tuple[str, float, float | None]]:

    from reference_impl import CookieStore, FilesystemStore, MemoryStore
    from reference_impl.securecookie import SecureCookie
    from reference_impl.sql import SQLStore

    codec = SecureCookie(HASH_KEY)
    record = codec.encode("session", SESSION)
    with tempfile.TemporaryDirectory() as tmp, redis_server(tmp) as port:
        # (bar name, store call name, reference call name)
        pairs = [
            ("CookieStore", "cookie", "codec"),
            ("MemoryStore", "memory", "codec"),
            ("FilesystemStore", "filesystem", "raw file"),
            ("SQLStore (SQLite)", "sqlite", "raw sqlite"),
        ]
        sql_store = SQLStore(HASH_KEY, url=f"sqlite:///{tmp}/store.db")
        calls: dict[str, Call] = {
            "codec": lambda: codec.decode("session", codec.encode("session", SESSION)),
            "cookie": store_request(CookieStore(HASH_KEY)),
            "memory": store_request(MemoryStore(HASH_KEY)),
            "filesystem": store_request(FilesystemStore(Path(tmp, "files"), HASH_KEY)),
            "sqlite": store_request(sql_store),
        }

        calls["raw sqlite"], dispose = raw_sqlite_request(f"sqlite:///{tmp}/raw.db", codec, record)
        raw_path = Path(tmp, "raw-session")
        raw_path.write_text(record)

        def raw_file() -> None:
            # What any durable file write does: read, decode, encode, then a
            # temporary file, fsync and an atomic rename (the store does the same).
            value = codec.decode("session", raw_path.read_text())
            temporary = raw_path.with_suffix(".tmp")
            with temporary.open("w") as handle:
                handle.write(codec.encode("session", value))
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(raw_path)

        calls["raw file"] = raw_file
        redis_store = None
        if port is None:
            print("note: skipping RedisStore: no redis-server on PATH")
        else:
            from reference_impl.redis import RedisStore

            redis_store = RedisStore(HASH_KEY, url=f"redis://127.0.0.1:{port}/0")
            client = redis_store.client
            client.set("raw", record, ex=3600)

            def raw_redis() -> None:
                value = codec.decode("session", client.get("raw").decode())  # type: ignore[union-attr]
                client.set("raw", codec.encode("session", value), ex=3600)

            calls["redis"], calls["raw redis"] = store_request(redis_store), raw_redis
            pairs.append(("RedisStore", "redis", "raw redis"))
        try:
            best = best_us(calls, repeats)
        finally:
            sql_store.close()
            dispose()
            if redis_store is not None:
                redis_store.close()
    print("\n| store | store request, µs | done directly, µs | ratio |\n|---|--:|--:|--:|")
    bars: list[tuple[str, float, float | None]] = []
    for name, ours, ref in pairs:
        bars.append((name, best[ours], best[ref]))
        print(f"| {name} | {best[ours]:,.1f} | {best[ref]:,.1f} | {best[ours] / best[ref]:.2f}x |")
    return bars


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="output directory")
    parser.add_argument("--quick", action="store_true", help="best of 5 repeats instead of 15")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"Python {sys.version.split()[0]}, best of {repeats} repeats")

    size_svg = _svg.line_chart(
        by_size(repeats),
        title="Cookie round trip (encode + decode) against cookie size",
        x_title="cookie length in characters (our signed cookie for the same session)",
        y_title=f"µs per round trip (best of {repeats})",
    )
    store_svg = _svg.bar_chart(
        by_store(repeats),
        title="One request per store: load, change one key, save",
        value_title=f"µs per request (best of {repeats})",
        pair_names=("store request", "the same work done directly (codec, raw driver)"),
    )
    print()
    for name, text in (("cost-by-size.svg", size_svg), ("cost-by-store.svg", store_svg)):
        path = args.out / name
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
