"""Backend overhead benchmark: our server-side stores against raw client calls.

Run from the repository root, with the ``redis``, ``sql``, ``mysql`` and
``memcached`` extras and Debian's ``redis-server``, ``mariadb-server`` and
``memcached`` installed::

    python bench/backends.py          # best of 5
    python bench/backends.py --quick  # best of 3

One request = load the session named by the cookie and save it back (the
6-key session of bench/codec.py). Each store is compared with what the same
request costs when an application talks to the backend directly with the
same encoded blob and no session library: redis-py ``GET`` + ``SET EX``,
pymemcache ``get`` + ``set``, ``sqlite3`` ``SELECT`` + ``UPDATE``, and
PyMySQL ``SELECT`` + ``UPDATE`` on MariaDB (``SQLStore`` through
``mysql+pymysql://``). The ratio is our overhead: signing, checking, ID
handling and the create/update guarantees. Target <= 1.3x.
A second table prices merge-on-save (S-10.20): the same one-key request
with the store's merge on (a compare-and-set of the record it loaded)
against the same store with it off (a plain update, the last writer
winning), on every server-side store. Target < 1.3x as well.
A throwaway redis-server, memcached and MariaDB
(``tests/backends/_mariadb_server.py``) are started on free 127.0.0.1 ports
and stopped at the end. Prints ratios;
exit status 0 unless a round trip came back wrong.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_impl import FilesystemStore, MemoryStore, ServerSideStore
from reference_impl.memcached import MemcachedStore
from reference_impl.redis import RedisStore
from reference_impl.securecookie import SecureCookie
from reference_impl.sql import SQLStore
from spec.http import RecordingResponse, SimpleRequest

SESSION: dict[str | int, object] = {
    "user_id": 42,
    "username": "alice",
    "csrf": "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
    "roles": ["admin", "editor"],
    "cart": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
    "_flash": ["Welcome back!"],
}
HASH_KEY, BLOCK_KEY = bytes(range(32)), bytes(range(32, 64))
TARGET = 1.3


def store_request(store: ServerSideStore) -> Callable[[], None]:
    """One request through the store: load by cookie, touch a value, save."""
    request, response = SimpleRequest(), RecordingResponse()
    session = store.new(request, "app")
    session.values.update(SESSION)
    session.save(request, response)
    header = f"app={response.cookies[0].value}"

    def one() -> None:
        req, resp = SimpleRequest(header), RecordingResponse()
        s = store.new(req, "app")
        s.values["user_id"] = 42
        store.save(req, resp, s)

    one()
    check = store.new(SimpleRequest(header), "app")
    assert check.values == SESSION, "round trip through the store came back wrong"
    return one


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            directory,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not start")


def raw_redis(store: RedisStore) -> Callable[[], None]:
    """The same request without the library: GET the blob, SET it back with a TTL."""
    client, key = store.client, "raw-bench-key"
    blob = SecureCookie(HASH_KEY, BLOCK_KEY).encode("app", SESSION)
    client.set(key, blob, ex=2592000)

    def one() -> None:
        data = client.get(key)
        client.set(key, data, ex=2592000)  # type: ignore[arg-type]

    return one


def start_memcached() -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("memcached")
    if binary is None:
        sys.exit("memcached is not installed (apt-get install memcached)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-u", "nobody"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("memcached did not start")


def raw_memcached(port: int) -> Callable[[], None]:
    """The same request on pymemcache alone: get the blob, set it back with a TTL."""
    from pymemcache.client.base import Client

    client = Client(("127.0.0.1", port), default_noreply=False, no_delay=True)
    blob = SecureCookie(HASH_KEY, BLOCK_KEY).encode("app", SESSION)
    client.set("raw-bench-key", blob, expire=2592000)

    def one() -> None:
        data = client.get("raw-bench-key")
        client.set("raw-bench-key", data, expire=2592000)

    return one


def raw_sqlite(path: str) -> Callable[[], None]:
    """The same request on the stdlib driver: SELECT the blob, UPDATE it back."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, data TEXT, expires_at REAL)")
    blob = SecureCookie(HASH_KEY, BLOCK_KEY).encode("app", SESSION)
    db.execute("INSERT INTO raw VALUES ('k', ?, 0)", (blob,))

    def one() -> None:
        (data,) = db.execute("SELECT data, expires_at FROM raw WHERE id = 'k'").fetchone()[:1]
        db.execute("UPDATE raw SET data = ?, expires_at = ? WHERE id = 'k'", (data, 1.0))

    return one


