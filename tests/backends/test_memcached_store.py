"""MemcachedStore against real memcached processes: the conformance suite, outages, eviction.

Every server here is a private ``memcached`` started by the test (skipped
without the binary, failed in CI). The sync and async stores run the whole
suite with every server-side capability Memcached can have (``purge_expired``
cannot: Memcached cannot list keys, and expires items itself, S-10.9).
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from pymemcache.client.base import Client
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "pymemcache is not installed (pip install 'sessionspec[memcached]')",
        allow_module_level=True,
    )

from conformance import Browser, Capabilities, StoreConformance
from reference_impl import testing
from reference_impl.aio import AsyncMemcachedStore
from reference_impl.memcached import RELATIVE_TTL_LIMIT, MemcachedStore, memcached_expire
from reference_impl.memory import MemoryStore
from reference_impl.securecookie import SecureCookie
from spec import ManualClock
from spec.errors import (
    ConfigurationError,
    DeserializeError,
    ExpiredTimestampError,
    SessionInterruptedError,
    SessionNotFoundError,
    StoreError,
)
from spec.http import RecordingResponse, SimpleRequest
from tests.backends import _memcached_server
from tests.backends._hang import bounded, unreachable_port
from tests.backends._memcached_server import MemcachedServer
from tests.stores._support import BLOCK, HASH

memcached_server = _memcached_server.memcached_server  # the shared real-server fixture

ROOT = Path(__file__).parents[2]


#: Stores and clients a test opened, closed after it (pytest turns unclosed sockets into errors).
_opened: list[Any] = []


@pytest.fixture(autouse=True)
def _close_what_the_test_opened() -> Iterator[None]:
    yield
    while _opened:
        item = _opened.pop()
        (item._memcached if isinstance(item, AsyncMemcachedStore) else item).close()


def _raw(server: MemcachedServer) -> Client:
    client = Client(("127.0.0.1", server.port), default_noreply=False, timeout=5)
    _opened.append(client)
    return client


def _prefix() -> str:
    return f"sessionspec-test:{os.urandom(6).hex()}:"


def _tracked(store: MemcachedStore) -> MemcachedStore:
    _opened.append(store)
    return store


@pytest.fixture(scope="session")
def shared_clients(memcached_server: MemcachedServer) -> Iterator[dict[str, Any]]:
    """One connection pool for every store the conformance classes make (the suite makes
    thousands and closes none), closed at the end."""
    owner = MemcachedStore(HASH, servers=[memcached_server.address])
    try:
        yield owner._memcached.clients
    finally:
        owner.close()


@pytest.fixture(scope="session")
def raw_client(memcached_server: MemcachedServer) -> Iterator[Client]:
    client = Client(("127.0.0.1", memcached_server.port), default_noreply=False, timeout=5)
    try:
        yield client
    finally:
        client.close()


class TestMemcachedStoreConformance(StoreConformance[MemcachedStore]):
    """The full suite, stateful machine included, against a real memcached."""

    capabilities = Capabilities.model_validate(testing.memcached.capabilities)

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _connect(
        cls,
        memcached_server: MemcachedServer,
        shared_clients: dict[str, Any],
        raw_client: Client,
    ) -> None:
        # Class scope, set on the class: the suite's own fixtures build a probe store first.
        cls.server, cls.shared, cls.client = memcached_server, shared_clients, raw_client

    def make_store(self, clock: ManualClock, **lifetimes: int) -> MemcachedStore:
        store = MemcachedStore(
            HASH, BLOCK, servers=[self.server.address], prefix=_prefix(), clock=clock, **lifetimes
        )
        store._memcached.clients = self.shared
        return store

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> MemcachedStore:
        return self.make_store(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> MemcachedStore:
        base: MemcachedStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: MemcachedStore, session_id: str) -> object | None:
        return self.client.get(store.key_for(session_id))

    def break_backend(self, store: MemcachedStore) -> None:
        testing.memcached.break_backend(store)


class TestAsyncMemcachedStoreConformance(StoreConformance[Any]):
    """The same suite on the async twin (each command in a worker thread)."""

    capabilities = Capabilities.model_validate(testing.async_memcached.capabilities).model_copy(
        update={"id_sample_size": 2000}  # as tests/aio: each draw crosses to a thread and back
    )

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _connect(
        cls,
        memcached_server: MemcachedServer,
        shared_clients: dict[str, Any],
        raw_client: Client,
    ) -> None:
        # Class scope, set on the class: the suite's own fixtures build a probe store first.
        cls.server, cls.shared, cls.client = memcached_server, shared_clients, raw_client

    def make_store(self, clock: ManualClock, **lifetimes: int) -> AsyncMemcachedStore:
        store = AsyncMemcachedStore(
            HASH, BLOCK, servers=[self.server.address], prefix=_prefix(), clock=clock, **lifetimes
        )
        store._memcached.clients = self.shared
        return store

    def make_store_with_timeouts(
        self, clock: ManualClock, *, absolute_timeout: int, idle_timeout: int
    ) -> AsyncMemcachedStore:
        return self.make_store(clock, absolute_timeout=absolute_timeout, idle_timeout=idle_timeout)

    def make_store_with_keys(self, clock: ManualClock, *key_pairs: bytes) -> AsyncMemcachedStore:
        base: AsyncMemcachedStore = self.__dict__.setdefault("_base", self.make_store(clock))
        return base.with_keys(*key_pairs)

    def raw_record(self, store: AsyncMemcachedStore, session_id: str) -> object | None:
        return self.client.get(store.key_for(session_id))

    def break_backend(self, store: AsyncMemcachedStore) -> None:
        testing.async_memcached.break_backend(store)


def test_python_m_conformance_passes_on_memcached(memcached_server: MemcachedServer) -> None:
    """``python -m conformance reference_impl.testing:memcached`` (and the async factory) on
    a real server, every server-side capability Memcached can have declared: no clause fails,
    S-10.1 to S-10.8 and the lifetime clauses pass on both, S-10.9 (purge) is skipped."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SESSIONSPEC_MEMCACHED_SERVERS": memcached_server.address,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "reference_impl.testing:memcached",
            "reference_impl.testing:async_memcached",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("S-")]
    assert rows and all("FAIL" not in row for row in rows)
    outcomes = {row.split()[0]: row.split()[-2:] for row in rows}
    assert outcomes["S-10.9"] == ["skip", "skip"]  # no purge_expired: not declared
    server_side = [f"S-10.{n}" for n in range(1, 9)] + [f"S-9.{n}" for n in range(22, 26)]
    assert all(outcomes[clause] == ["pass", "pass"] for clause in server_side), outcomes


