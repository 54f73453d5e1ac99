"""Cookie codec round-trip benchmark: our SecureCookie against the peers' session cookies.

Run from the repository root (the peers come with the ``bench`` extra)::

    python bench/codec.py            # best of 7 timeit repeats per row
    python bench/codec.py --quick    # best of 3

Each codec's encode + decode round trip of one 6-key session is checked to give back the
original dict, then timed with ``timeit`` (loops autoranged; best of N repeats, taken in
turns across codecs). A missing peer prints "not installed". Exit status is 0 unless a
round trip was wrong; the PASS/MISS lines for the targets are informational.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import timeit
from base64 import b64decode, b64encode
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SESSION: dict[str, object] = {
    "user_id": 42,
    "username": "alice",
    "csrf": "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
    "roles": ["admin", "editor"],
    "cart": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
    "_flash": ["Welcome back!"],
}
HASH_KEY = bytes(range(32))
BLOCK_KEY = bytes(range(32, 64))  # 32 bytes: AES-256
SECRET = "bench-secret-key-not-for-production"

Codec = tuple[Callable[[dict[str, object]], str], Callable[[str], Any]]


def ours(block_key: bytes | None, serializer: str = "json") -> Codec:
    from reference_impl.securecookie import SecureCookie
    from reference_impl.serializers import GobSerializer, JSONSerializer

    chosen = GobSerializer() if serializer == "gob" else JSONSerializer()
    sc = SecureCookie(HASH_KEY, block_key, serializer=chosen)
    return (lambda s: sc.encode("session", s)), (lambda c: sc.decode("session", c))


def floor(clock: Callable[[], float] = time.time) -> Codec:
    """The least work gorilla's signed format needs: ours without its checks.

    The same fast primitives as ours (``orjson`` with sorted keys, pydantic-core's
    base64, HMAC-SHA256 from cached ``hashlib`` states) and nothing else: no
    exact-type walk, no strict-base64 guards, no number probes, no timestamp or
    age checks. ``check_floor`` proves it writes byte-identical cookies to ours
    (sorted keys, Go's newline), so the ratio to it is the price of the checks.
    """
    import hashlib

    import orjson
    from pydantic_core import SchemaSerializer, SchemaValidator, core_schema

    raw = core_schema.bytes_schema()
    to_text = SchemaSerializer(raw, core_schema.CoreConfig(ser_json_bytes="base64")).to_python
    from_text = SchemaValidator(raw, core_schema.CoreConfig(val_json_bytes="base64"))
    parse = from_text.validate_strings
    key = HASH_KEY.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + b"session|")
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    options = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE

    def mac(message: bytes) -> bytes:
        first = inner.copy()
        first.update(message)
        second = outer.copy()
        second.update(first.digest())
        return second.digest()

    def encode(s: dict[str, object]) -> str:
        body = to_text(orjson.dumps(s, option=options), mode="json")
        signed = f"{int(clock())}|{body}".encode("ascii")
        text: str = to_text(signed + b"|" + mac(signed), mode="json")
        return text

    def decode(c: str) -> Any:
        whole = parse(c)
        cut = whole.rindex(b"|", 0, len(whole) - 32)
        if not hmac_equal(mac(whole[:cut]), whole[cut + 1 :]):
            raise ValueError("bad MAC")
        return orjson.loads(parse(whole[whole.index(b"|") + 1 : cut].decode("ascii")))

    from hmac import compare_digest as hmac_equal

    return encode, decode


def check_floor() -> str:
    """'' if the floor writes the very bytes ours writes at the same second, else the problem."""
    try:
        from reference_impl.securecookie import SecureCookie

        sc = SecureCookie(HASH_KEY, clock=lambda: 1_700_000_000)
        encode, decode = floor(lambda: 1_700_000_000)
        for value in (SESSION, dict(SESSION, pad="p" * 1500)):
            if encode(value) != sc.encode("session", value) or decode(encode(value)) != value:
                return "floor cookie differs from ours"
    except ImportError as exc:
        return f"not installed ({exc.name})"
    return ""


def starlette() -> Codec:
    """starlette/middleware/sessions.py: JSON -> standard b64 -> itsdangerous TimestampSigner."""
    from starlette.middleware.sessions import SessionMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    mw = SessionMiddleware(app, secret_key=SECRET)  # builds the signer the middleware uses
    signer, max_age = mw.signer, mw.max_age
    return (
        lambda s: signer.sign(b64encode(json.dumps(s).encode("utf-8"))).decode("utf-8"),
        lambda c: json.loads(b64decode(signer.unsign(c.encode("utf-8"), max_age=max_age))),
    )


def flask() -> Codec:
    """flask/sessions.py SecureCookieSessionInterface: save_session dumps, open_session loads."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask(__name__)  # "bench" is ambiguous when two checkouts share a venv
    app.secret_key = SECRET
    # Built once here; Flask itself rebuilds it in every open_session and save_session.
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    max_age = int(app.permanent_session_lifetime.total_seconds())
    return (lambda s: serializer.dumps(s)), (lambda c: serializer.loads(c, max_age=max_age))


def django() -> Codec:
    """django/contrib/sessions/backends/signed_cookies.py: signing.dumps/loads, compressed."""
    settings = importlib.import_module("django.conf").settings  # Django ships no type hints
    if not settings.configured:
        settings.configure(SECRET_KEY=SECRET)
    signing = importlib.import_module("django.core.signing")
    serializer = importlib.import_module("django.contrib.sessions.serializers").JSONSerializer
    salt = "django.contrib.sessions.backends.signed_cookies"
    max_age = settings.SESSION_COOKIE_AGE
    return (
        lambda s: signing.dumps(s, compress=True, salt=salt, serializer=serializer),
        lambda c: signing.loads(c, serializer=serializer, max_age=max_age, salt=salt),
    )


def aiohttp_fernet() -> Codec:
    """aiohttp_session/cookie_storage.py EncryptedCookieStorage: {created, session} -> Fernet."""
    from aiohttp_session.cookie_storage import EncryptedCookieStorage

    storage = EncryptedCookieStorage(HASH_KEY, max_age=30 * 86400)  # raw bytes -> Fernet key
    fernet, ttl = storage._fernet, storage.max_age
    encoder, decoder = storage._encoder, storage._decoder
    return (
        lambda s: fernet.encrypt(
            encoder({"created": int(time.time()), "session": s}).encode("utf-8")
        ).decode("utf-8"),
        lambda c: decoder(fernet.decrypt(c.encode("utf-8"), ttl=ttl).decode("utf-8"))["session"],
    )


CONTENDERS: list[tuple[str, str, Callable[[], Codec]]] = [
    ("ours signed", "sessionspec", lambda: ours(None)),
    ("ours encrypted", "sessionspec", lambda: ours(BLOCK_KEY)),
    ("ours signed, gob", "sessionspec", lambda: ours(None, "gob")),
    ("ours encrypted, gob", "sessionspec", lambda: ours(BLOCK_KEY, "gob")),
    ("floor: our format, no checks", "orjson", floor),
    ("Starlette", "starlette", starlette),
    ("Flask", "flask", flask),
    ("Django signed_cookies", "django", django),
    ("aiohttp-session Fernet", "aiohttp-session", aiohttp_fernet),
]
TARGETS = [("ours signed", "Starlette", 0.5), ("ours encrypted", "aiohttp-session Fernet", 0.5)]


@dataclass
class Row:
    name: str
    ns: float | None = None
    length: int | None = None
    note: str = ""
    failed: bool = False


def check(name: str, factory: Callable[[], Codec]) -> tuple[Row, Callable[[], object] | None]:
    """Build the codec and verify its round trip; return the row and the call to time."""
    try:
        encode, decode = factory()
    except ImportError as exc:
        return Row(name, note=f"not installed ({exc.name})"), None
    try:
        cookie = encode(SESSION)
        back = decode(cookie)
    except Exception as exc:
        return Row(name, note=f"raised {exc!r}", failed=True), None
    if back != SESSION:
        return Row(name, note=f"round trip returned {back!r}", failed=True), None
    return Row(name, length=len(cookie)), lambda: decode(encode(SESSION))


def time_all(rows: dict[str, Row], calls: dict[str, Callable[[], object]], repeats: int) -> None:
    """Best ns per call; the repeats take turns across codecs so load drift hits all alike."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    for _ in range(repeats):
        for name, timer in timers.items():
            ns = timer.timeit(numbers[name]) / numbers[name] * 1e9
            rows[name].ns = min(ns, rows[name].ns or ns)


def dist_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="best of 3 repeats instead of 7")
    repeats = 3 if parser.parse_args().quick else 7
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, best of {repeats} repeats\n")
    print("| codec | version | ns per round trip | cookie chars | note |\n|---|---|--:|--:|---|")
    checked = {name: check(name, factory) for name, _, factory in CONTENDERS}
    floor_problem = check_floor()
    if floor_problem:  # a floor that writes other bytes would not be a floor of ours
        row = checked["floor: our format, no checks"][0]
        checked["floor: our format, no checks"] = (row, None)
        row.note, row.failed = floor_problem, not floor_problem.startswith("not installed")
    rows = {name: row for name, (row, _) in checked.items()}
    time_all(rows, {name: call for name, (_, call) in checked.items() if call}, repeats)
    for (name, dist, _), row in zip(CONTENDERS, rows.values(), strict=True):
        shown = f"{row.ns:,.0f}" if row.ns is not None else "-"
        size = row.length if row.length is not None else "-"
        print(f"| {name} | {dist_version(dist)} | {shown} | {size} | {row.note} |")

    timed = {name: row.ns for name, row in rows.items() if row.ns is not None}
    mine = {name: cost for name, cost in timed.items() if name.startswith("ours")}
    peers = {name: cost for name, cost in timed.items() if name not in mine}
    if mine and peers:
        print("\n| ours / peer (lower is better) | " + " | ".join(peers) + " |")
        print("|---" + "|--:" * len(peers) + "|")
        for name, cost in mine.items():
            print(f"| {name} | " + " | ".join(f"{cost / p:.2f}x" for p in peers.values()) + " |")

    print("\nTargets (informational):")
    for ours_name, peer, limit in TARGETS:
        ratio = timed[ours_name] / timed[peer] if ours_name in timed and peer in timed else None
        verdict = "PASS" if ratio is not None and ratio <= limit else "MISS"
        shown = "not measured" if ratio is None else f"{ratio:.2f}x  {verdict}"
        print(f"  {ours_name} <= {limit}x {peer}: {shown}")
    print("\nGob (Go interop) against JSON, same codec:")
    for mode in ("signed", "encrypted"):
        gob, plain = timed.get(f"ours {mode}, gob"), timed.get(f"ours {mode}")
        if gob is not None and plain is not None:
            print(f"  {mode}: gob {gob:,.0f} ns vs JSON {plain:,.0f} ns = {gob / plain:.2f}x")
    return 1 if any(row.failed for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