def raw_pymysql(port: int) -> Callable[[], None]:
    """The same request on PyMySQL, autocommit: SELECT the blob, UPDATE it back."""
    import pymysql

    db = pymysql.connect(host="127.0.0.1", port=port, user="root", database="sessionspec")
    db.autocommit(True)
    cursor = db.cursor()
    cursor.execute(
        "CREATE TABLE raw (id VARCHAR(52) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,"
        " data MEDIUMTEXT NOT NULL, expires_at DOUBLE) ENGINE=InnoDB"
    )
    blob = SecureCookie(HASH_KEY, BLOCK_KEY).encode("app", SESSION)
    cursor.execute("INSERT INTO raw VALUES ('k', %s, 0)", (blob,))

    def one() -> None:
        cursor.execute("SELECT data, expires_at FROM raw WHERE id = %s", ("k",))
        (data, _) = cursor.fetchone()  # type: ignore[misc]
        cursor.execute("UPDATE raw SET data = %s, expires_at = %s WHERE id = %s", (data, 1.0, "k"))

    return one


def merge_cost(store: ServerSideStore, repeats: int) -> tuple[float, float]:
    """(plain update ns, merge ns) of one request changing one key, no concurrent writer.

    The two are timed in alternation, best of ``repeats`` rounds each, so a
    burst of load on a shared machine hits both alike.
    """
    one = store_request(store)
    timer = timeit.Timer(one)
    number, _ = timer.autorange()
    best = {False: float("inf"), True: float("inf")}
    for _ in range(repeats):
        for merges in (False, True):
            store.core.merges = merges
            best[merges] = min(best[merges], timer.timeit(number) / number * 1e9)
    store.core.merges = True
    return best[False], best[True]


def best_ns(func: Callable[[], None], repeats: int) -> float:
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeats, number=number)) / number * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="best of 3 instead of 5")
    repeats = 3 if parser.parse_args().quick else 5
    from tests.backends._mariadb_server import MariaDBServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        sys.exit("mariadb-server is not installed (apt-get install mariadb-server)")
    mariadb = MariaDBServer(binaries)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_redis(tmp)
        memcached, memcached_port = start_memcached()
        try:
            mariadb.start()
            redis_store = RedisStore(HASH_KEY, BLOCK_KEY, url=f"redis://127.0.0.1:{port}/0")
            sql_store = SQLStore(HASH_KEY, BLOCK_KEY, url=f"sqlite:///{tmp}/store.db")
            mysql_store = SQLStore(HASH_KEY, BLOCK_KEY, url=mariadb.url("pymysql"))
            memcached_store = MemcachedStore(
                HASH_KEY, BLOCK_KEY, servers=[f"127.0.0.1:{memcached_port}"]
            )
            pairs = [
                ("redis", store_request(redis_store), raw_redis(redis_store)),
                ("memcached", store_request(memcached_store), raw_memcached(memcached_port)),
                ("sqlite", store_request(sql_store), raw_sqlite(f"{tmp}/raw.db")),
                ("mariadb", store_request(mysql_store), raw_pymysql(mariadb.port)),
            ]
            print(f"{'backend':<9} {'store ns':>10} {'raw ns':>10} {'ratio':>7}  target")
            for name, ours, raw in pairs:
                ours_ns, raw_ns = best_ns(ours, repeats), best_ns(raw, repeats)
                ratio = ours_ns / raw_ns
                verdict = "PASS" if ratio <= TARGET else "MISS"
                print(
                    f"{name:<9} {ours_ns:>10.0f} {raw_ns:>10.0f} {ratio:>6.2f}x"
                    f"  <= {TARGET}x {verdict}"
                )
            merging: list[tuple[str, ServerSideStore]] = [
                ("memory", MemoryStore(HASH_KEY, BLOCK_KEY)),
                ("files", FilesystemStore(f"{tmp}/files", HASH_KEY, BLOCK_KEY)),
                ("redis", redis_store),
                ("memcached", memcached_store),
                ("sqlite", sql_store),
                ("mariadb", mysql_store),
            ]
            print(f"\n{'merge':<9} {'update ns':>10} {'merge ns':>10} {'ratio':>7}  target")
            for name, store in merging:
                update_ns, merge_ns = merge_cost(store, repeats)
                ratio = merge_ns / update_ns
                verdict = "PASS" if ratio < TARGET else "MISS"
                print(
                    f"{name:<9} {update_ns:>10.0f} {merge_ns:>10.0f} {ratio:>6.2f}x"
                    f"  < {TARGET}x {verdict}"
                )
        finally:
            mariadb.cleanup()
            for server in (proc, memcached):
                server.terminate()
                server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