# -- the record in Memcached -------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(memcached_server: MemcachedServer, clock: ManualClock) -> MemcachedStore:
    return _tracked(
        MemcachedStore(
            HASH, BLOCK, servers=[memcached_server.address], prefix=_prefix(), clock=clock
        )
    )


def _ttl(server: MemcachedServer, key: str) -> int:
    """The item's remaining lifetime in seconds as the server sees it (-1: none)."""
    reply = _raw(server).raw_command(f"mg {key} t", b"\r\n").decode()
    assert reply.startswith("HD t"), reply
    return int(reply.split("t", 1)[1])


def test_key_is_prefix_and_id_value_is_deadline_and_record(
    store: MemcachedStore, memcached_server: MemcachedServer, clock: ManualClock
) -> None:
    session = Browser().visit(store, user="alice")
    raw = _raw(memcached_server).get(store.key_for(session.id))
    assert isinstance(raw, bytes)
    deadline, _, record = raw.partition(b"|")
    assert float(deadline) == clock() + 30 * 86400
    assert SecureCookie(HASH, BLOCK, clock=clock).decode("app", record.decode())["user"] == (
        "alice"
    )
    assert 30 * 86400 - 5 <= _ttl(memcached_server, store.key_for(session.id)) <= 30 * 86400


def test_lifetimes_beyond_30_days_are_sent_as_absolute_times(
    memcached_server: MemcachedServer, clock: ManualClock
) -> None:
    """Memcached reads an expiry over 30 days as a Unix time: 40 days sent as 3456000 s would
    be January 1970, and the item would vanish at once (a silent logout). The store sends the
    absolute time, so a 40-day session is there, with a 40-day TTL."""
    assert memcached_expire(RELATIVE_TTL_LIMIT) == RELATIVE_TTL_LIMIT
    assert memcached_expire(RELATIVE_TTL_LIMIT + 1, lambda: 1_800_000_000.5) == (
        1_800_000_000 + RELATIVE_TTL_LIMIT + 1
    )
    assert memcached_expire(None) == 0
    assert memcached_expire(200 * 365 * 86400) == 0  # past 2038: no GC, the deadline still ends it
    store = _tracked(
        MemcachedStore(
            HASH, BLOCK, servers=[memcached_server.address], prefix=_prefix(), clock=clock
        )
    )
    store.max_age(40 * 86400)
    browser = Browser()
    session = browser.visit(store, user="alice")
    assert browser.load(store).values == {"user": "alice"}
    # An absolute time is read on memcached's own one-second clock: a second either way.
    assert abs(_ttl(memcached_server, store.key_for(session.id)) - 40 * 86400) <= 5
    store.max_age(0)  # server-side expiry off: no TTL either
    request, response = browser.request(), RecordingResponse()
    loaded = store.get(request, "app")
    loaded.options = loaded.options.replace(max_age=0)
    loaded.save(request, response)
    assert _ttl(memcached_server, store.key_for(session.id)) == -1


def test_expiry_is_decided_by_the_store_clock_not_the_ttl(
    store: MemcachedStore, clock: ManualClock
) -> None:
    browser = Browser()
    request, response = browser.request(), RecordingResponse()
    session = store.get(request, "app")
    session.options = session.options.replace(max_age=60)
    session.values["user"] = "alice"
    session.save(request, response)
    browser.receive(response)
    clock.advance(61)  # the item is still in memcached (its TTL runs on real time)
    assert store.backend.read(session.id) is not None
    assert isinstance(browser.load(store).load_error, ExpiredTimestampError)


@pytest.mark.parametrize("corrupt", [b"soon|x", b"nan|x", b"inf|x", b"\xff|x", b"no-envelope"])
def test_corrupt_record_is_a_logged_decode_error(
    store: MemcachedStore,
    memcached_server: MemcachedServer,
    corrupt: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    browser = Browser()
    session_id = browser.visit(store, user="alice").id
    _raw(memcached_server).set(store.key_for(session_id), corrupt)
    with caplog.at_level(logging.WARNING, logger="sessionspec.security"):
        loaded = browser.load(store)
    assert isinstance(loaded.load_error, DeserializeError)
    assert (loaded.is_new, loaded.id) == (True, "")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_deleted_by_another_client_is_not_resurrected(
    store: MemcachedStore, memcached_server: MemcachedServer
) -> None:
    """S-10.5: ``replace`` stores only over an existing item."""
    browser = Browser()
    browser.visit(store, user="alice")
    request, response = browser.request(), RecordingResponse()
    held = store.get(request, "app")
    _raw(memcached_server).delete(store.key_for(held.id))  # logout handled by another server
    held.values["user"] = "mallory"
    with pytest.raises(SessionInterruptedError):
        held.save(request, response)
    assert response.set_cookie_headers() == []
    assert _raw(memcached_server).get(store.key_for(held.id)) is None


def test_the_backend_primitives_answer_exactly(store: MemcachedStore) -> None:
    """add never overwrites, replace never creates, delete says whether it removed."""
    backend = store.backend
    sid = "A" * 52
    assert backend.update(sid, "x", None, 60) is False
    assert backend.read(sid) is None
    assert backend.create(sid, "one", 123.5, 60) is True
    assert backend.create(sid, "two", None, 60) is False
    assert backend.read(sid) == ("one", 123.5)
    assert backend.update(sid, "three", None, 60) is True
    assert backend.read(sid) == ("three", None)
    assert backend.delete(sid) is True
    assert backend.delete(sid) is False


def test_swap_is_gets_then_cas_and_never_recreates(store: MemcachedStore) -> None:
    """The touch primitive (idle_timeout): replaces only the text it expects, only if present."""
    backend = store._memcached
    sid = "B" * 52
    assert backend.swap(sid, "old", "new", None, 60) is False  # absent: not created
    assert backend.read(sid) is None
    backend.create(sid, "old", 10.0, 60)
    assert backend.swap(sid, "other", "new", 20.0, 60) is False  # saved meanwhile: untouched
    assert backend.read(sid) == ("old", 10.0)
    assert backend.swap(sid, "old", "new", 20.0, 60) is True
    assert backend.read(sid) == ("new", 20.0)
    backend.delete(sid)


def test_idle_timeout_is_accepted_since_the_backend_can_swap(
    memcached_server: MemcachedServer, clock: ManualClock
) -> None:
    store = _tracked(
        MemcachedStore(
            HASH,
            BLOCK,
            servers=[memcached_server.address],
            prefix=_prefix(),
            clock=clock,
            idle_timeout=600,
            absolute_timeout=3600,
        )
    )
    browser = Browser()
    browser.visit(store, user="alice")
    clock.advance(300)
    assert browser.load(store).values == {"user": "alice"}


def test_configuration_errors_raise_at_construction() -> None:
    for servers in ([], "127.0.0.1:11211", ["127.0.0.1:notaport"], [("h", 0)], [""]):
        with pytest.raises(ConfigurationError, match="server"):
            MemcachedStore(HASH, servers=servers)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="printable ASCII"):
        MemcachedStore(HASH, prefix="has space")
    with pytest.raises(ConfigurationError, match="at most 198"):
        MemcachedStore(HASH, prefix="p" * 199)
    with pytest.raises(ConfigurationError, match="retries"):
        MemcachedStore(HASH, retries=-1)
    with pytest.raises(ConfigurationError, match="timeouts"):
        MemcachedStore(HASH, timeout=0)
    # Construction does no I/O: a store for an unreachable server is built fine.
    built = MemcachedStore(HASH, servers=["127.0.0.1:1", ("::1", 11211), "/run/m.sock"])
    assert built.servers == ["127.0.0.1:1", "::1:11211", "/run/m.sock"]
    built.close()


# -- ping --------------------------------------------------------------------------------


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[MemcachedServer]:
    server = MemcachedServer(tmp_path / "memcached").start()
    try:
        yield server
    finally:
        server.stop()


def _fast_store(*servers: MemcachedServer, retries: int = 0) -> MemcachedStore:
    return _tracked(
        MemcachedStore(
            HASH,
            BLOCK,
            servers=[s.address for s in servers],
            timeout=0.5,
            connect_timeout=0.5,
            retries=retries,
        )
    )


def test_ping_answers_while_up_and_raises_store_error_with_the_cause_when_down(
    private_server: MemcachedServer,
) -> None:
    store = _fast_store(private_server, retries=1)  # the retry is on a new connection
    astore = AsyncMemcachedStore(HASH, servers=[private_server.address])
    _opened.append(astore)
    store.ping()
    asyncio.run(astore.aping())
    private_server.stop()
    with pytest.raises(StoreError) as info:
        store.ping()
    assert info.value.backend == "memcached"
    assert info.value.action == f"ping {private_server.address} (version)"
    assert "ConnectionRefusedError" in info.value.cause
    with pytest.raises(StoreError, match="ConnectionRefusedError"):
        asyncio.run(astore.aping())
    private_server.start()
    store.ping()
    asyncio.run(astore.aping())


# -- outages -----------------------------------------------------------------------------


def test_killed_server_raises_store_error_and_the_same_store_recovers_empty(
    private_server: MemcachedServer,
) -> None:
    """Killed mid-test: every read of a cookie and every save is StoreError (never a silent
    logout); restarted on the same port, the same store works again, and the sessions it
    lost (memcached keeps nothing) load as SessionNotFoundError, fresh sessions."""
    store = _fast_store(private_server, retries=1)
    browser = Browser()
    browser.visit(store, user="alice")
    held_request, held_response = browser.request(), RecordingResponse()
    held = store.get(held_request, "app")

    private_server.stop()
    with pytest.raises(StoreError):
        store.new(browser.request(), "app")
    with pytest.raises(StoreError):
        store.get(browser.request(), "app")
    request, response = SimpleRequest(), RecordingResponse()
    fresh = store.new(request, "app")  # no cookie: nothing to load, no I/O
    fresh.values["x"] = 1
    with pytest.raises(StoreError):
        fresh.save(request, response)
    held.values["user"] = "bob"
    with pytest.raises(StoreError):
        held.save(held_request, held_response)
    assert response.set_cookie_headers() == held_response.set_cookie_headers() == []

    private_server.start()  # same port, same store object, its pool's connections stale
    loaded = browser.load(store)
    assert isinstance(loaded.load_error, SessionNotFoundError)
    with pytest.raises(SessionInterruptedError):  # the held session is gone: not recreated
        held.save(held_request, held_response)
    assert Browser().visit(store, user="carol").id
    store.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_frozen_server_gives_store_error_within_the_bound_and_no_reply_is_mixed_up(
    private_server: MemcachedServer, kind: str
) -> None:
    """SIGSTOP: StoreError after (retries + 1) x timeout, bounded here by a generous limit
    (S-10.10); after SIGCONT the late replies are never read as answers to later commands."""
    alice, bob = Browser(), Browser()
    sync_store = _fast_store(private_server, retries=1)
    astore = AsyncMemcachedStore(
        HASH, BLOCK, servers=[private_server.address], timeout=0.5, connect_timeout=0.5
    )
    _opened.append(astore)
    alice.visit(sync_store, user="alice")
    bob.visit(sync_store, user="bob")

    def load_alice() -> None:
        if kind == "sync":
            alice.load(sync_store)
        else:
            asyncio.run(astore.get(alice.request(), "app"))

    private_server.pause()
    try:
        error = bounded(load_alice)
    finally:
        private_server.resume()
    assert isinstance(error, StoreError) and "Timeout" in str(error), repr(error)
    assert bob.load(sync_store).values == {"user": "bob"}
    assert alice.load(sync_store).values == {"user": "alice"}
    assert asyncio.run(astore.get(bob.request(), "app")).values == {"user": "bob"}


def test_an_unreachable_server_gives_store_error_within_the_bound() -> None:
    """Connects that never complete (a full accept queue, as behind a partition): StoreError
    after (retries + 1) x connect_timeout (S-10.10)."""
    browser = Browser()
    browser.visit(MemoryStore(HASH, BLOCK), user="alice")  # only for a well-signed cookie
    with unreachable_port() as port:
        store = _tracked(
            MemcachedStore(
                HASH, BLOCK, servers=[f"127.0.0.1:{port}"], timeout=0.5, connect_timeout=0.5
            )
        )
        error = bounded(lambda: store.get(browser.request(), "app"))
    assert isinstance(error, StoreError) and "timed out" in str(error), repr(error)


def test_async_store_outage_is_store_error_too(private_server: MemcachedServer) -> None:
    store = AsyncMemcachedStore(HASH, BLOCK, servers=[private_server.address], retries=0)
    _opened.append(store)
    browser = Browser()

    async def visit() -> None:
        request, response = SimpleRequest(), RecordingResponse()
        session = await store.get(request, "app")
        session.values["user"] = "alice"
        await session.asave(request, response)
        browser.receive(response)

    asyncio.run(visit())
    private_server.stop()
    with pytest.raises(StoreError, match="memcached: cannot read a session"):
        asyncio.run(store.get(browser.request(), "app"))
    private_server.start()
    loaded = asyncio.run(store.get(browser.request(), "app"))
    assert isinstance(loaded.load_error, SessionNotFoundError)


# -- eviction ----------------------------------------------------------------------------


def test_eviction_is_a_fresh_session_with_session_not_found(tmp_path: Path) -> None:
    """A full memcached evicts the least recently used items: that session's next request
    gets a fresh session whose load_error is SessionNotFoundError (logged out, not a crash),
    and a request that held it gets SessionInterruptedError on save, never a recreated
    record."""
    # A flat LRU (no hot/warm/cold segments, no background mover): the oldest item goes first.
    server = MemcachedServer(tmp_path / "small", "-o", "no_lru_maintainer", memory_mb=2).start()
    try:
        store = _fast_store(server, retries=1)
        browser = Browser()
        browser.visit(store, user="alice")
        request, response = browser.request(), RecordingResponse()
        held = store.get(request, "app")
        raw = _raw(server)
        key = store.key_for(held.id)
        # Memcached evicts within a slab class: fill with items of the session's own size.
        filler = b"y" * len(raw.get(key))
        for n in range(20_000):  # about 8 MB of same-sized items through a 2 MB cache
            raw.set(f"filler-{n:0{len(key) - 7}d}", filler)
        assert int(raw.stats()[b"evictions"]) > 0
        loaded = browser.load(store)
        assert isinstance(loaded.load_error, SessionNotFoundError)
        assert loaded.is_new and loaded.values == {}
        held.values["user"] = "mallory"
        with pytest.raises(SessionInterruptedError):
            held.save(request, response)
        assert response.set_cookie_headers() == []
    finally:
        server.stop()


# -- several servers ---------------------------------------------------------------------


def test_several_servers_spread_keys_and_a_down_server_is_store_error_not_a_miss(
    tmp_path: Path,
) -> None:
    """Rendezvous hashing over a fixed list: sessions spread over both servers; when one
    stops, its sessions are StoreError (never rehashed to the other as a miss, which would
    log them out and bring stale items back on its return), the other's still load."""
    one = MemcachedServer(tmp_path / "one").start()
    two = MemcachedServer(tmp_path / "two").start()
    try:
        store = _fast_store(one, two)
        browsers = [Browser() for _ in range(16)]
        ids = [b.visit(store, n=n).id for n, b in enumerate(browsers)]
        on_one = {i for i in ids if _raw(one).get(store.key_for(i)) is not None}
        on_two = {i for i in ids if _raw(two).get(store.key_for(i)) is not None}
        assert on_one and on_two and on_one | on_two == set(ids) and not on_one & on_two
        two.stop()
        for n, (browser, sid) in enumerate(zip(browsers, ids, strict=True)):
            if sid in on_one:
                assert browser.load(store).values == {"n": n}
            else:
                with pytest.raises(StoreError):
                    browser.load(store)
        with pytest.raises(StoreError, match=f"ping {two.address}"):
            store.ping()
        two.start()
        lost = [b for b, sid in zip(browsers, ids, strict=True) if sid in on_two]
        assert all(isinstance(b.load(store).load_error, SessionNotFoundError) for b in lost)
    finally:
        one.stop()
        two.stop()


def test_conformance_factory_uses_env_servers_and_a_prefix_per_store(
    memcached_server: MemcachedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONSPEC_MEMCACHED_SERVERS", memcached_server.address)
    one, two = testing.memcached(ManualClock()), testing.memcached(ManualClock())
    _opened.extend([one._memcached.clients[memcached_server.address], two])
    assert isinstance(one, MemcachedStore) and isinstance(two, MemcachedStore)
    assert one.servers == [memcached_server.address]
    assert one.prefix != two.prefix
    assert one._memcached.clients is two._memcached.clients  # one pool per server list
    browser = Browser()
    session = browser.visit(one, user="alice")
    assert browser.load(two).is_new
    assert 3590 <= _ttl(memcached_server, one.key_for(session.id)) <= 3600  # leaves no litter
    testing.memcached.break_backend(two)
    with pytest.raises(StoreError):
        Browser().visit(two, user="bob")
    assert browser.load(one).values == {"user": "alice"}  # breaking one store spares the others
